"""The live gateway with alarms: the simulated meter dips, a half-cycle
alarm on Urms(1/2) goes active and clears at the right times (by the data's
time stamps), its capture and burst actions produce a waveform capture and
a half-cycle RMS burst named for it, and its email action delivers messages
to a local SMTP server."""

import json
import re
import socket
import sqlite3
import threading
from datetime import datetime, timezone

import pytest

# The simulator's frame 0 is sim.start (default 2000-01-01T00:00:00Z).
START = datetime(2000, 1, 1, tzinfo=timezone.utc)

CONFIG = """\
gateway: {id: alarm-test}
meter:
  source: sim
  nominal_voltage: 230 V
  sim:
    realtime: false
    sample_rate: 12.8 kHz
    current: 60 A
    scenarios:
      - {kind: dip, at: 2s, duration: 500ms, level: 60 %, phases: A}
events: {burst_before: 100ms, burst_after: 400ms}
capture: {on_events: false, dir: CAPDIR, resolution: 128, pre_cycles: 5, post_cycles: 10}
store: {path: STOREDB}
alarms_email: {server: "smtp://127.0.0.1:PORT", from: gw@example.com, to: [ops@example.com]}
virtual:
  - {name: site/u_min, unit: V, expr: "min(local/u_rms/a, local/u_rms/b, local/u_rms/c)"}
alarms:
  - name: dip_a
    class: half_cycle
    kind: under
    channel: local/u_rms_half/a
    pickup: 207 V
    dropout: 211.6 V
    pickup_delay: 100ms
    dropout_delay: 200ms
    priority: high
    actions: [log, capture, burst, email, mqtt]
  - {name: pq_dip, kind: event, events: [dip], actions: [log]}
  - {name: both, kind: logic, expr: 'alarm("dip_a") and alarm("pq_dip")'}
  - {name: low_min, kind: under, channel: site/u_min, pickup: 200 V, dropout: 220 V}
"""


class SmtpServer:
    """A minimal SMTP server (RFC 5321) on 127.0.0.1 that keeps every message
    it is given; enough for libcurl's client without TLS."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.messages = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self._session(conn.makefile("rwb", buffering=0))

    def _session(self, f):
        def say(line):
            f.write(line.encode() + b"\r\n")

        say("220 test SMTP ready")
        rcpt, data = [], None
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.decode(errors="replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                say("250 test")
            elif verb == "MAIL":
                rcpt = []
                say("250 ok")
            elif verb == "RCPT":
                rcpt.append(cmd)
                say("250 ok")
            elif verb == "DATA":
                say("354 go ahead")
                lines = []
                while True:
                    dl = f.readline()
                    if not dl or dl in (b".\r\n", b".\n"):
                        break
                    lines.append(dl.decode(errors="replace"))
                data = "".join(lines)
                with self.cond:
                    self.messages.append((rcpt, data))
                    self.cond.notify_all()
                say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                return
            else:
                say("250 ok")

    def wait(self, n, timeout):
        with self.cond:
            self.cond.wait_for(lambda: len(self.messages) >= n, timeout)
            return list(self.messages)

    def close(self):
        self.sock.close()


@pytest.fixture
def smtp():
    s = SmtpServer()
    yield s
    s.close()


def t_of(log, name, what):
    """Seconds after the simulator's start at which alarm name went `what`."""
    m = re.search(rf"alarm {name} {what} at (\S+)Z", log)
    assert m, f"no '{name} {what}' in the log:\n{log[-3000:]}"
    t = datetime.fromisoformat(m.group(1)).replace(tzinfo=timezone.utc)
    return (t - START).total_seconds()


def check_burst_window(b, before, after):
    """An alarm's RMS burst (tag 1: the first alarm): half-cycle values every
    10 ms from `before` before its trigger to `after` after it, the ends
    within one half cycle; three phases of voltage and four currents."""
    assert b["type"] == "rms_burst" and b["kind"] == "request" and b["tag"] == 1, b
    t = b["t_s"]
    assert -before <= t[0] <= -before + 0.0102, t[:3]
    assert after <= t[-1] <= after + 0.0102, t[-3:]
    assert abs(len(t) - ((before + after) / 0.01 + 1)) <= 1, len(t)
    assert all(0.009 <= b2 - a <= 0.011 for a, b2 in zip(t, t[1:])), t
    assert len(b["u_rms_v"]) == 3 and all(len(s) == len(t) for s in b["u_rms_v"])
    assert len(b["i_rms_a"]) == 4 and all(len(s) == len(t) for s in b["i_rms_a"])


def test_alarm_on_a_simulated_dip_goes_active_and_clears_on_time_and_acts(
        pqgate, tmp_path, smtp):
    cap = tmp_path / "cap"
    cfg = tmp_path / "alarms.yaml"
    db = tmp_path / "store.db"
    cfg.write_text(CONFIG.replace("CAPDIR", str(cap)).replace("PORT", str(smtp.port))
                   .replace("STOREDB", str(db)))
    d = pqgate(cfg)
    d.wait_for(r"started")
    d.wait_for(r"alarm dip_a cleared at", timeout=20)
    d.wait_for(r"alarm both cleared at", timeout=20)
    d.wait_for(r"capture: wrote .*_alarm_dip_a_\d+\.cfg", timeout=20)
    d.wait_for(r"capture: wrote .*_alarm_dip_a_rms\.json", timeout=20)
    mails = smtp.wait(2, timeout=20)
    log = d.log()
    d.stop()

    # the dip is from 2.000 s to 2.500 s.  Urms(1/2), a one-cycle RMS
    # refreshed every half cycle, crosses 207 V (and back over 211.6 V) within
    # one cycle (20 ms, plus a few samples) of the change; the delay then ends
    # within one update (10 ms) of its length.  The exact timing on given
    # updates is tested in tests/unit/test_alarm.c.
    active = t_of(log, "dip_a", "active")
    cleared = t_of(log, "dip_a", "cleared")
    assert 2.0 + 0.1 <= active <= 2.0 + 0.1 + 0.02 + 0.01 + 0.005, active
    assert 2.5 + 0.2 <= cleared <= 2.5 + 0.2 + 0.02 + 0.01 + 0.005, cleared
    # the event alarm follows the event's start and end
    ev_on, ev_off = t_of(log, "pq_dip", "active"), t_of(log, "pq_dip", "cleared")
    assert 1.98 <= ev_on <= 2.02 and 2.48 <= ev_off <= 2.53, (ev_on, ev_off)
    # logic: both while both are active
    assert t_of(log, "both", "active") == pytest.approx(max(active, ev_on), abs=1e-3)
    assert t_of(log, "both", "cleared") == pytest.approx(min(cleared, ev_off), abs=1e-3)
    # the 200 ms minimum of the three phases, a virtual channel, went under 200 V
    assert 2.0 <= t_of(log, "low_min", "active") <= 2.25
    # capture and burst: the alarm's, named for it, and none of the event
    # (capture.on_events is off)
    assert len(list(cap.glob("*_alarm_dip_a_*.cfg"))) == 1
    assert len(list(cap.glob("*_manual_*.cfg"))) == 0
    assert len(list(cap.glob("*_event_*.cfg"))) == 0
    bursts = list(cap.glob("*_rms.json"))
    assert [b.name[24:] for b in bursts] == ["alarm_dip_a_rms.json"], bursts
    check_burst_window(json.loads(bursts[0].read_text()), 0.1, 0.4)
    # email: one message when active, one when cleared
    subjects = [re.search(r"^Subject: (.*)$", m[1], re.M).group(1).strip() for m in mails]
    assert subjects[:2] == ["[alarm-test] alarm dip_a ACTIVE",
                            "[alarm-test] alarm dip_a cleared"], subjects
    assert mails[0][0] == ["RCPT TO:<ops@example.com>"]
    assert "Value: 1" in mails[0][1]  # Urms(1/2) at pickup, e.g. 138 V or 190 V
    # the event log of the onboard store: active and clear of the alarms with
    # the log action, in order
    con = sqlite3.connect(db)
    rows = con.execute("SELECT kind, name, text FROM event_log WHERE source = 'alarm' "
                       "ORDER BY rowid").fetchall()
    con.close()
    dip_rows = [(k, t) for k, n, t in rows if n == "dip_a"]
    assert [k for k, _ in dip_rows] == ["alarm_active", "alarm_clear"], rows
    assert "at 2000-01-01T00:00:02.1" in dip_rows[0][1]
    assert [k for k, n, _ in rows if n == "pq_dip"] == ["alarm_active", "alarm_clear"]
    assert not [r for r in rows if r[1] == "both"]  # no log action: process log only


REALTIME_CONFIG = """\
gateway: {id: alarm-rt}
meter:
  source: sim
  nominal_voltage: 230 V
  sim:
    realtime: true
    sample_rate: 12.8 kHz
    current: 60 A
    scenarios:
      - {kind: dip, at: 1s, duration: 300ms, level: 60 %, phases: A}
events: {burst_before: 100ms, burst_after: 400ms}
capture: {on_events: false, dir: CAPDIR, resolution: 128, pre_cycles: 5, post_cycles: 10}
alarms:
  - name: dip_a
    class: half_cycle
    kind: under
    channel: local/u_rms_half/a
    pickup: 207 V
    dropout: 211.6 V
    pickup_delay: 50ms
    actions: [capture, burst]
"""


def test_alarm_capture_and_burst_are_placed_at_the_alarms_time_on_a_live_source(
        pqgate, tmp_path):
    """On a real-time source the capture's trigger and the burst's window sit
    at the time the alarm went active (its input's time stamp), not when the
    acquisition thread got the command; the burst holds the dip."""
    cap = tmp_path / "cap"
    cfg = tmp_path / "alarms-rt.yaml"
    cfg.write_text(REALTIME_CONFIG.replace("CAPDIR", str(cap)))
    d = pqgate(cfg)
    d.wait_for(r"started")
    d.wait_for(r"capture: wrote .*_alarm_dip_a_1\.cfg", timeout=20)
    d.wait_for(r"capture: wrote .*_alarm_dip_a_rms\.json", timeout=20)
    log = d.log()
    d.stop()

    m = re.search(r"alarm dip_a active at (\S+)Z", log)
    assert m, log[-3000:]
    active = datetime.fromisoformat(m.group(1)).replace(tzinfo=timezone.utc)
    # the capture's trigger time (C37.111-2013 cfg: the line after the
    # start time), to the microsecond
    cfgs = list(cap.glob("*_alarm_dip_a_1.cfg"))
    assert len(cfgs) == 1, cfgs
    lines = cfgs[0].read_text().splitlines()
    stamps = [ln for ln in lines if re.fullmatch(r"\d\d/\d\d/\d{4},[\d:.]+", ln)]
    trig = datetime.strptime(stamps[1][:26], "%d/%m/%Y,%H:%M:%S.%f").replace(
        tzinfo=timezone.utc)
    assert abs((trig - active).total_seconds()) <= 0.001, (trig, active)
    # the burst: its file named for the trigger, its window around it
    bursts = list(cap.glob("*_rms.json"))
    assert len(bursts) == 1, bursts
    named = datetime.strptime(bursts[0].name[:22], "%Y%m%dT%H%M%S.%f").replace(
        tzinfo=timezone.utc)
    assert abs((named - active).total_seconds()) <= 0.001, (named, active)
    b = json.loads(bursts[0].read_text())
    check_burst_window(b, 0.1, 0.4)
    # the alarm went active 50 ms (+ up to one cycle) into the 300 ms dip:
    # phase A at 60 % of 230 V in the values whose one-cycle window lies in
    # the dip, 230 V in those wholly before it and after it
    t, ua = b["t_s"], b["u_rms_v"][0]
    inside = [u for x, u in zip(t, ua) if 0.0 <= x <= 0.17]
    before = [u for x, u in zip(t, ua) if x <= -0.09]
    after = [u for x, u in zip(t, ua) if x >= 0.32]
    assert inside and all(abs(u - 138.0) <= 138.0 * 0.005 for u in inside), inside
    assert before and all(abs(u - 230.0) <= 230.0 * 0.005 for u in before), before
    assert after and all(abs(u - 230.0) <= 230.0 * 0.005 for u in after), after
    assert all(abs(u - 230.0) <= 230.0 * 0.005 for u in b["u_rms_v"][1]), "phase B"
