"""Recorders, trends, the min/max log and time of use on the live gateway:
the fast simulated meter fills recorders in the onboard store, read back
with sqlite3 after the run."""

import math
import sqlite3
import struct

import pytest

CONFIG = """\
gateway: {id: rec-test}
meter:
  source: sim
  nominal_voltage: 230 V
  sim:
    realtime: false
    start: "2026-01-05T06:59:50Z"   # Monday 07:59:50 in Paris: peak at 08:00
    sample_rate: 6.4 kHz
    voltage: 230 V
    current: 60 A
    power_factor: 0.9
store:
  path: STORE
  batch: 200ms
recorders:
  - name: avg1s
    channels: [local/u_rms/a, local/p/total]
    trigger: {interval: 1s}
    depth: 100000
  - name: full5
    channels: [local/u_rms/a]
    trigger: {interval: 1s}
    mode: stop_when_full
    depth: 5
  - name: ring3
    channels: ["local/i_rms/?"]
    trigger: {interval: 1s}
    value: max
    depth: 3
trends:
  channels: [local/p/total]
tou:
  timezone: Europe/Paris
  seasons:
    - name: all
      weekday:
        - {name: peak, from: "08:00", to: "20:00"}
        - {name: offpeak, from: "20:00", to: "08:00"}
  energy: [local/energy/kwh_del]
"""

P_W = 3 * 230.0 * 60.0 * 0.9  # three phases at PF 0.9
BUS_Q_INVALID = 8             # gateway/bus.h
T0_NS = 1767596390 * 10**9    # 2026-01-05T06:59:50Z
PEAK_NS = T0_NS + 10 * 10**9  # 08:00 in Paris


def rows(db, name):
    rec = db.execute("SELECT id, channels FROM recorders WHERE name = ?",
                     (name,)).fetchone()
    assert rec is not None, name
    out = []
    for seq, t_ns, vals, qual in db.execute(
            "SELECT seq, t_ns, vals, quality FROM rec_rows WHERE rec = ? ORDER BY seq",
            (rec[0],)):
        n = len(vals) // 8
        assert len(qual) == 4 * n
        out.append((seq, t_ns, struct.unpack(f"<{n}d", vals), struct.unpack(f"<{n}I", qual)))
    return rec[1].split(","), out


def test_recorders_fill_the_store_from_the_fast_simulator(pqgate, tmp_path):
    store = tmp_path / "store.db"
    cfg = tmp_path / "rec.yaml"
    cfg.write_text(CONFIG.replace("STORE", str(store)))
    d = pqgate(cfg)
    d.wait_for(r"started")
    d.wait_for(r"recorder: full5: full at 5 rows", timeout=30)
    # the first tariff line may come from the wall clock before any data;
    # on the data clock the simulated morning goes off-peak, then peak
    d.wait_for(r"tou: tariff offpeak[\s\S]*tou: tariff peak", timeout=60)
    rc, _ = d.stop()
    assert rc == 0
    db = sqlite3.connect(store)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    names, avg = rows(db, "avg1s")
    assert names == ["local/u_rms/a", "local/p/total"]
    assert len(avg) >= 10  # the tariff changed 10 s of data after the start
    empty = 0
    for k, (seq, t_ns, v, q) in enumerate(avg):
        assert seq == k + 1
        # interval rows on whole UTC seconds, one per second, no gap
        assert t_ns == T0_NS + (k + 1) * 10**9
        for i in range(2):
            if q[i] == BUS_Q_INVALID:
                # an interval without any update would be a row of NaN,
                # never a missing row (counted below: there must be none)
                assert math.isnan(v[i])
                empty += 1
            else:
                assert q[i] == 0
        if q == (0, 0):
            assert v[0] == pytest.approx(230.0, abs=0.1)
            assert v[1] == pytest.approx(P_W, rel=2e-3)
    # a fast source waits for the consumers (gateway/metrology.c), so no
    # interval of a fast run is empty
    assert empty == 0

    _, full = rows(db, "full5")
    assert [r[0] for r in full] == [1, 2, 3, 4, 5]
    assert [r[1] for r in full] == [T0_NS + s * 10**9 for s in range(1, 6)]

    names, ring = rows(db, "ring3")
    # "?" is one character: the neutral current comes along
    assert names == ["local/i_rms/a", "local/i_rms/b", "local/i_rms/c", "local/i_rms/n"]
    # continuous: the newest 3 rows, numbered like the other 1 s recorder
    # (a stop between the dispatch of two channels of one record may leave
    # one of the two a row behind)
    assert len(ring) == 3
    last = ring[-1][0]
    assert abs(last - len(avg)) <= 1
    assert [r[0] for r in ring] == [last - 2, last - 1, last]
    assert ring[-1][1] == T0_NS + last * 10**9
    for _, _, v, q in ring:
        if q == (0, 0, 0, 0):
            for x in v[:3]:
                assert x == pytest.approx(60.0, abs=0.1)
            assert abs(v[3]) < 1.0  # a balanced load: IN near 0

    # the min/max log holds the local meter's extremes
    mm = dict((c, (lo, hi)) for c, lo, hi in
              db.execute("SELECT channel, min, max FROM minmax"))
    lo, hi = mm["u_rms/a"]
    assert 229.5 < lo <= hi < 230.5

    # trend statistics were saved at stop
    assert db.execute("SELECT count(*) FROM trend_state WHERE channel = ?",
                      ("local/p/total",)).fetchone()[0] == 1

    # time of use: energy before 08:00 Paris (07:00 UTC) is off-peak, after
    # it peak.  The load is constant, so the counter grows at P and a split
    # pro rata to time gives peak = P x (last reading - 07:00); off-peak
    # runs from the register's first reading (within the first second of
    # data: it only primes the register) to 07:00.
    kv = dict(db.execute("SELECT key, value FROM kv WHERE key LIKE 'tou/%'"))
    t_last = kv["tou/_last/kwh_del_t_s"]
    assert t_last > PEAK_NS / 1e9
    assert kv["tou/peak/kwh_del"] == pytest.approx(P_W * (t_last - PEAK_NS / 1e9) / 3.6e6,
                                                   rel=2e-3)
    assert P_W * 9 / 3.6e6 * 0.998 <= kv["tou/offpeak/kwh_del"] <= P_W * 10 / 3.6e6 * 1.002
    db.close()


def test_recorders_and_tariff_registers_resume_after_a_restart(pqgate, tmp_path):
    store = tmp_path / "store.db"
    cfg = tmp_path / "rec.yaml"
    cfg.write_text(CONFIG.replace("STORE", str(store)))
    d = pqgate(cfg)
    d.wait_for(r"recorder: full5: full at 5 rows", timeout=30)
    d.wait_for(r"tou: tariff offpeak[\s\S]*tou: tariff peak", timeout=60)
    assert d.stop()[0] == 0
    db = sqlite3.connect(store)
    _, first = rows(db, "avg1s")
    kv1 = dict(db.execute("SELECT key, value FROM kv WHERE key LIKE 'tou/%'"))
    db.close()

    # the simulator starts again at the same instant: its counter restarts
    # from 0, which the registers take as a reset (counted from there on)
    d = pqgate(cfg)
    d.wait_for(r"tou: tariff offpeak[\s\S]*tou: tariff peak", timeout=60)
    d.wait_for(r"recorder: avg1s: \+\d+ rows", timeout=30)
    assert d.stop()[0] == 0
    db = sqlite3.connect(store)
    _, second = rows(db, "avg1s")
    assert len(second) > len(first)
    assert [r[0] for r in second] == list(range(1, len(second) + 1))  # numbering goes on
    assert second[len(first)][1] == T0_NS + 10**9  # the new run's first interval
    _, full = rows(db, "full5")
    assert len(full) == 5  # still full: nothing added
    kv2 = dict(db.execute("SELECT key, value FROM kv WHERE key LIKE 'tou/%'"))
    # both runs' energy: the first run's registers plus the second's
    assert kv2["tou/offpeak/kwh_del"] > kv1["tou/offpeak/kwh_del"] + P_W * 8 / 3.6e6
    assert kv2["tou/peak/kwh_del"] > kv1["tou/peak/kwh_del"]
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


BURST = """\
gateway: {id: burst-test}
meter:
  source: sim
  nominal_voltage: 230 V
  sim:
    realtime: true   # a trigger reaches the recorder in wall time
    sample_rate: 6.4 kHz
    current: 60 A
    scenarios:
      - {kind: dip, at: 1s, duration: 100ms, level: 60 %, phases: A}
store:
  path: STORE
  batch: 200ms
alarms:
  - {name: sag_a, class: half_cycle, kind: under, channel: local/u_rms_half/a,
     pickup: 207 V, dropout: 211.6 V, priority: high, actions: [log]}
recorders:
  - name: sag_burst
    channels: ["local/u_rms_half/*"]
    trigger: {on_alarm: sag_a, duration: 500ms}
"""


def test_alarm_triggers_a_half_cycle_burst_recorder(pqgate, tmp_path):
    store = tmp_path / "store.db"
    cfg = tmp_path / "burst.yaml"
    cfg.write_text(BURST.replace("STORE", str(store)))
    d = pqgate(cfg)
    d.wait_for(r"recorder: sag_burst: triggered by alarm sag_a", timeout=30)
    d.wait_for(r"recorder: sag_burst: \+\d+ rows", timeout=30)
    assert d.stop()[0] == 0
    db = sqlite3.connect(store)
    names, burst = rows(db, "sag_burst")
    db.close()
    assert names == ["local/u_rms_half/a", "local/u_rms_half/b", "local/u_rms_half/c"]
    # 500 ms of half cycles at 50 Hz: a row every 10 ms
    assert 49 <= len(burst) <= 52, len(burst)
    t = [r[1] for r in burst]
    assert t[-1] - t[0] <= 500 * 10**6
    steps = [b - a for a, b in zip(t, t[1:])]
    assert all(abs(s - 10**7) < 10**6 for s in steps), steps
    ua = [r[2][0] for r in burst]
    assert ua[0] < 207.0  # the half cycle that picked the alarm up comes first
    assert min(ua) == pytest.approx(138.0, abs=1.0)  # 60 % of 230 V
    assert ua[-1] == pytest.approx(230.0, abs=1.0)  # back after 100 ms
    assert all(r[2][1] == pytest.approx(230.0, abs=1.0) for r in burst)
