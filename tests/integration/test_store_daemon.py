"""The "store" component of `pqgate run`: the event log gets power_up,
config_change on a reload and shutdown at the stop, in the store and (for
security entries) at a remote RFC 5424 collector on 127.0.0.1; a store
that cannot open is logged and the gateway runs without it."""

import re
import signal
import socket
import sqlite3
import time

STARTED = r"(?<!not )\bstarted\b"
RELOADED = r"config reloaded"
STOP_WITHIN_S = 2.0


def config(tmp_path, store_path, syslog_port=None, name="before"):
    text = f"""\
gateway:
  id: store-test
  name: {name}
store:
  path: {store_path}
  batch: 100ms
security_log:
  syslog_local: false
"""
    if syslog_port:
        text += f"""\
  remote:
    host: 127.0.0.1
    port: {syslog_port}
    protocol: udp
    facility: local3
"""
    cfg = tmp_path / "pqgate.yaml"
    tmp = tmp_path / "pqgate.yaml.new"
    tmp.write_text(text)
    tmp.replace(cfg)
    return cfg


def rows(db, sql):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_daemon_logs_power_up_reload_and_shutdown_to_store_and_remote_syslog(
        pqgate, tmp_path):
    db = tmp_path / "store.db"
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(5.0)
    port = udp.getsockname()[1]
    try:
        cfg = config(tmp_path, db, port)
        t0 = time.time_ns()
        d = pqgate(cfg)
        d.wait_for(STARTED)
        mark = d.mark()
        config(tmp_path, db, port, name="after")
        d.send_signal(signal.SIGHUP)
        d.wait_for(RELOADED, since=mark)
        # the security entry of the reload, sent by the new generation
        msg, _ = udp.recvfrom(4096)
        rc, _ = d.stop(signal.SIGTERM, within=STOP_WITHIN_S)
        t1 = time.time_ns()
        assert rc == 0
    finally:
        udp.close()

    ev = rows(db, "SELECT t_ns, clock_sync, severity, source, kind, text "
                  "FROM event_log ORDER BY rowid")
    assert [r[4] for r in ev] == ["power_up", "config_change", "shutdown"], ev
    for t_ns, sync, sev, _, _, _ in ev:
        assert t0 <= t_ns <= t1
        assert sync in (0, 1)
        assert sev == 5  # notice
    assert [r[0] for r in ev] == sorted(r[0] for r in ev)
    assert "generation 2" in ev[1][5]
    sec = rows(db, "SELECT kind, user, remote, text FROM security_log")
    assert sec == [("config_change", None, None, "configuration reloaded (generation 2)")]

    # RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
    text = msg.decode("utf-8")
    m = re.fullmatch(
        r"<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (\S+) pqgate (\d+) "
        r"config_change \[timeQuality tzKnown=\"1\" isSynced=\"([01])\"\] "
        r"configuration reloaded \(generation 2\)", text)
    assert m, text
    assert int(m[1]) == 19 * 8 + 5  # local3, notice (RFC 5424 6.2.1)
    assert int(m[4]) == d.pid
    assert m[5] == str(ev[1][1])  # the same clock state as the stored entry


def test_daemon_without_a_usable_store_logs_it_and_runs(pqgate, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database " * 100)
    before = junk.read_bytes()
    d = pqgate(config(tmp_path, junk))
    d.wait_for(STARTED)
    log = d.log()
    assert re.search(r"crit store: .*junk\.db: not a database or damaged", log), log
    assert re.search(r"event: gateway power_up", log), log
    rc, _ = d.stop(signal.SIGTERM, within=STOP_WITHIN_S)
    assert rc == 0
    assert junk.read_bytes() == before  # left alone
    d2 = pqgate(config(tmp_path, tmp_path / "no" / "such" / "dir" / "s.db"))
    d2.wait_for(STARTED)
    assert re.search(r"crit store: .*s\.db: .*running without the onboard store",
                     d2.log())
    rc, _ = d2.stop(signal.SIGTERM, within=STOP_WITHIN_S)
    assert rc == 0
