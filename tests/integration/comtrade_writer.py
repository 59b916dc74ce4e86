"""A small, independent COMTRADE writer for the tests (IEEE C37.111-1999 and
-2013): .cfg + .dat in ASCII, BINARY, BINARY32 and FLOAT32, or one .cff.

It shares no code with pqgate, so a file it writes is one pqgate has never
seen: the analyze tests run the product on these and check the numbers
against the analytic signal.
"""

import math
import struct


class Channel:
    def __init__(self, name, ph, unit, values):
        self.name, self.ph, self.unit, self.values = name, ph, unit, values


def three_phase(fs, seconds, f=50.0, u=230.0, i=100.0, lag_deg=30.0,
                u_h=(), i_h=(), unit_u="V", unit_i="A", scale_u=1.0):
    """Channels UA UB UC IA IB IC of a balanced system.  u_h/i_h: tuples of
    (order, rms) harmonics, in phase with the fundamental at t = 0."""
    n = int(round(fs * seconds))
    chans = []
    for kind, rms, harm, unit, lag in (("U", u, u_h, unit_u, 0.0),
                                       ("I", i, i_h, unit_i, lag_deg)):
        for ph, name in enumerate("ABC"):
            vals = []
            for k in range(n):
                t = k / fs
                a = 2 * math.pi * f * t - ph * 2 * math.pi / 3 - math.radians(lag)
                v = rms * math.sqrt(2) * math.cos(a)
                for order, hr in harm:
                    v += hr * math.sqrt(2) * math.cos(order * a)
                vals.append(v * (scale_u if kind == "U" else 1.0))
            chans.append(Channel(kind + name, name, unit, vals))
    return chans


def _scaling(values, fmt):
    """(a, b) so that raw = (v - b) / a fits the format."""
    peak = max(1e-9, max(abs(v) for v in values))
    if fmt == "BINARY":
        return peak / 32000.0, 0.0
    if fmt == "BINARY32":
        return peak / 2.0e9, 0.0
    if fmt == "ASCII":
        return peak / 2.0e6, 0.0  # integers of up to 7 digits
    return 1.0, 0.0  # FLOAT32 stores the values


def build(chans, fs, fmt="BINARY", rev=2013, start=(1, 1, 2026, 0, 0, 0.0),
          lf=50.0, station="TEST"):
    """Return (cfg_text, dat_bytes)."""
    n = len(chans[0].values)
    scal = [_scaling(c.values, fmt) for c in chans]
    d, mo, y, hh, mm, ss = start
    stamp = "%02d/%02d/%04d,%02d:%02d:%09.6f" % (d, mo, y, hh, mm, ss)
    lines = ["%s,REC1,%d" % (station, rev), "%d,%dA,0D" % (len(chans), len(chans))]
    for k, (c, (a, b)) in enumerate(zip(chans, scal), 1):
        lo, hi = (-32767, 32767) if fmt == "BINARY" else (-2147483647, 2147483647)
        lines.append("%d,%s,%s,,%s,%.12g,%.12g,0,%d,%d,1,1,P"
                     % (k, c.name, c.ph, c.unit, a, b, lo, hi))
    lines += ["%g" % lf, "1", "%g,%d" % (fs, n), stamp, stamp, fmt, "1"]
    if rev == 2013:
        lines += ["0,0", "0,0"]
    cfg = "\r\n".join(lines) + "\r\n"
    step_us = 1e6 / fs
    if fmt == "ASCII":
        rows = []
        for k in range(n):
            raw = [int(round((c.values[k] - b) / a)) for c, (a, b) in zip(chans, scal)]
            rows.append("%d,%d,%s" % (k + 1, int(round(k * step_us)),
                                      ",".join(str(r) for r in raw)))
        return cfg, ("\r\n".join(rows) + "\r\n").encode()
    code = {"BINARY": "h", "BINARY32": "i", "FLOAT32": "f"}[fmt]
    rec = struct.Struct("<II" + code * len(chans))
    out = bytearray()
    for k in range(n):
        if fmt == "FLOAT32":
            raw = [c.values[k] for c in chans]
        else:
            raw = [int(round((c.values[k] - b) / a)) for c, (a, b) in zip(chans, scal)]
        out += rec.pack(k + 1, int(round(k * step_us)) & 0xFFFFFFFF, *raw)
    return cfg, bytes(out)


def write(path_stem, chans, fs, fmt="BINARY", rev=2013, single_file=False, **kw):
    """Write path_stem.cfg/.dat, or path_stem.cff; return the path to pass."""
    cfg, dat = build(chans, fs, fmt, rev, **kw)
    if not single_file:
        with open(str(path_stem) + ".cfg", "w", newline="") as f:
            f.write(cfg)
        with open(str(path_stem) + ".dat", "wb") as f:
            f.write(dat)
        return str(path_stem) + ".cfg"
    parts = [b"--- file type: CFG ---\r\n", cfg.encode()]
    if fmt == "ASCII":
        parts += [b"--- file type: DAT ASCII ---\r\n", dat]
    else:
        parts += [("--- file type: DAT BINARY: %d ---\r\n" % len(dat)).encode(), dat]
    with open(str(path_stem) + ".cff", "wb") as f:
        f.write(b"".join(parts))
    return str(path_stem) + ".cff"
