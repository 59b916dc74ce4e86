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


# -- a real mosquitto broker on loopback -----------------------------------

MOSQUITTO_BIN = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD_BIN = "/usr/bin/mosquitto_passwd"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_accepting(port, timeout=10.0, proc=None):
    """Wait until 127.0.0.1:port accepts a TCP connection."""
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(POLL_S)
    return False


class Mosquitto:
    """One mosquitto broker in a private directory, on 127.0.0.1:port.

    users: {name: password} for a password file (then anonymous clients
    are refused), or None for anonymous access.  tls: dict with cafile,
    certfile, keyfile (and require_certificate) for a TLS listener.
    stop() and start() keep the port, so clients reconnect to the same
    address; admit()/refuse() rewrite the password file and make the
    running broker reload it (SIGHUP)."""

    def __init__(self, workdir, users=None, tls=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.users = dict(users) if users is not None else None
        self.tls = tls
        self.conf = self.dir / "mosquitto.conf"
        self.log_path = self.dir / "mosquitto.log"
        self.passwd = self.dir / "passwd"
        self.proc = None
        self._write_conf()

    def _write_passwd(self):
        self.passwd.write_text("")
        for name, pw in self.users.items():
            subprocess.run([MOSQUITTO_PASSWD_BIN, "-b", str(self.passwd), name, pw],
                           check=True, capture_output=True)

    def _write_conf(self):
        lines = [f"listener {self.port} 127.0.0.1",
                 "persistence false",
                 "max_queued_messages 0",
                 f"log_dest file {self.log_path}",
                 "log_type all",
                 "connection_messages true"]
        if os.geteuid() == 0:
            # as root, mosquitto would switch to the user "mosquitto", who
            # cannot enter the test's private directory
            lines.append("user root")
        if self.users is None:
            lines.append("allow_anonymous true")
        else:
            self._write_passwd()
            lines += ["allow_anonymous false", f"password_file {self.passwd}"]
        if self.tls:
            lines += [f"cafile {self.tls['cafile']}",
                      f"certfile {self.tls['certfile']}",
                      f"keyfile {self.tls['keyfile']}"]
            if self.tls.get("require_certificate"):
                lines += ["require_certificate true"]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        first = self.proc is None
        for attempt in range(3):
            self.proc = subprocess.Popen([MOSQUITTO_BIN, "-c", str(self.conf)],
                                         stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            ok = wait_accepting(self.port, proc=self.proc)
            if ok or not first or self.proc.poll() is None or attempt == 2:
                break
            # exited at once: the free port was taken before mosquitto bound
            # it (another process on a busy machine).  No client knows this
            # port yet: take another.
            self.proc.wait()
            self.port = free_port()
            self._write_conf()
        if not ok:
            log = self.log_path.read_text() if self.log_path.exists() else ""
            pytest.fail(f"mosquitto did not accept on port {self.port}:\n{log}",
                        pytrace=False)
        return self

    def stop(self):
        """Stop by the recorded PID (SIGTERM, then SIGKILL)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _reload(self):
        self._write_passwd()
        os.kill(self.proc.pid, signal.SIGHUP)

    def refuse(self, name):
        """Take a user out of the password file (before start, or live)."""
        self.users.pop(name, None)
        if self.proc is not None and self.proc.poll() is None:
            self._reload()
        else:
            self._write_passwd()

    def admit(self, name, password):
        self.users[name] = password
        if self.proc is not None and self.proc.poll() is None:
            self._reload()
        else:
            self._write_passwd()

    def log(self):
        return self.log_path.read_text() if self.log_path.exists() else ""


@pytest.fixture
def mosquitto(tmp_path):
    """Factory: mosquitto(users=None, tls=None) starts a broker on a free
    loopback port and returns its Mosquitto; every broker is stopped at
    teardown.  Skips the test when mosquitto is not installed."""
    if not os.access(MOSQUITTO_BIN, os.X_OK):
        pytest.skip("mosquitto is not installed")
    brokers = []

    def start(users=None, tls=None):
        b = Mosquitto(tmp_path / f"mosquitto{len(brokers)}", users, tls)
        brokers.append(b)
        return b.start()

    yield start
    for b in brokers:
        b.stop()
