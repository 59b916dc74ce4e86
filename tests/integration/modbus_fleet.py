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
        # generous timeouts: the simulator shares two loaded cores with the
        # gateway and the test; a fault is still seen within a second
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
