"""The live gateway on a simulated fault: an event with its direction, a
COMTRADE capture, and the capture read back by pqgate analyze."""

import json
import re
import signal
import subprocess

import pytest

CONFIG = """\
gateway: {id: fault-test}
meter:
  source: sim
  nominal_voltage: 230 V
  sim:
    realtime: false
    sample_rate: 12.8 kHz
    current: 60 A
    power_factor: 0.9
    scenarios:
      - {kind: fault_downstream, at: 1s, duration: 100ms, level: 60 %, phases: A}
      - {kind: fault_upstream, at: 2.5s, duration: 100ms, level: 70 %, phases: ABC}
capture: {on_events: true, dir: CAPDIR, resolution: 128, pre_cycles: 10, post_cycles: 30}
"""


def test_simulated_faults_give_events_with_direction_and_captures(pqgate, pqgate_bin,
                                                                  tmp_path):
    cap = tmp_path / "cap"
    cfg = tmp_path / "fault.yaml"
    cfg.write_text(CONFIG.replace("CAPDIR", str(cap)))
    d = pqgate(cfg)
    d.wait_for(r"started")
    d.wait_for(r"capture: wrote .*_event_2\.cfg", timeout=20)
    d.wait_for(r"capture: wrote .*_rms\.json", timeout=20)
    events = [json.loads(m) for m in re.findall(r"notice event: (\{.*\})", d.log())]
    # SIGUSR1: a manual capture
    mark = d.mark()
    d.send_signal(signal.SIGUSR1)
    d.wait_for(r"capture: wrote .*_manual_\d+\.cfg", since=mark, timeout=20)
    d.stop()
    dips = [e for e in events if e["kind"] == "dip"]
    assert len(dips) == 2, events
    assert dips[0]["phases"] == ["A"] and dips[0]["direction"] == "downstream"
    assert dips[1]["phases"] == ["A", "B", "C"] and dips[1]["direction"] == "upstream"
    for e in dips:
        assert e["confidence"] >= 0.6
    assert dips[0]["residual_pct"] == pytest.approx(60.0, abs=0.2)
    caps = sorted(cap.glob("*_event_*.cfg"))
    assert len(caps) == 2
    assert len(list(cap.glob("*_manual_*.cfg"))) == 1
    # the half-cycle RMS burst of each dip, beside the captures
    bursts = sorted(cap.glob("*_dip_rms.json"))
    assert len(bursts) == 2
    b = json.loads(bursts[0].read_text())
    assert b["type"] == "rms_burst" and b["kind"] == "dip"
    assert min(b["u_rms_v"][0]) == pytest.approx(138.0, abs=0.5)  # 60 % of 230 V
    # the capture reads back through analyze, and holds the dip
    p = subprocess.run([str(pqgate_bin), "analyze", str(caps[0]), "--events",
                        "--nominal-voltage", "230"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    recs = [json.loads(line) for line in p.stdout.splitlines()]
    ev = [r for r in recs if r["type"] == "event"]
    assert len(ev) == 1 and ev[0]["kind"] == "dip" and ev[0]["phases"] == ["A"]
    assert ev[0]["residual_pct"] == pytest.approx(60.0, abs=0.3)
