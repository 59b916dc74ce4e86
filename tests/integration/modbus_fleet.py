"""The simulated fleet and the gateway that polls it, for the Modbus tests.

Fleet(tmp, extra_peers=6) builds mbsim serving config/examples/fleet.yaml's
devices (31 RTU units on a pty pair, its 4 TCP peers, and extra_peers more
one-meter peers); start() starts it and writes the config the gateway runs
(fleet.yaml with the simulator's pty and the ports its TCP servers bound,
and logging.channels_file).  The TCP servers bind port 0, so the ports are
known only once the simulator runs: start the gateway after start().
The gateway's channels are read from that file: every channel with value,
unit, time and quality (gateway/status.c).
"""

import copy
import json
import os
import signal
import time
from pathlib import Path

import yaml

import conftest
import mbsim

FLEET_YAML = conftest.EXAMPLES / "fleet.yaml"
Q_STALE, Q_INVALID, Q_SUBSTITUTED = 1 << 1, 1 << 3, 1 << 4
IMAGE_OF = {"sunspec": "sunspec-203"}  # profile -> register image

# How old a good value may be when a test reads it (Fleet.max_age_s), and
# why.  The device is read every poll interval; the test sees the read
# through the channels file, written once a second (FILE_S, gateway/
# status.c); a due device also waits for the reads queued before it on its
# port: one bus cycle, judged from the port's own health figures (the sum of
# its devices' health/latency_ms, which grows when the simulator shares a
# loaded machine: a bound that follows the simulator's real speed, not a
# guess); a broken device on the same port adds at most one of its timeouts
# (mb_port.h: one probe per backoff period); SLACK_S covers the scheduling
# of the gateway's timers and the test's reads on a loaded machine.  With
# the simulator idle (0.3 ms an answer: a 31-device cycle of 0.03 s) this is
# poll + 1.8 s, poll + 2.3 s beside a broken device on a 500 ms timeout: a
# port that spends more than about one extra second per cycle on a broken
# device still fails, and one that stalls fails however slow the machine.
FILE_S = 1.0
SLACK_S = 0.75


def image_name(dev):
    if dev.get("sunspec") == "auto":
        return "sunspec-203"
    return IMAGE_OF.get(dev.get("profile"), dev.get("profile"))


class Fleet:
    def __init__(self, tmp, extra_peers=6, edit=None):
        self.dir = Path(tmp)
        self.sim = mbsim.Sim(self.dir / "sim")
        cfg = yaml.safe_load(FLEET_YAML.read_text())
        for i in range(extra_peers):
            cfg["peers"].append({
                "name": f"site{i + 1}", "host": "127.0.0.1", "port": 502,
                "devices": [{"name": "meter", "unit": 1, "profile": "generic-float32",
                             "poll": "1s"}]})
        # generous timeouts: the simulator (Python, one thread for the whole
        # RTU bus) shares two loaded cores with the gateway and the test,
        # and answers in 0.3 ms idle but in tens of ms under load, past the
        # example's 100 ms now and then; a fault is still seen within a
        # second
        cfg["buses"][0]["timeout"] = "500ms"
        for p in cfg["peers"]:
            p["timeout"] = "500ms"
        if edit:
            edit(cfg)
        self.images = {}  # "bus1.dev7" -> image
        bus = cfg["buses"][0]
        units = {}
        for d in bus["devices"]:
            img = mbsim.load_image(image_name(d))
            units[d["unit"]] = mbsim.Unit(d["unit"], img, size=d.pop("_size", None))
            self.images[f"{bus['name']}.{d['name']}"] = img
        bus["device"] = self.sim.serial(units)
        self.peer_server = {}  # peer name -> mbsim server name
        for p in cfg["peers"]:
            punits = {}
            for d in p["devices"]:
                img = mbsim.load_image(image_name(d))
                punits[d["unit"]] = img
                self.images[f"{p['name']}.{d['name']}"] = img
            self.peer_server[p["name"]] = self.sim.tcp(punits, name=p["name"])
            p["port"] = 0  # the port the simulator binds: set by start()
        self.cfg = cfg
        self.channels_path = self.dir / "channels.json"
        cfg.setdefault("logging", {})["channels_file"] = str(self.channels_path)
        self.config = self.dir / "fleet-test.yaml"  # written by start()

    def write_config(self):
        self.config.write_text(yaml.safe_dump(self.cfg, sort_keys=False))

    def start(self):
        self.sim.start()
        for p in self.cfg["peers"]:
            server = self.peer_server.get(p["name"])
            if server in self.sim.servers:  # (a test may replace a peer)
                p["port"] = self.sim.port(server)
        self.write_config()
        return self

    def stop(self):
        self.sim.stop()

    # -- the gateway's channels --------------------------------------------

    def channels(self):
        try:
            return json.loads(self.channels_path.read_text())["channels"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return {}

    def wait(self, pred, timeout, what, daemon=None):
        """Wait until pred(channels) is true; return the channels."""
        deadline = time.monotonic() + timeout
        last = {}
        while time.monotonic() < deadline:
            last = self.channels()
            if last and pred(last):
                return last
            if daemon is not None and not daemon.alive():
                daemon._fail(f"exited while waiting for {what}")
            time.sleep(0.1)
        tail = daemon.log()[-4000:] if daemon is not None else ""
        raise AssertionError(f"no {what} within {timeout} s; log tail:\n{tail}")

    def poll_s(self, dev):
        """The poll interval of device "bus1.dev7" in seconds."""
        port, name = dev.split(".", 1)
        for p in self.cfg["buses"] + self.cfg["peers"]:
            if p["name"] == port:
                for d in p["devices"]:
                    if d["name"] == name:
                        v = str(d.get("poll", "1s"))
                        return float(v[:-2]) / 1e3 if v.endswith("ms") else float(v[:-1])
        raise KeyError(dev)

    def timeout_s(self, port):
        """The response timeout of port "bus1" / "plant" in seconds."""
        for p in self.cfg["buses"] + self.cfg["peers"]:
            if p["name"] == port:
                v = str(p.get("timeout", "100ms"))
                return float(v[:-2]) / 1e3 if v.endswith("ms") else float(v[:-1])
        raise KeyError(port)

    def cycle_s(self, chs, port):
        """One cycle of port's reads, from its health figures: the sum of
        its devices' average answer latencies (each device of the fleet
        is one or two reads)."""
        total_ms = 0.0
        for dev in self.images:
            if dev.split(".", 1)[0] == port:
                v = chs.get(f"{dev}/health/latency_ms", {}).get("value")
                if v is not None and v == v:  # NaN: no good answer yet
                    total_ms += 2 * v
        return total_ms / 1e3

    def max_age_s(self, chs, dev, broken=()):
        """How old dev's good value may be when read from chs (see FILE_S
        above); broken: ports with a broken device on them."""
        port = dev.split(".", 1)[0]
        extra = self.timeout_s(port) if port in broken else 0.0
        return self.poll_s(dev) + FILE_S + self.cycle_s(chs, port) + extra + SLACK_S

    def fresh(self, chs, name, broken=()):
        """name was read good within max_age_s of its device."""
        dev = name.split("/", 1)[0]
        return fresh(chs, name, self.max_age_s(chs, dev, broken))

    def read_again(self, devs, broken=(), daemon=None):
        """Wait until every device in devs has been read good after now,
        each within its max_age_s: [what was late or never read] (empty:
        all on time).  A port stalled by a broken device fails here however
        slow the machine, since its devices are never read again."""
        t0_ns, t0 = time.time_ns(), time.monotonic()
        chs = self.channels()
        names = {dev: f"{dev}/{next(iter(self.images[dev]['expect']))}" for dev in devs}
        bound = {dev: self.max_age_s(chs, dev, broken) for dev in devs}
        seen = {}
        while len(seen) < len(devs) and time.monotonic() - t0 < max(bound.values()):
            chs = self.channels()
            now = time.monotonic()
            for dev, n in names.items():
                c = chs.get(n)
                if dev not in seen and c and c["quality"] == 0 and c["t_ns"] > t0_ns:
                    seen[dev] = now - t0
            if daemon is not None and not daemon.alive():
                daemon._fail("exited while its devices were watched")
            time.sleep(0.05)
        return [f"{names[dev]}: read again after {seen.get(dev, '(never)')} s, "
                f"allowed {bound[dev]:.2f} s: {chs.get(names[dev])}"
                for dev in devs if seen.get(dev, float("inf")) > bound[dev]]

    def expected(self):
        """{channel name: (value, tol)} of every device's image."""
        out = {}
        for dev, img in self.images.items():
            for ch, e in img.get("expect", {}).items():
                out[f"{dev}/{ch}"] = (e["value"], e["tol"])
        return out


def start_daemon(tmp, config):
    """A `pqgate run` outside the function-scoped fixture (module-scoped
    fleets); stop it with stop_daemon()."""
    workdir = Path(tmp) / f"pqgate-{os.getpid()}-{time.monotonic_ns()}"
    workdir.mkdir()
    return conftest.Daemon(workdir, config)


def stop_daemon(d):
    if d.alive():
        d.send_signal(signal.SIGTERM)
        try:
            d.proc.wait(5)
        except Exception:  # noqa: BLE001 - kill below
            pass
    d.kill()
    conftest._no_sanitizer_report(d.log(), f"pqgate pid {d.pid}")


def fresh(chs, name, within_s, now_ns=None):
    """The channel was read good within the last within_s seconds."""
    c = chs.get(name)
    now_ns = now_ns or time.time_ns()
    return (c is not None and c["quality"] == 0 and
            now_ns - c["t_ns"] < within_s * 1e9)


def deep(cfg):
    return copy.deepcopy(cfg)
