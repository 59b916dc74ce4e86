"""`pqgate analyze --report en50160|ieee519` on recordings with known
violations, written here by the independent COMTRADE writer.

Each recording is built from segments of a periodic signal: one cycle is
computed per segment and channel and repeated, so 30 minutes at 3.2 kHz
take a few seconds of pure Python.  A segment starts and ends on a whole
cycle, so the waveform stays continuous when the frequency changes, and a
dip or swell is a rectangular step in amplitude.

Recordings (each starts at 2026-01-01 00:00:00 UTC):
  violations  30 min: h5 = 7.5 % (EN 50160 limit 6 %), phase C 6 degrees
              off (u2 = 3.5 %, limit 2 %), 60 s at 51.6 Hz (outside
              49.5-50.5 Hz for more than 0.5 % of the 10-s values), and
              three events in the second 10-min slot: a dip to 60 % for
              0.3 s, a swell to 125 % for 0.1 s, a dip of phase A to 85 %
              for 0.8 s.  EN 50160 fails exactly frequency, unbalance, h5.
  clean       25 min of a balanced sine: EN 50160 passes.
  ieee        25 min, current h5 = 7.5 % of IL; with Isc/IL = 30 the
              Table 2 limit is 7 % (TDD 8 %): IEEE 519 fails i_h5 only.
  undervolt   30 min with the voltage 12 % low for all but 10 s of the
              second 10-min slot: a dip (IEC 61000-4-30: below 90 %), so
              that slot is flagged and excluded, and the report says a
              flagged value lay outside the band.
"""

import cmath
import json
import math
import os
import re
import shutil
import struct
import subprocess
import zlib

import pytest

import comtrade_writer as cw
from conftest import SAN

FS = 3200.0
SPC_50 = 64  # samples per cycle at 50 Hz
SPC_HIGH = 62  # 51.613 Hz
U, I, LAG = 230.0, 100.0, 30.0
CHROMIUM = "/usr/bin/chromium"


class Recording:
    """Six channels (UA UB UC IA IB IC) grown segment by segment."""

    def __init__(self):
        self.ch = [[] for _ in range(6)]

    def add(self, seconds, spc=SPC_50, u=(U, U, U), u_deg=(0.0, -120.0, 120.0), u_h=(),
            i=(I, I, I), i_h=()):
        """seconds of a periodic signal, spc samples per cycle (rounded to
        whole cycles); u_h, i_h: (order, fraction of the fundamental)."""
        ncyc = int(round(seconds * FS / spc))
        for ph in range(3):
            for k, (amp, deg, harm) in enumerate(((u[ph], u_deg[ph], u_h),
                                                  (i[ph], u_deg[ph] - LAG, i_h))):
                cyc = []
                for n in range(spc):
                    a = 2 * math.pi * n / spc + math.radians(deg)
                    v = math.cos(a)
                    for order, frac in harm:
                        v += frac * math.cos(order * a)
                    cyc.append(amp * math.sqrt(2) * v)
                self.ch[3 * k + ph].extend(cyc * ncyc)
        return self

    def write(self, stem, station="TEST"):
        chans = [cw.Channel("U" + p, p, "V", self.ch[k]) for k, p in enumerate("ABC")]
        chans += [cw.Channel("I" + p, p, "A", self.ch[3 + k]) for k, p in enumerate("ABC")]
        return cw.write(stem, chans, FS, "FLOAT32", station=station)


def report(cli, path, *opts):
    """`pqgate analyze path opts...`: (rc, stdout, stderr); cli is conftest's
    run_cli, which fails the test on a sanitizer report."""
    return cli("analyze", path, *opts, timeout=300 if SAN else 120)


def json_report(cli, path, *opts):
    rc, out, err = report(cli, path, *opts)
    assert rc == 0, err
    return json.loads(out)


def nema_pct(deg, harmonics):
    """NEMA MG-1 unbalance of the L-L RMS voltages (harmonics included, as a
    voltmeter reads them) of phases at deg with harmonics (order, fraction)."""
    mag = [0.0, 0.0, 0.0]
    for order, frac in ((1, 1.0),) + tuple(harmonics):
        ph = [frac * cmath.exp(1j * math.radians(order * d)) for d in deg]
        for k in range(3):
            mag[k] += abs(ph[k] - ph[(k + 1) % 3]) ** 2
    mag = [math.sqrt(m) for m in mag]
    avg = sum(mag) / 3
    return 100 * max(abs(m - avg) for m in mag) / avg


def params(rep, name):
    return [p for p in rep["parameters"] if p["parameter"] == name]


# ---- recordings (module scope: each is written once) --------------------------------


@pytest.fixture(scope="module")
def violations(tmp_path_factory):
    h5 = ((5, 0.075),)
    unb = (0.0, -120.0, 126.0)
    r = Recording()
    r.add(600, u_h=h5, u_deg=unb)                            # 00:00 slot 1
    r.add(120, u_h=h5, u_deg=unb)                            # 00:10 slot 2, events
    r.add(0.3, u=(0.6 * U,) * 3, u_h=h5, u_deg=unb)          # dip 60 %, 0.3 s
    r.add(60, u_h=h5, u_deg=unb)
    r.add(0.1, u=(1.25 * U,) * 3, u_h=h5, u_deg=unb)         # swell 125 %, 0.1 s
    r.add(60, u_h=h5, u_deg=unb)
    r.add(0.8, u=(0.85 * U, U, U), u_h=h5, u_deg=unb)        # dip of A, 85 %, 0.8 s
    r.add(600 - 240 - 1.2, u_h=h5, u_deg=unb)
    r.add(300, u_h=h5, u_deg=unb)                            # 00:20 slot 3
    r.add(60, spc=SPC_HIGH, u_h=h5, u_deg=unb)               # 51.6 Hz for 60 s
    r.add(240, u_h=h5, u_deg=unb)
    d = tmp_path_factory.mktemp("violations")
    return r.write(d / "rec", station="Sub<1> & Co")


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    d = tmp_path_factory.mktemp("clean")
    return Recording().add(25 * 60).write(d / "rec")


@pytest.fixture(scope="module")
def ieee(tmp_path_factory):
    d = tmp_path_factory.mktemp("ieee")
    rec = Recording().add(25 * 60, u_h=((5, 0.02),), i_h=((5, 0.075),))
    return rec.write(d / "rec")


@pytest.fixture(scope="module")
def undervolt(tmp_path_factory):
    d = tmp_path_factory.mktemp("undervolt")
    r = Recording().add(605).add(590, u=(0.88 * U,) * 3).add(605)
    return r.write(d / "rec")


# ---- EN 50160 ---------------------------------------------------------------------


def test_report_en50160_fails_exactly_the_violated_parameters(pqgate_cli, violations):
    rep = json_report(pqgate_cli, violations, "--report", "en50160")
    assert rep["standard"] == "EN 50160:2010"
    assert rep["verdict"] == "fail"
    assert rep["failed"] == ["frequency", "unbalance", "h5"]
    assert rep["station"] == "Sub<1> & Co"
    period = rep["period"]
    assert period["start"] == "2026-01-01T00:00:00.000Z"
    assert abs(period["duration_s"] - 1800) < 1
    assert period["shorter_than_standard"] is True
    obs = params(rep, "observation")[0]
    assert obs["n_10min"] == 3 and obs["n_10min_flagged"] == 1  # the events' slot

    freq = params(rep, "frequency")[0]
    assert freq["verdict"] == "fail" and freq["decided_by"] == "share"
    assert abs(freq["max"] - FS / SPC_HIGH) < 0.01
    assert freq["n_out"] >= 5 and freq["n_out100"] == 0  # 51.6 Hz < 52 Hz
    unb = params(rep, "unbalance")[0]
    assert unb["verdict"] == "fail" and abs(unb["max"] - 3.49) < 0.05
    for v in params(rep, "voltage"):
        assert v["verdict"] == "pass" and v["n_valid"] == 2 and v["n_invalid"] == 1
    for t in params(rep, "thd"):
        assert t["verdict"] == "pass" and abs(t["p95"] - 7.5) < 0.05
    for h in params(rep, "harmonic"):
        if h["order"] == 5:
            assert h["verdict"] == "fail" and h["pct_out"] == 100.0
            assert abs(h["p95"] - 7.5) < 0.05
        else:
            assert h["verdict"] == "pass", h
    # flicker needs a whole 2-h interval; mains signalling is not measured
    assert {p["verdict"] for p in params(rep, "flicker")} == {"not-evaluated"}
    assert {p["verdict"] for p in params(rep, "msv")} == {"not-evaluated"}
    assert rep["options"]["flicker_evaluated"] is False

    nema = rep["unbalance_nema"]
    want = nema_pct((0.0, -120.0, 126.0), ((5, 0.075),))
    assert abs(nema["max_pct"] - want) < 0.01, want  # 2.976 %
    # NEMA MG-1 table: 2.5 % -> 0.93, 3 % -> 0.89, linear between
    assert abs(nema["derating"] - (0.93 - 0.04 * (want - 2.5) / 0.5)) < 1e-3


def test_report_en50160_lists_events_with_itic_semi_and_cells(pqgate_cli, violations):
    rep = json_report(pqgate_cli, violations, "--report", "en50160")
    ev = rep["events"]
    got = [(e["kind"], e["itic"], e["semi_f47"], e["en50160"]) for e in ev["list"]
           if e["kind"] != "rvc"]
    assert got == [("dip", "no-damage", "fail", "C2"),
                   ("swell", "prohibited", "n/a", "S1"),
                   ("dip", "no-interruption", "pass", "A3")]
    dips = [e for e in ev["list"] if e["kind"] == "dip"]
    assert abs(dips[0]["residual_pct"] - 60) < 0.5 and abs(dips[0]["duration_s"] - 0.31) < 0.02
    assert dips[1]["phases"] == ["A"]
    assert ev["en50160"]["dips"]["C2"] == 1 and ev["en50160"]["dips"]["A3"] == 1
    assert ev["en50160"]["swells"]["S1"] == 1


def test_report_en50160_clean_recording_passes(pqgate_cli, clean):
    rep = json_report(pqgate_cli, clean, "--report", "en50160")
    assert rep["verdict"] == "pass" and rep["failed"] == []
    assert rep["events"]["n"] == 0
    for p in rep["parameters"][1:]:
        assert p["verdict"] in ("pass", "not-evaluated"), p
    assert params(rep, "voltage")[0]["n_valid"] == 2  # 00:00 and 00:10; 00:20 partial
    assert params(rep, "voltage")[0]["n_invalid"] == 1
    assert rep["unbalance_nema"]["derating"] == 1


def test_report_en50160_long_undervoltage_is_a_dip_whose_values_are_excluded(
        pqgate_cli, undervolt):
    # 88 % of Un is below the dip threshold: IEC 61000-4-30 4.7 flags the
    # 10-min value and EN 50160 leaves it out; the report says so.
    rep = json_report(pqgate_cli, undervolt, "--report", "en50160")
    assert rep["failed"] == []
    obs = params(rep, "observation")[0]
    assert obs["n_10min_flagged"] == 1 and obs["n_10min_flagged_voltage_outside"] == 1
    for v in params(rep, "voltage"):
        assert v["verdict"] == "pass" and v["n_valid"] == 2 and v["n_invalid"] == 1
    [dip] = rep["events"]["list"]
    assert dip["kind"] == "dip" and abs(dip["residual_pct"] - 88) < 0.2
    assert abs(dip["duration_s"] - 590) < 0.1
    assert dip["itic"] == "no-damage" and dip["en50160"] == ""
    assert rep["events"]["en50160"]["dips_unclassified"] == 1  # longer than 60 s


# ---- IEEE 519 ----------------------------------------------------------------------


def test_report_ieee519_fails_the_current_harmonic_above_table_2_only(pqgate_cli, ieee):
    rep = json_report(pqgate_cli, ieee, "--report", "ieee519", "--isc", "3kA",
                      "--il", "100")
    assert rep["standard"] == "IEEE 519-2022"
    assert rep["verdict"] == "fail" and rep["failed"] == ["i_h5"]
    assert rep["voltage_verdict"] == "pass" and rep["current_verdict"] == "fail"
    lim = rep["limits"]
    assert lim["current_table"] == 2 and abs(lim["isc_il"] - 30) < 1e-9
    assert lim["i_h_pct"][5 - 2] == 7.0 and lim["i_tdd_pct"] == 8.0
    assert lim["i_h_pct"][2 - 2] == 3.5  # 2022: even h <= 6 at 50 %
    assert rep["options"]["bus_v"] == 400
    for c in params(rep, "i_h"):
        if c["order"] == 5:
            assert c["verdict"] == "fail"
            assert c["week95"]["verdict"] == "fail"
            assert abs(c["week95"]["value"] - 7.5) < 0.05 and c["week95"]["n"] == 2
            assert c["day99"]["verdict"] == "pass"  # 7.5 <= 2.0 x 7
        else:
            assert c["verdict"] == "pass", c
    for c in params(rep, "i_tdd"):
        assert c["verdict"] == "pass" and abs(c["week95"]["value"] - 7.5) < 0.05
    for c in params(rep, "u_h") + params(rep, "u_thd"):
        assert c["verdict"] == "pass", c


def test_report_ieee519_edition_2014_and_max_demand_current(pqgate_cli, ieee):
    rep = json_report(pqgate_cli, ieee, "--report", "ieee519", "--isc", "3000",
                      "--max-demand-current", "100", "--edition", "2014")
    assert rep["standard"] == "IEEE 519-2014" and rep["failed"] == ["i_h5"]
    assert rep["limits"]["i_h_pct"][2 - 2] == 1.75  # 2014: even at 25 %


def test_report_ieee519_without_il_evaluates_the_voltage_only(pqgate_cli, ieee):
    rep = json_report(pqgate_cli, ieee, "--report", "ieee519")
    assert rep["verdict"] == "pass" and rep["current_verdict"] == "not-evaluated"
    assert rep["options"]["currents_evaluated"] is False


# ---- usage -----------------------------------------------------------------------------


@pytest.mark.parametrize("opts,msg", [
    (("--report", "en5016"), "--report: expected en50160 or ieee519"),
    (("--format", "html"), "need --report"),
    (("--report", "en50160", "--format", "pdf"), "--format: expected json or html"),
    (("--report", "en50160", "--isc", "3000"), "apply to --report ieee519"),
    (("--report", "ieee519", "--mv"), "apply to --report en50160"),
    (("--report", "ieee519", "--il", "100"), "need --isc"),
    (("--report", "ieee519", "--edition", "2019"), "--edition: expected 2014 or 2022"),
    (("--report", "en50160", "--aggregations", "3s"), "not with --report"),
])
def test_report_usage_errors_exit_2_with_a_message(pqgate_cli, tmp_path, opts, msg):
    rc, out, err = report(pqgate_cli, tmp_path / "none.cfg", *opts)
    assert rc == 2 and out == ""
    assert msg in err, err


# ---- HTML --------------------------------------------------------------------------------


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 0xFF
        elif ftype == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif ftype == 3:
            for x in range(stride):
                left = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + ((left + prev[x]) >> 1)) & 0xFF
        elif ftype == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def test_report_html_is_self_contained_and_escaped(pqgate_cli, violations, tmp_path):
    rc, html, err = report(pqgate_cli, violations, "--report", "en50160", "--format", "html")
    assert rc == 0, err
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    low = html.lower()
    for banned in ("<script", "http:", "https:", "url(", "@import", "<link", "<img",
                   "@font-face"):
        assert banned not in low, banned
    assert "Sub&lt;1&gt; &amp; Co" in html and "Sub<1>" not in html
    assert html.count("<svg") == 4  # voltage band, harmonic bars, ITIC, NEMA
    verdicts = dict(re.findall(r'<tr><td><b>([^<]+)</b>.*?class="v (\w+)"', html))
    assert verdicts == {"Power frequency": "fail", "Supply voltage": "pass",
                        "Flicker Plt": "ne", "Unbalance u2": "fail",
                        "THD (h2–h40)": "pass", "Harmonics h2–h25": "fail",
                        "Mains signalling": "ne"}
    assert '<div class="badge fail">FAIL' in html
    assert "Short observation period" in html


def test_report_html_renders_in_headless_chromium(pqgate_cli, violations, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to render the "
                    "report")
    rc, html, err = report(pqgate_cli, violations, "--report", "en50160", "--format", "html")
    assert rc == 0, err
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    png = tmp_path / "report.png"
    profile = tmp_path / "chromium-profile"
    p = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", f"--user-data-dir={profile}",
                        f"--screenshot={png}", "--window-size=1200,1600",
                        page.as_uri()],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    shutil.rmtree(profile, ignore_errors=True)
    assert png.is_file(), p.stderr
    assert png.stat().st_size > 50_000, "a blank page compresses to a few kB"
    w, h, bpp, rows = png_pixels(png)
    assert (w, h) == (1200, 1600)
    px = [(row[x], row[x + 1], row[x + 2]) for row in rows[::4]
          for x in range(0, w * bpp, 4 * bpp)]
    white = sum(1 for c in px if min(c) >= 245)
    red = sum(1 for r, g, b in px if r > 180 and g < 80 and b < 80)  # FAIL, bars
    green = sum(1 for r, g, b in px if g > 100 and r < 80 and b < 100)  # PASS
    assert white < 0.97 * len(px), "the page is blank"
    assert red > 50 and green > 50, (red, green)
