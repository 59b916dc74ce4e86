"""`pqgate run`: start, reload on SIGHUP, stop on SIGTERM and SIGINT."""

import os
import re
import shutil
import signal

STARTED = r"(?<!not )\bstarted\b"
RELOADED = r"config reloaded"
RELOAD_FAILED = r"reload failed"
STOPPING = r"\bstopping\b"
STOP_WITHIN_S = 2.0  # the contract: SIGTERM/SIGINT exit 0 within 2 s

# A config of our own: only gateway.id is required, everything else defaults.
SMALL = """\
gateway:
  id: reload-test
  name: before
logging:
  level: info
"""

# Two mistakes, each on a line of its own.
BROKEN = """\
gateway:
  id: reload-test
  colour: blue
meter:
  nominal_voltage: high
"""
BROKEN_ERRORS = {  # line: (key column, value column, text the message names)
    3: (3, 11, "colour"),
    5: (3, 20, "meter.nominal_voltage"),
}


def write(path, text):
    """Replace path's content in one step, as an editor or deploy tool does."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)


def error_lines(log, path):
    """(line, col, text) of every FILE:LINE:COL error about path in log."""
    rx = re.compile(re.escape(str(path)) + r":(\d+):(\d+): (.*)$", re.M)
    return [(int(m[1]), int(m[2]), m[3]) for m in rx.finditer(log)]


def test_broken_reload_keeps_running_then_reloads_and_stops_on_sigterm(
        pqgate, examples, tmp_path):
    cfg = tmp_path / "pqgate.yaml"
    shutil.copyfile(examples / "demo.yaml", cfg)
    d = pqgate(cfg)
    d.wait_for(STARTED)

    mark = d.mark()
    write(cfg, BROKEN)
    d.send_signal(signal.SIGHUP)
    d.wait_for(RELOAD_FAILED, since=mark)
    log = d.log(since=mark)
    errors = error_lines(log, cfg)
    assert sorted(line for line, _, _ in errors) == sorted(BROKEN_ERRORS), log
    for line, col, text in errors:
        key_col, value_col, names = BROKEN_ERRORS[line]
        assert col in (key_col, value_col), f"column of line {line}:\n{log}"
        assert names in text, log
    assert not re.search(RELOADED, log), log
    assert d.alive(), log

    # Still working on the old config: a valid file reloads.
    mark = d.mark()
    write(cfg, (examples / "demo.yaml").read_text() + "\n# edited after a failed reload\n")
    d.send_signal(signal.SIGHUP)
    d.wait_for(RELOADED, since=mark)
    assert not re.search(RELOAD_FAILED, d.log(since=mark)), d.log()

    mark = d.mark()
    rc, elapsed = d.stop(signal.SIGTERM, within=STOP_WITHIN_S)
    assert rc == 0, d.log()
    assert elapsed <= STOP_WITHIN_S
    assert re.search(STOPPING, d.log(since=mark)), d.log()


def test_sigint_stops_with_exit_0_within_2_s(pqgate, examples):
    d = pqgate(examples / "demo.yaml")
    d.wait_for(STARTED)
    mark = d.mark()
    rc, elapsed = d.stop(signal.SIGINT, within=STOP_WITHIN_S)
    assert rc == 0, d.log()
    assert elapsed <= STOP_WITHIN_S
    assert re.search(STOPPING, d.log(since=mark)), d.log()


def test_valid_change_reloads_on_sighup(pqgate, tmp_path):
    cfg = tmp_path / "pqgate.yaml"
    cfg.write_text(SMALL)
    d = pqgate(cfg)
    d.wait_for(STARTED)

    for name in ("after", "again"):
        mark = d.mark()
        write(cfg, SMALL.replace("name: before", f"name: {name}"))
        d.send_signal(signal.SIGHUP)
        d.wait_for(RELOADED, since=mark)
        log = d.log(since=mark)
        assert not re.search(RELOAD_FAILED, log), log
        assert not error_lines(log, cfg), log

    rc, _ = d.stop(signal.SIGTERM, within=STOP_WITHIN_S)
    assert rc == 0, d.log()


def test_bad_set_value_stops_run_with_an_error_naming_the_set(pqgate, examples):
    bad = "meter.nominal_voltage=high"
    d = pqgate(examples / "demo.yaml", bad)
    rc, _ = d.wait_exit(timeout=10)
    log = d.log()
    assert rc != 0, log
    assert re.search(r"--set\b.*" + re.escape(bad), log), log
    assert not re.search(STARTED, log), log
