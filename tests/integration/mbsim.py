#!/usr/bin/python3
"""mbsim - a downstream Modbus fleet for tests and the demo (pymodbus 3.0).

A library and a command line.  It serves many unit ids on one Modbus RTU
server at one end of a socat pty pair (the gateway opens the other end, as
a serial bus), and Modbus TCP servers on 127.0.0.1.  Each unit has its own
datastore (ModbusSlaveContext(zero_mode=True): protocol address = datastore
address; ModbusServerContext(single=False)), filled from a register image:

    {"profile": "generic-float32",
     "registers": {"holding": {"<addr>": uint16, ...}, "input": {...},
                   "coils": {"<addr>": 0|1}, "discrete": {...}},
     "expect": {"<channel>": {"value": v, "tol": t}, ...}}

tests/data/profiles/<profile>.json holds one per shipped profile.  A unit
answers reads from address 0 up to its image's last address (or `size`
registers): past that, exception 2 (illegal data address), as a real
device whose map ends there.

Faults, per unit, switchable while running (set_fault()):
    None         answer normally
    "silent"     no answer at all (as a missing RS-485 device)
    "exception"  answer every request with exception 4 (server device failure)
    "garbage"    (RTU) write 7 bytes of noise on the line instead of the frame
    "badcrc"     (RTU) the right frame with its CRC inverted
and whole TCP peers that misbehave: tcp_blackhole() accepts and never
answers; tcp_reset() accepts, reads the request and resets the connection.

Values can move: add_live() makes a register count up (a float32 or uint32
energy, a uint16) every period, so tests see live updates.

Library:
    sim = Sim(tmpdir)
    gw_tty = sim.serial({1: image, 2: image})       # RTU units on a pty pair
    name = sim.tcp({1: image})                      # a TCP peer
    sim.start()
    port = sim.port(name)        # the port it bound: known once started
    sim.set_fault("serial", 7, "silent")
    ...
    sim.stop()

Command line (the demo runs this):
    mbsim.py --demo DIR             a few RTU units on DIR/ttyS-gw, TCP peers
                                    on 127.0.0.1:5020 and :5021; runs until
                                    SIGTERM or SIGINT; writes DIR/mbsim.pid
    mbsim.py --dir DIR --rtu 1-31:generic-float32 --tcp 0:1-3:generic-float32

TCP port 0 (and the library's default) lets the system choose a free port
as the server binds it, so no other process can take it between a choice
and the bind; the ports bound are printed on the "mbsim: serving" line.

Only the standard library, pymodbus, pyserial(-asyncio) and socat.
Everything listens on 127.0.0.1 only.
"""

import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.device import ModbusDeviceIdentification
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.framer.socket_framer import ModbusSocketFramer
from pymodbus.mei_message import ReadDeviceInformationResponse
from pymodbus.pdu import ExceptionResponse
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer

REPO = Path(__file__).resolve().parents[2]
PROFILE_DATA = REPO / "tests" / "data" / "profiles"
TABLES = {"coils": "co", "discrete": "di", "holding": "hr", "input": "ir"}
FAULTS = (None, "silent", "exception", "garbage", "badcrc")
GARBAGE = b"\x55\xaa\x00\xff\x13\x37\x42"

log = logging.getLogger("mbsim")
# pymodbus logs every exception answer and dropped connection at ERROR:
# here they are what the simulator is asked to do.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


def crc16_modbus(data):
    """CRC-16/MODBUS (Modbus over Serial Line V1.02, 6.2.2): polynomial
    0xA001 reflected, initial 0xFFFF; sent low byte first."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def load_image(profile):
    """The register image of a shipped profile (tests/data/profiles)."""
    return json.loads((PROFILE_DATA / f"{profile}.json").read_text())


def float32_regs(v):
    """A float32 as two registers, most significant first (ABCD)."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", v))
    return [hi, lo]


def _block(table, size):
    values = [0] * max(size, 1)
    for addr, v in table.items():
        a = int(addr)
        if a < size:
            values[a] = int(v)
    return ModbusSequentialDataBlock(0, values)


def make_context(image, size=None):
    """A unit's datastore from an image; size limits every table to that
    many registers (a device whose map ends there)."""
    regs = image.get("registers", {})
    blocks = {}
    for name, key in TABLES.items():
        table = regs.get(name, {})
        n = max((int(a) for a in table), default=-1) + 1
        if size is not None:
            n = size
        blocks[key] = _block(table, n)
    return ModbusSlaveContext(zero_mode=True, **blocks)


class Unit:
    """One simulated device: its datastore, identity and fault mode."""

    def __init__(self, unit, image, size=None, identity=None):
        self.unit = unit
        self.image = image
        self.context = make_context(image, size)
        self.fault = None
        profile = image.get("profile", "device")
        self.identity = identity or ("pqgate-sim", profile, "1.0")


class _Server:
    """A server and its units: one RTU bus or one TCP peer."""

    def __init__(self, kind, units):
        self.kind = kind
        self.units = dict(units)  # unit id -> Unit
        self.context = ModbusServerContext(
            slaves={u: x.context for u, x in self.units.items()}, single=False)
        self.server = None
        self.port = None
        self.path = None

    def set_fault(self, unit, mode):
        if mode not in FAULTS:
            raise ValueError(f"fault {mode!r}: expected one of {FAULTS}")
        u = self.units[unit]
        u.fault = mode
        # a silent unit is one the server does not serve: no answer at all
        if mode == "silent":
            if unit in self.context:
                del self.context[unit]
        elif unit not in self.context:
            self.context[unit] = u.context

    def manipulate(self, response):
        """pymodbus's response_manipulator: faults and per-unit identity."""
        u = self.units.get(response.unit_id)
        if u is None:
            return response, False
        if isinstance(response, ReadDeviceInformationResponse):
            info = {0: u.identity[0], 1: u.identity[1], 2: u.identity[2]}
            r = ReadDeviceInformationResponse(response.read_code, info)
            r.unit_id, r.transaction_id = response.unit_id, response.transaction_id
            return r, False
        if u.fault == "exception":
            code = response.function_code & 0x7F
            r = ExceptionResponse(code, 4)  # server device failure
            r.unit_id, r.transaction_id = response.unit_id, response.transaction_id
            return r, False
        if self.kind == "rtu" and u.fault in ("garbage", "badcrc"):
            if u.fault == "garbage":
                return GARBAGE, True
            frame = struct.pack(">BB", response.unit_id, response.function_code)
            frame += response.encode()
            crc = crc16_modbus(frame) ^ 0xFFFF  # wrong on purpose
            return frame + struct.pack("<H", crc), True
        return response, False


class _Silent:
    """A TCP peer that misbehaves: 'blackhole' accepts and never answers,
    'reset' reads a request and resets the connection (RST)."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self.mode == "blackhole":
                self.conns.append(c)  # keep it open, read nothing
                continue
            c.settimeout(2)
            try:
                c.recv(260)
            except OSError:
                pass
            # SO_LINGER 0: close sends RST instead of FIN
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()

    def stop(self):
        self.stopping = True
        self.sock.close()
        for c in self.conns:
            c.close()
        self.thread.join(2)


def wait_accepting(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing accepting on 127.0.0.1:{port}")
            time.sleep(0.02)


class Sim:
    """The simulated fleet: one asyncio loop on a thread of its own."""

    def __init__(self, workdir):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.servers = {}  # name -> _Server
        self.silents = []
        self.socat = None
        self.loop = None
        self.thread = None
        self.lives = []
        self._stop_live = threading.Event()
        self._live_thread = None

    # -- building ----------------------------------------------------------

    def serial(self, units, name="serial"):
        """RTU units on a pty pair; returns the path the gateway opens."""
        if shutil.which("socat") is None:
            raise RuntimeError("socat is not installed (packaging/deps.sh)")
        s = _Server("rtu", {u: _unit(u, x) for u, x in units.items()})
        s.path = self.dir / "ttyS-gw"
        self.servers[name] = s
        return str(s.path)

    def tcp(self, units, name=None, port=None):
        """A TCP peer on 127.0.0.1 serving units; returns its name.  With no
        port (or 0) the server binds port 0 at start(): the system picks a
        free port atomically with the bind (no window in which another
        process could take it); port(name) says which, after start()."""
        s = _Server("tcp", {u: _unit(u, x) for u, x in units.items()})
        s.port = port or 0
        name = name or (f"tcp{port}" if port else f"tcp-{len(self.servers)}")
        self.servers[name] = s
        return name

    def port(self, name):
        """The TCP port server name listens on (after start())."""
        p = self.servers[name].port
        if not p:
            raise RuntimeError(f"{name}: not started, no port yet")
        return p

    def tcp_blackhole(self):
        p = _Silent("blackhole")
        self.silents.append(p)
        return p.port

    def tcp_reset(self):
        p = _Silent("reset")
        self.silents.append(p)
        return p.port

    # -- running -----------------------------------------------------------

    def start(self):
        if any(s.kind == "rtu" for s in self.servers.values()):
            self._start_socat()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        for s in self.servers.values():
            asyncio.run_coroutine_threadsafe(self._serve(s), self.loop).result(30)
        for s in self.servers.values():
            if s.kind == "tcp":
                wait_accepting(s.port)
        for p in self.silents:
            p.thread.start()
        self._start_live()
        return self

    def _start_live(self):
        if self.lives and self.loop is not None and self._live_thread is None:
            self._live_thread = threading.Thread(target=self._live_loop, daemon=True)
            self._live_thread.start()

    def _start_socat(self):
        gw, dev = self.dir / "ttyS-gw", self.dir / "ttyS-dev"
        for p in (gw, dev):
            if p.is_symlink() or p.exists():
                p.unlink()
        self.socat = subprocess.Popen(
            ["socat", "-d", f"pty,raw,echo=0,link={gw}", f"pty,raw,echo=0,link={dev}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not (gw.exists() and dev.exists()):
            if self.socat.poll() is not None or time.monotonic() > deadline:
                err = self.socat.stderr.read().decode() if self.socat.poll() else ""
                raise RuntimeError(f"socat did not make the pty pair: {err}")
            time.sleep(0.01)

    async def _serve(self, s):
        ident = ModbusDeviceIdentification(info_name={"VendorName": "pqgate-sim"})
        if s.kind == "rtu":
            s.server = ModbusSerialServer(
                s.context, framer=ModbusRtuFramer, identity=ident,
                port=str(self.dir / "ttyS-dev"), baudrate=115200,
                ignore_missing_slaves=True, response_manipulator=s.manipulate)
            await s.server.start()
        else:
            s.server = ModbusTcpServer(
                s.context, framer=ModbusSocketFramer, identity=ident,
                address=("127.0.0.1", s.port), allow_reuse_address=True,
                ignore_missing_slaves=True, response_manipulator=s.manipulate,
                loop=asyncio.get_running_loop())
            task = asyncio.get_running_loop().create_task(s.server.serve_forever())
            await asyncio.wait({task, s.server.serving},
                               return_when=asyncio.FIRST_COMPLETED)
            if not s.server.serving.done():
                s.server = None
                task.result()  # the bind's error (a fixed port in use): raise it
                raise RuntimeError("the TCP server ended before serving")
            # the port bound (port 0: the one the system chose)
            s.port = s.server.server.sockets[0].getsockname()[1]

    def stop(self):
        self._stop_live.set()
        for p in self.silents:
            p.stop()
        if self.loop:
            for s in self.servers.values():
                if s.server is not None:
                    try:
                        asyncio.run_coroutine_threadsafe(s.server.shutdown(),
                                                         self.loop).result(5)
                    except Exception as e:  # noqa: BLE001 - best effort at teardown
                        log.warning("stopping %s: %s", s.kind, e)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
        if self.socat and self.socat.poll() is None:
            os.kill(self.socat.pid, signal.SIGTERM)
            try:
                self.socat.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.socat.pid, signal.SIGKILL)
                self.socat.wait()

    # -- changing it while it runs ----------------------------------------

    def _call(self, fn, *args):
        if self.loop is None:
            return fn(*args)
        done = threading.Event()
        out = []

        def run():
            try:
                out.append(fn(*args))
            finally:
                done.set()
        self.loop.call_soon_threadsafe(run)
        done.wait(5)
        return out[0] if out else None

    def set_fault(self, server, unit, mode):
        """server: the name given to serial()/tcp() ("serial", "tcpPORT")."""
        self._call(self.servers[server].set_fault, unit, mode)

    def set_registers(self, server, unit, table, addr, values):
        ctx = self.servers[server].units[unit].context
        self._call(ctx.setValues, {"coils": 1, "discrete": 2, "holding": 3,
                                   "input": 4}[table], addr, list(values))

    def get_registers(self, server, unit, table, addr, count):
        ctx = self.servers[server].units[unit].context
        return self._call(ctx.getValues, {"coils": 1, "discrete": 2, "holding": 3,
                                          "input": 4}[table], addr, count)

    def add_live(self, server, unit, table, addr, kind="float32", step=1.0, period=0.5,
                 wrap=None):
        """Count register addr up by step every period s (kind float32,
        uint32 or uint16, most significant register first); with wrap=(lo,
        hi) it starts again from lo past hi (a value that moves)."""
        self.lives.append(dict(server=server, unit=unit, table=table, addr=addr,
                               kind=kind, step=step, period=period, value=None,
                               wrap=wrap, next=time.monotonic()))
        self._start_live()

    def _live_loop(self):
        while not self._stop_live.wait(0.05):
            now = time.monotonic()
            for lv in self.lives:
                if now < lv["next"]:
                    continue
                lv["next"] = now + lv["period"]
                n = 1 if lv["kind"] == "uint16" else 2
                if lv["value"] is None:
                    regs = self.get_registers(lv["server"], lv["unit"], lv["table"],
                                              lv["addr"], n)
                    lv["value"] = _decode(lv["kind"], regs)
                lv["value"] += lv["step"]
                if lv["wrap"] and lv["value"] > lv["wrap"][1]:
                    lv["value"] = lv["wrap"][0]
                self.set_registers(lv["server"], lv["unit"], lv["table"], lv["addr"],
                                   _encode(lv["kind"], lv["value"]))


def _unit(u, x):
    return x if isinstance(x, Unit) else Unit(u, x)


def _decode(kind, regs):
    if kind == "uint16":
        return regs[0]
    raw = struct.pack(">HH", regs[0], regs[1])
    return struct.unpack(">f" if kind == "float32" else ">I", raw)[0]


def _encode(kind, v):
    if kind == "uint16":
        return [int(v) & 0xFFFF]
    if kind == "float32":
        return float32_regs(v)
    return list(struct.unpack(">HH", struct.pack(">I", int(v) & 0xFFFFFFFF)))


# -- command line -------------------------------------------------------------


def _units(spec):
    """'1-31' or '1,2,5' -> list of ints."""
    out = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


DEMO_RTU = {1: "generic-float32", 2: "generic-float32", 3: "generic-float32"}
DEMO_TCP = {5020: {1: "generic-float32"}, 5021: {1: "sunspec-203", 2: "generic-float32"}}


def _demo(sim):
    sim.serial({u: load_image(p) for u, p in DEMO_RTU.items()})
    for port, units in DEMO_TCP.items():
        sim.tcp({u: load_image(p) for u, p in units.items()}, name=f"tcp{port}", port=port)
    # generic-float32: the meters' total power (holding 28) moves and their
    # kWh (holding 54) count
    for server, u, kw in (("serial", 1, 45.0), ("serial", 2, 12.0), ("serial", 3, 7.5),
                          ("tcp5020", 1, 180.0), ("tcp5021", 2, 20.0)):
        sim.servers[server].units[u].context.setValues(3, 28, float32_regs(kw * 1e3))
        sim.add_live(server, u, "holding", 28, step=kw * 7.0, period=1.0,
                     wrap=(kw * 0.9e3, kw * 1.1e3))
        sim.add_live(server, u, "holding", 54, step=kw / 3600.0, period=1.0)


def main(argv=None):
    ap = argparse.ArgumentParser(description="a simulated Modbus fleet (pymodbus)")
    ap.add_argument("--dir", help="where the pty links go (ttyS-gw, ttyS-dev)")
    ap.add_argument("--demo", metavar="DIR",
                    help="the demo fleet (config/examples/demo.yaml): RTU units 1-3 on "
                         "DIR/ttyS-gw, TCP peers on 127.0.0.1:5020 (unit 1) and :5021 "
                         "(a SunSpec meter as unit 1, unit 2)")
    ap.add_argument("--rtu", action="append", default=[], metavar="UNITS:PROFILE",
                    help="serve UNITS (1-31 or 1,4) with PROFILE's image on the pty")
    ap.add_argument("--tcp", action="append", default=[], metavar="PORT:UNITS:PROFILE",
                    help="a TCP peer on 127.0.0.1:PORT serving UNITS")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if a.verbose else logging.WARNING,
                        format="mbsim: %(message)s")
    if a.verbose:
        logging.getLogger("pymodbus").setLevel(logging.DEBUG)
    workdir = a.demo or a.dir
    if not workdir:
        ap.error("give --dir DIR or --demo DIR")
    sim = Sim(workdir)
    if a.demo:
        _demo(sim)
    rtu = {}
    for spec in a.rtu:
        units, _, profile = spec.partition(":")
        rtu.update({u: load_image(profile) for u in _units(units)})
    if rtu:
        sim.serial(rtu)
    for spec in a.tcp:
        port, units, profile = spec.split(":", 2)
        sim.tcp({u: load_image(profile) for u in _units(units)}, port=int(port))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sim.start()
    pidfile = Path(workdir) / "mbsim.pid"
    pidfile.write_text(f"{os.getpid()}\n")
    tcp = [s.port for s in sim.servers.values() if s.kind == "tcp"]
    print(f"mbsim: serving; serial {Path(workdir) / 'ttyS-gw'}; tcp 127.0.0.1:{tcp}",
          flush=True)
    try:
        stop.wait()
    finally:
        sim.stop()
        pidfile.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
