"""Fixtures for running the real pqgate binary.

PQGATE_BIN names the binary (default build/pqgate under the repo root);
PQGATE_SAN=1 says it is a sanitizer build.  tests/check.sh sets both.

    def test_x(pqgate, tmp_path):
        d = pqgate(EXAMPLES / "demo.yaml")      # pqgate run --config ...
        d.wait_for(r"\\bstarted\\b")
        rc, elapsed = d.stop(signal.SIGTERM)

    def test_y(pqgate_cli):
        rc, out, err = pqgate_cli("check-config", path)

Only the standard library and pytest.
"""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "config" / "examples"
PQGATE_BIN = Path(os.environ.get("PQGATE_BIN") or REPO / "build" / "pqgate")
SAN = os.environ.get("PQGATE_SAN") == "1"

POLL_S = 0.02
START_TIMEOUT_S = 20.0 if SAN else 10.0
CLI_TIMEOUT_S = 60.0 if SAN else 30.0

# What AddressSanitizer, LeakSanitizer and UBSan print.
SANITIZER_REPORT = re.compile(r"^==\d+==ERROR: |: runtime error: ", re.M)


def child_env():
    """The environment of every pqgate the tests start."""
    env = dict(os.environ)
    # Not under systemd here, whatever ran pytest: no journald stream, no
    # notify socket, no watchdog, no socket activation.
    for k in ("JOURNAL_STREAM", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
              "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        env.pop(k, None)
    if SAN:
        env["ASAN_OPTIONS"] = "detect_leaks=1"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


def _require_binary():
    if not (PQGATE_BIN.is_file() and os.access(PQGATE_BIN, os.X_OK)):
        pytest.fail(f"no pqgate binary at {PQGATE_BIN} (run make, or set PQGATE_BIN)",
                    pytrace=False)


def _no_sanitizer_report(text, what):
    m = SANITIZER_REPORT.search(text)
    if m:
        pytest.fail(f"sanitizer report from {what}:\n{text[max(0, m.start() - 200):]}",
                    pytrace=False)


def run_cli(*args, timeout=CLI_TIMEOUT_S):
    """Run `pqgate ARGS...` to completion; return (rc, stdout, stderr)."""
    _require_binary()
    p = subprocess.run([str(PQGATE_BIN), *map(str, args)], cwd=REPO, env=child_env(),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    _no_sanitizer_report(p.stderr, f"pqgate {' '.join(map(str, args))}")
    return p.returncode, p.stdout, p.stderr


class Daemon:
    """One `pqgate run` process, its stderr in a file under tmp_path.

    Log positions are byte offsets into that file: take mark() before an
    action and look only at what was logged after it.
    """

    def __init__(self, workdir, config, sets=()):
        _require_binary()
        self.config = Path(config)
        self.stderr_path = Path(workdir) / "pqgate.stderr"
        self.stdout_path = Path(workdir) / "pqgate.stdout"
        self.argv = [str(PQGATE_BIN), "run", "--config", str(self.config)]
        for s in sets:
            self.argv += ["--set", s]
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            # cwd is the repo root, as for `make demo`.
            self.proc = subprocess.Popen(self.argv, cwd=REPO, env=child_env(),
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        self.pid = self.proc.pid
        self.returncode = None

    # -- the log ----------------------------------------------------------

    def log(self, since=0):
        """What the daemon wrote to stderr after byte offset since."""
        with open(self.stderr_path, "rb") as f:
            f.seek(since)
            return f.read().decode("utf-8", "replace")

    def mark(self):
        return self.stderr_path.stat().st_size

    def wait_for(self, pattern, since=0, timeout=START_TIMEOUT_S):
        """Wait until a log line after since matches pattern (a regex);
        return the match.  Fails at once if the daemon exits first."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            exited = self.proc.poll() is not None  # before reading: no race
            text = self.log(since)
            m = rx.search(text)
            if m:
                return m
            if exited:
                self.returncode = self.proc.returncode
                self._fail(f"exited with {self.returncode} before logging /{pattern}/")
            if time.monotonic() >= deadline:
                self._fail(f"logged no /{pattern}/ within {timeout} s")
            time.sleep(POLL_S)

    def _fail(self, why):
        pytest.fail(f"pqgate (pid {self.pid}, {' '.join(self.argv)}) {why}; "
                    f"its stderr:\n{self.log()}", pytrace=False)

    # -- signals and exit -------------------------------------------------

    def alive(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        if not self.alive():
            self._fail(f"exited with {self.proc.returncode} before signal {sig!r}")
        os.kill(self.pid, sig)

    def wait_exit(self, timeout):
        """Wait up to timeout s for the process to end; return (rc, seconds)
        measured from the call."""
        t0 = time.monotonic()
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._fail(f"still running {timeout} s later")
        self.returncode = rc
        return rc, time.monotonic() - t0

    def stop(self, sig=signal.SIGTERM, within=2.0):
        """Send sig and wait for the exit; return (rc, seconds from the
        signal to the exit), failing if it takes longer than within s."""
        self.send_signal(sig)
        return self.wait_exit(within)

    def kill(self):
        """Teardown: SIGKILL by the recorded PID if still running."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def pqgate(tmp_path):
    """Factory: pqgate(config, *sets) starts `pqgate run --config config
    [--set s]...` and returns its Daemon.  Every daemon is killed at
    teardown; a sanitizer report in its stderr fails the test."""
    started = []

    def start(config, *sets):
        workdir = tmp_path / f"pqgate{len(started)}"
        workdir.mkdir()
        d = Daemon(workdir, config, sets)
        started.append(d)
        return d

    yield start
    for d in started:
        d.kill()
    for d in started:
        _no_sanitizer_report(d.log(), f"pqgate pid {d.pid}")


@pytest.fixture
def pqgate_cli():
    """pqgate_cli(*args) runs a one-shot subcommand: (rc, stdout, stderr)."""
    return run_cli


@pytest.fixture
def examples():
    return EXAMPLES


@pytest.fixture
def pqgate_bin():
    """Path of the pqgate binary under test."""
    _require_binary()
    return PQGATE_BIN


@pytest.fixture
def shared_data():
    """The project's shared test data (../shared/data beside the checkout)."""
    return REPO.parent / "shared" / "data"
