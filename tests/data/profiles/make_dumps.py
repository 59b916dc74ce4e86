#!/usr/bin/env python3
"""make_dumps.py - write the register dumps of the shipped profiles.

Each <profile>.json holds the registers a device of that profile would
answer with, and the engineering values pqgate must decode from them:

  {"profile": "<name>",
   "registers": {"holding": {"<addr>": <uint16>, ...}, "input": {...},
                 "coils": {"<addr>": 0|1}, "discrete": {...}},
   "expect": {"<channel>": {"value": <number>, "tol": <abs tolerance>}, ...}}

Addresses are 0-based decimal.  The register layouts here are written from
the maps' documents independently of config/profiles/*.yaml, so the unit
test (tests/unit/test_mb_profile.c) checks the profiles against them, and
the Modbus simulators of the integration tests serve the same dumps.

Run from anywhere: python3 tests/data/profiles/make_dumps.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def f32_words(v):
    """IEEE 754 binary32, high word first (ABCD)."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", v))
    return [hi, lo]


def f32_round(v):
    return struct.unpack(">f", struct.pack(">f", v))[0]


def f32_tol(v):
    # the dump holds v rounded to binary32: the decoded value is exact; a
    # tolerance of 1e-7 relative covers printing v with 17 digits
    return abs(v) * 1e-7 + 1e-9


def u16(v):
    return v & 0xFFFF


def fill_gaps(table, max_gap=16):
    """Zeros in every gap of at most max_gap registers, so a simulator with a
    sparse register table answers every read a plan may make (a plan spans
    gaps of up to the profile's max_gap, 16 in every shipped profile)."""
    addrs = sorted(int(a) for a in table)
    for a, b in zip(addrs, addrs[1:]):
        if b - a - 1 <= max_gap:
            for x in range(a + 1, b):
                table.setdefault(str(x), 0)
    return dict(sorted(table.items(), key=lambda kv: int(kv[0])))


def write(name, regs, expect):
    for t in ("holding", "input"):
        regs[t] = fill_gaps(regs[t])
    doc = {"profile": name, "registers": regs, "expect": expect}
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")


def empty_tables():
    return {"holding": {}, "input": {}, "coils": {}, "discrete": {}}


# ---- generic-float32: docs/profiles.md, 32 float32 values from address 0
GENERIC = [
    ("u_rms/a", 230.4), ("u_rms/b", 229.7), ("u_rms/c", 231.1),
    ("u_ll_rms/ab", 398.9), ("u_ll_rms/bc", 399.6), ("u_ll_rms/ca", 400.2),
    ("i_rms/a", 12.5), ("i_rms/b", 11.75), ("i_rms/c", 13.125), ("i_rms/n", 1.2),
    ("freq", 50.01),
    ("p/a", 2720.5), ("p/b", 2550.25), ("p/c", 2900.0), ("p/total", 8170.75),
    ("q/a", 610.0), ("q/b", -420.5), ("q/c", 700.25), ("q/total", 889.75),
    ("s/a", 2880.0), ("s/b", 2699.0), ("s/c", 3033.0), ("s/total", 8612.0),
    ("pf/a", 0.9446), ("pf/b", -0.9449), ("pf/c", 0.9561), ("pf/total", 0.9488),
    ("energy/kwh_del", 123456.5), ("energy/kwh_rec", 42.25),
    ("energy/kvarh_del", 23456.75), ("energy/kvarh_rec", 1234.5),
    ("energy/kvah", 130000.0),
]


def generic():
    regs = empty_tables()
    expect = {}
    for i, (ch, v) in enumerate(GENERIC):
        w = f32_words(v)
        regs["holding"][str(2 * i)] = w[0]
        regs["holding"][str(2 * i + 1)] = w[1]
        expect[ch] = {"value": f32_round(v), "tol": f32_tol(v)}
    write("generic-float32", regs, expect)


# ---- Eastron SDM630: input registers 3xxxx, float32 ABCD
SDM630 = [
    (30001, "u_rms/a", 231.2), (30003, "u_rms/b", 230.8), (30005, "u_rms/c", 229.9),
    (30007, "i_rms/a", 4.32), (30009, "i_rms/b", 3.98), (30011, "i_rms/c", 5.01),
    (30013, "p/a", 950.3), (30015, "p/b", 870.1), (30017, "p/c", 1100.7),
    (30019, "s/a", 998.8), (30021, "s/b", 918.6), (30023, "s/c", 1151.8),
    (30025, "q/a", 307.4), (30027, "q/b", 294.6), (30029, "q/c", 339.2),
    (30031, "pf/a", 0.9514), (30033, "pf/b", 0.9472), (30035, "pf/c", 0.9556),
    (30043, "u_rms/avg", 230.63), (30047, "i_rms/avg", 4.437), (30049, "i_rms/sum", 13.31),
    (30053, "p/total", 2921.1), (30057, "s/total", 3069.2), (30061, "q/total", 941.2),
    (30063, "pf/total", 0.9518), (30071, "freq", 49.98),
    (30073, "energy/kwh_del", 15234.7), (30075, "energy/kwh_rec", 12.4),
    (30077, "energy/kvarh_del", 3021.9), (30079, "energy/kvarh_rec", 88.2),
    (30081, "energy/kvah", 16100.3),
    (30201, "u_ll_rms/ab", 400.1), (30203, "u_ll_rms/bc", 399.2),
    (30205, "u_ll_rms/ca", 398.8), (30207, "u_ll_rms/avg", 399.37),
    (30225, "i_rms/n", 0.87),
    (30343, "energy/kwh_total", 15247.1), (30345, "energy/kvarh_total", 3110.1),
]


def sdm630():
    regs = empty_tables()
    expect = {}
    for ref, ch, v in SDM630:
        addr = ref - 30001
        w = f32_words(v)
        regs["input"][str(addr)] = w[0]
        regs["input"][str(addr + 1)] = w[1]
        expect[ch] = {"value": f32_round(v), "tol": f32_tol(v)}
    write("eastron-sdm630", regs, expect)


# ---- Carlo Gavazzi EM340: holding from 0, INT32 LSW first, fixed weights
EM340_INT32 = [  # address, channel, raw, weight
    (0x00, "u_rms/a", 2304, 0.1), (0x02, "u_rms/b", 2311, 0.1), (0x04, "u_rms/c", 2297, 0.1),
    (0x06, "u_ll_rms/ab", 3995, 0.1), (0x08, "u_ll_rms/bc", 3990, 0.1),
    (0x0A, "u_ll_rms/ca", 3987, 0.1),
    (0x0C, "i_rms/a", 10250, 0.001), (0x0E, "i_rms/b", 9875, 0.001),
    (0x10, "i_rms/c", 11002, 0.001),
    (0x12, "p/a", 22311, 0.1), (0x14, "p/b", 21504, 0.1), (0x16, "p/c", -1520, 0.1),
    (0x18, "s/a", 23616, 0.1), (0x1A, "s/b", 22821, 0.1), (0x1C, "s/c", 25271, 0.1),
    (0x1E, "q/a", 7702, 0.1), (0x20, "q/b", -7640, 0.1), (0x22, "q/c", 25225, 0.1),
    (0x24, "u_rms/avg", 2304, 0.1), (0x26, "u_ll_rms/avg", 3991, 0.1),
    (0x28, "p/total", 42295, 0.1), (0x2A, "s/total", 71708, 0.1),
    (0x2C, "q/total", 25287, 0.1),
    (0x34, "energy/kwh_del", 98765432, 0.1),
    (0x4E, "energy/kwh_rec", 1234567, 0.1),
]
EM340_INT16 = [
    (0x2E, "pf/a", 945, 0.001), (0x2F, "pf/b", -942, 0.001), (0x30, "pf/c", -60, 0.001),
    (0x31, "pf/total", 590, 0.001), (0x33, "freq", 500, 0.1),
]


def em340():
    regs = empty_tables()
    expect = {}
    for addr, ch, raw, weight in EM340_INT32:
        u = raw & 0xFFFFFFFF
        regs["holding"][str(addr)] = u & 0xFFFF  # least significant word first
        regs["holding"][str(addr + 1)] = u >> 16
        v = raw * weight
        expect[ch] = {"value": v, "tol": abs(v) * 1e-12 + 1e-9}
    regs["holding"][str(0x32)] = 0  # phase sequence: L1-L2-L3 (not a point)
    for addr, ch, raw, weight in EM340_INT16:
        regs["holding"][str(addr)] = u16(raw)
        v = raw * weight
        expect[ch] = {"value": v, "tol": abs(v) * 1e-12 + 1e-9}
    write("carlo-gavazzi-em340", regs, expect)


# ---- SunSpec: "SunS" at 40000, model 1 (66), model 203 (105), end marker
def ss_string(text, nregs):
    b = text.encode("ascii").ljust(2 * nregs, b"\0")
    return [(b[2 * i] << 8) | b[2 * i + 1] for i in range(nregs)]


def sunspec(base=40000):
    m1 = (ss_string("pqgate", 16) + ss_string("SIM-METER-203", 16) +
          ss_string("opt", 8) + ss_string("1.2.3", 8) + ss_string("SN0042", 16) +
          [1, 0x8000])
    body = [0] * 105
    expect = {}

    def put(off, channel, raw, sf, scale=1.0):
        body[off] = u16(raw)
        if channel:
            v = raw * scale * 10.0 ** sf
            expect[channel] = {"value": v, "tol": abs(v) * 1e-12 + 1e-9}

    def put32(off, channel, raw, sf, scale):
        body[off] = (raw >> 16) & 0xFFFF
        body[off + 1] = raw & 0xFFFF
        v = raw * scale * 10.0 ** sf
        expect[channel] = {"value": v, "tol": abs(v) * 1e-12 + 1e-9}

    sf = {"A": -1, "V": -1, "Hz": -2, "W": 1, "VA": 0, "VAR": 0, "PF": -2,
          "Wh": 2, "VAh": 1, "VArh": 0}
    for off, ch, raw in [(0, "i_rms/total", 153), (1, "i_rms/a", 51), (2, "i_rms/b", 52),
                         (3, "i_rms/c", 50)]:
        put(off, ch, raw, sf["A"])
    body[4] = u16(sf["A"])
    for off, ch, raw in [(5, "u_rms/avg", 2301), (6, "u_rms/a", 2305), (7, "u_rms/b", 2298),
                         (8, "u_rms/c", 2300), (9, "u_ll_rms/avg", 3985),
                         (10, "u_ll_rms/ab", 3992), (11, "u_ll_rms/bc", 3980),
                         (12, "u_ll_rms/ca", 3983)]:
        put(off, ch, raw, sf["V"])
    body[13] = u16(sf["V"])
    put(14, "freq", 5002, sf["Hz"])
    body[15] = u16(sf["Hz"])
    for off, ch, raw in [(16, "p/total", 340), (17, "p/a", 115), (18, "p/b", 114),
                         (19, "p/c", 111)]:
        put(off, ch, raw, sf["W"])
    body[20] = u16(sf["W"])
    for off, ch, raw in [(21, "s/total", 3540), (22, "s/a", 1180), (23, "s/b", 1190),
                         (24, "s/c", 1170)]:
        put(off, ch, raw, sf["VA"])
    body[25] = u16(sf["VA"])
    for off, ch, raw in [(26, "q/total", -985), (27, "q/a", -330), (28, "q/b", -320),
                         (29, "q/c", -335)]:
        put(off, ch, raw, sf["VAR"])
    body[30] = u16(sf["VAR"])
    for off, ch, raw in [(31, "pf/total", 9605), (32, "pf/a", 9746), (33, "pf/b", 9580),
                         (34, "pf/c", -9487)]:
        put(off, ch, raw, sf["PF"], 0.01)
    body[35] = u16(sf["PF"])
    put32(36, "energy/kwh_rec", 12345, sf["Wh"], 0.001)
    for off in (38, 40, 42):  # per-phase export: present, not profile points
        body[off], body[off + 1] = 0, 4115
    put32(44, "energy/kwh_del", 987654, sf["Wh"], 0.001)
    for off in (46, 48, 50):  # per-phase import: 329218
        body[off], body[off + 1] = 329218 >> 16, 329218 & 0xFFFF
    body[52] = u16(sf["Wh"])
    put32(53, "energy/kvah_rec", 20000, sf["VAh"], 0.001)
    put32(61, "energy/kvah_del", 1234567, sf["VAh"], 0.001)
    body[69] = u16(sf["VAh"])
    put32(70, "energy/kvarh_q1", 500000, sf["VArh"], 0.001)
    put32(78, "energy/kvarh_q2", 1000, sf["VArh"], 0.001)
    put32(86, "energy/kvarh_q3", 2500, sf["VArh"], 0.001)
    put32(94, "energy/kvarh_q4", 77777, sf["VArh"], 0.001)
    body[102] = u16(sf["VArh"])
    image = [0x5375, 0x6E53, 1, len(m1)] + m1 + [203, 105] + body + [0xFFFF, 0]
    regs = empty_tables()
    for i, w in enumerate(image):
        regs["holding"][str(base + i)] = w & 0xFFFF
    write("sunspec-203", regs, expect)


if __name__ == "__main__":
    generic()
    sdm630()
    em340()
    sunspec()
