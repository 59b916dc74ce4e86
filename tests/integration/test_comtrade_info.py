"""`pqgate comtrade-info FILE`: a human summary of any COMTRADE recording.

Run on recordings pqgate has never seen: ones written here by the
independent writer (comtrade_writer.py) in every format, and the shared
public samples (../shared/data/comtrade/), whose expected figures are
computed here from the files themselves, not taken from pqgate.
"""

import math
import shutil
import subprocess

import pytest

import comtrade_writer as cw

FS = 6400.0
SECONDS = 0.2  # 10 cycles at 50 Hz: RMS over whole cycles
U, I = 230.0, 100.0


def info(pqgate_bin, *args):
    p = subprocess.run([str(pqgate_bin), "comtrade-info", *map(str, args)],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def fields(out):
    """The 'key: value' lines of the header, by key."""
    got = {}
    for line in out.splitlines():
        if line and not line.startswith(" ") and ":" in line:
            key, _, value = line.partition(":")
            got[key.strip()] = value.strip()
        if line.startswith("analog channels") or line.startswith("status channels"):
            break
    return got


def table(out, title):
    """Rows of a channel table, split on blanks, keyed by channel id."""
    rows, inside = {}, False
    for line in out.splitlines():
        if line.startswith(title):
            inside = True
            continue
        if inside and not line.strip():
            break
        if inside and not line.strip().startswith("#"):
            f = line.split()
            rows[f[1]] = f
    return rows


def analog_row(row):
    """(primary, secondary, ps, min, max, rms, missing) of an analog row."""
    return (float(row[-7]), float(row[-6]), row[-5], float(row[-4]), float(row[-3]),
            float(row[-2]), int(row[-1]))


@pytest.mark.parametrize("fmt,single", [("ASCII", False), ("BINARY", False),
                                        ("BINARY32", False), ("FLOAT32", False),
                                        ("BINARY", True)])
def test_comtrade_info_summarises_a_recording_of_the_independent_writer(
        pqgate_bin, tmp_path, fmt, single):
    chans = cw.three_phase(FS, SECONDS, u=U, i=I, lag_deg=30.0)
    path = cw.write(tmp_path / "cap", chans, FS, fmt, single_file=single,
                    start=(4, 3, 2026, 5, 6, 7.25))
    rc, out, err = info(pqgate_bin, path)
    assert rc == 0, err
    h = fields(out)
    assert h["recording"] == str(path)
    assert h["station"] == "TEST"
    assert h["device"] == "REC1"
    assert h["revision"] == "C37.111-2013"
    assert h["format"] == fmt
    assert h["start"].startswith("2026-03-04T05:06:07.250000Z")
    assert "(local 2026-03-04T05:06:07.250000+00:00)" in h["start"]
    assert h["time quality"].startswith("0 (clock locked")
    assert h["leap second"].startswith("0 ")
    assert h["line frequency"] == "50 Hz"
    assert h["samples"] == "1280 over 0.2 s"
    assert h["channels"] == "6 analog, 0 status"
    assert "6400 Hz, samples 1..1280" in out
    rows = table(out, "analog channels")
    assert sorted(rows) == ["IA", "IB", "IC", "UA", "UB", "UC"]
    for c in chans:
        row = rows[c.name]
        assert row[2] == c.ph and row[3] == c.unit
        pri, sec, ps, lo, hi, rms, missing = analog_row(row)
        want_rms = math.sqrt(sum(v * v for v in c.values) / len(c.values))
        assert (pri, sec, ps, missing) == (1.0, 1.0, "P", 0)
        peak = U if c.name[0] == "U" else I
        tol = 2e-4 * peak  # BINARY: 16 bits of the peak
        assert abs(rms - want_rms) <= tol, (c.name, rms, want_rms)
        assert abs(rms - peak) <= 1e-3 * peak
        assert abs(lo - min(c.values)) <= tol and abs(hi - max(c.values)) <= tol


def _read_samples_cfg(path):
    """Enough of a sample .cfg for the expected figures: analog scalings,
    status count, and the data format (independent of pqgate)."""
    text = path.read_bytes().decode("latin-1").replace("\x1a", "")
    lines = [ln.strip() for ln in text.splitlines()]
    tt, na, nd = lines[1].split(",")
    na, nd = int(na.strip()[:-1]), int(nd.strip()[:-1])
    analog = []
    for ln in lines[2:2 + na]:
        f = [x.strip() for x in ln.split(",")]
        a, b = float(f[5]), float(f[6])
        gain = 1.0
        if len(f) >= 13 and f[12].upper() == "S":
            gain = float(f[10]) / float(f[11])
        analog.append((f[1], a, b, gain))
    return analog, nd


def _ascii_values(dat_path, analog, nd):
    """Per analog channel its primary values (None if missing), per status
    channel its states, from an ASCII .dat."""
    vals = [[] for _ in analog]
    states = [[] for _ in range(nd)]
    for line in dat_path.read_text().splitlines():
        if not line.strip():
            continue
        f = [x.strip() for x in line.split(",")]
        for k, (_, a, b, gain) in enumerate(analog):
            raw = f[2 + k]
            vals[k].append(None if raw in ("", "99999") else (a * float(raw) + b) * gain)
        for k in range(nd):
            states[k].append(int(f[2 + len(analog) + k] or 0))
    return vals, states


@pytest.mark.parametrize("cfg,dat", [("sample_ascii.cfg", "sample_ascii.dat"),
                                     ("sample_ascii_utf-8.cfg", "sample_ascii.dat"),
                                     ("sample_sub_char.cfg", "sample_ascii.dat"),
                                     ("sample_ascii.cfg", "sample_ascii_missing.dat")])
def test_comtrade_info_figures_of_the_shared_ascii_samples(pqgate_bin, shared_data,
                                                           tmp_path, cfg, dat):
    src = shared_data / "comtrade"
    shutil.copy(src / cfg, tmp_path / "rec.cfg")
    shutil.copy(src / dat, tmp_path / "rec.dat")
    analog, nd = _read_samples_cfg(tmp_path / "rec.cfg")
    vals, states = _ascii_values(tmp_path / "rec.dat", analog, nd)
    rc, out, err = info(pqgate_bin, tmp_path / "rec.cfg")
    assert rc == 0, err
    h = fields(out)
    assert h["revision"] == "C37.111-2013"
    assert h["format"] == "ASCII"
    assert h["channels"] == "%d analog, %d status" % (len(analog), nd)
    assert h["samples"].startswith("%d over" % len(vals[0]))
    assert h["time quality"].startswith("B ")
    assert "-05:30)" in h["start"]  # local_code -5h30
    rows = table(out, "analog channels")
    for (name, _, _, _), v in zip(analog, vals):
        present = [x for x in v if x is not None]
        _, _, _, lo, hi, rms, missing = analog_row(rows[name])
        want = math.sqrt(sum(x * x for x in present) / len(present))
        assert missing == len(v) - len(present)
        assert abs(rms - want) <= 1e-6 * abs(want) + 1e-9, (name, rms, want)
        assert abs(lo - min(present)) <= 1e-6 * abs(min(present)) + 1e-9
        assert abs(hi - max(present)) <= 1e-6 * abs(max(present)) + 1e-9
    if dat.endswith("missing.dat"):
        assert sum(analog_row(r)[-1] for r in rows.values()) > 0
    srows = table(out, "status channels")
    assert len(srows) == nd
    for row, st in zip(sorted(srows.values(), key=lambda r: int(r[0])), states):
        changes = sum(1 for x, y in zip(st, st[1:]) if x != y)
        assert [int(row[-3]), int(row[-2]), int(row[-1])] == [st[0], st[-1], changes]


@pytest.mark.parametrize("name,station,rev,fmt,counts,samples", [
    ("sample_bin.cfg", "station", "1999", "BINARY", "4 analog, 16 status", 5),
    ("sample_ascii.cff", "SMARTSTATION", "2013", "ASCII", "4 analog, 4 status", 40),
    ("sample_float32.cff", "EXAMPLE", "2013", "FLOAT32", "1 analog, 1 status", 301),
    ("sample_iso8859-1.cfg", None, None, "ASCII", None, None),
    ("sample_iso8859-1_bin.cfg", None, None, "BINARY", None, None),
])
def test_comtrade_info_reads_the_other_shared_samples(pqgate_bin, shared_data, name,
                                                      station, rev, fmt, counts, samples):
    rc, out, err = info(pqgate_bin, shared_data / "comtrade" / name)
    assert rc == 0, err
    h = fields(out)
    assert h["format"] == fmt
    if station is not None:
        assert h["station"] == station
        assert h["revision"] == "C37.111-" + rev
        assert h["channels"] == counts
        assert h["samples"].startswith("%d over" % samples)
    if rev == "1999":
        assert h["time quality"] == "not stated"
        assert "(local" not in h["start"]


def test_comtrade_info_bin_missing_sample_counts_missing_values(pqgate_bin, shared_data,
                                                               tmp_path):
    src = shared_data / "comtrade"
    shutil.copy(src / "sample_bin.cfg", tmp_path / "m.cfg")
    shutil.copy(src / "sample_bin_missing.dat", tmp_path / "m.dat")
    rc, out, err = info(pqgate_bin, tmp_path / "m.cfg")
    assert rc == 0, err
    rows = table(out, "analog channels")
    assert sum(analog_row(r)[-1] for r in rows.values()) > 0


def test_comtrade_info_errors_exit_1_with_the_readers_message(pqgate_bin, tmp_path):
    rc, out, err = info(pqgate_bin, tmp_path / "none.cfg")
    assert rc == 1 and out == ""
    assert "none.cfg" in err
    (tmp_path / "bad.cfg").write_bytes(b"S,D,2013\r\n1,1A,0D\r\n"
                                       b"1,U,,,V,zz,0,0,0,0,1,1,P\r\n")
    (tmp_path / "bad.dat").write_bytes(b"")
    rc, out, err = info(pqgate_bin, tmp_path / "bad.cfg")
    assert rc == 1 and out == ""
    assert "bad.cfg:3: analog channel 1, field 'a'" in err
    chans = cw.three_phase(FS, 0.02)
    path = cw.write(tmp_path / "short", chans, FS, "BINARY")
    with open(tmp_path / "short.dat", "r+b") as f:
        f.truncate(100)  # not a whole number of records
    rc, out, err = info(pqgate_bin, path)
    assert rc == 1 and "short.dat" in err and "byte offset" in err


def test_comtrade_info_usage_errors_exit_2(pqgate_bin):
    rc, out, err = info(pqgate_bin)
    assert rc == 2 and "Usage: pqgate comtrade-info" in err
    rc, out, err = info(pqgate_bin, "a.cfg", "b.cfg")
    assert rc == 2 and "one file only" in err
    rc, out, err = info(pqgate_bin, "--frobnicate")
    assert rc == 2
    rc, out, err = info(pqgate_bin, "--help")
    assert rc == 0 and out.startswith("Usage: pqgate comtrade-info")
