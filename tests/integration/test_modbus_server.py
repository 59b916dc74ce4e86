"""The Modbus TCP server of a running gateway, with mbpoll as a real client:
the own register map against what the simulated meter measures, exception
codes, write refusal with its security line, several clients at once, and
the documented map kept equal to `pqgate help modbus-map`."""

import math
import re
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import REPO

MBPOLL_TIMEOUT_S = 10
MBPOLL_WAIT_S = "3"  # mbpoll's response timeout: above any queueing on a loaded machine
VALUE = re.compile(r"^\[(\d+)\]:\s+(\S+)", re.M)

# The feeder of the sim meter below (primary values).
U = 230.0
I = 60.0
PF = 0.9
H5_U, H5_I = 0.03, 0.20

CONFIG = """\
gateway:
  id: gw-mbsrv
meter:
  source: sim
  nominal_voltage: 230 V
  nominal_frequency: 50 Hz
  wiring: wye
  ct: {{primary: 100 A, secondary: 5 A}}
  sim:
    realtime: true
    sample_rate: 25.6 kHz
    frequency: 50 Hz
    voltage: 230 V
    current: 60 A
    power_factor: 0.9
    harmonics:
      - {{order: 5, voltage: 3 %, current: 20 %}}
    noise: 0.05 %
modbus_server:
  enabled: {enabled}
  bind: 127.0.0.1
  port: {port}
  max_clients: {max_clients}
  writes:
    - {{unit: 7, first: 100, last: 199, clients: "127.0.0.1"}}
"""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp_path, enabled=True, max_clients=16):
    port = free_port()
    path = tmp_path / "mbsrv.yaml"
    path.write_text(CONFIG.format(enabled="true" if enabled else "false", port=port,
                                  max_clients=max_clients))
    return path, port


def mbpoll(port, unit, ref, count=1, kind="4", write=None, extra=()):
    """Run mbpoll once (0-based references): a read of count values, or with
    write the writing of those values; return (rc, stdout + stderr)."""
    argv = ["mbpoll", "-m", "tcp", "-p", str(port), "-a", str(unit), "-0", "-r", str(ref),
            "-t", kind, "-o", MBPOLL_WAIT_S, *extra, "-1"]
    if write is None:
        argv += ["-c", str(count), "127.0.0.1"]
    else:
        argv += ["127.0.0.1", *map(str, write)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=MBPOLL_TIMEOUT_S)
    return p.returncode, p.stdout + p.stderr


def read_values(port, unit, ref, count, kind="4"):
    rc, out = mbpoll(port, unit, ref, count, kind, extra=("-B",) if "float" in kind
                     else ())
    assert rc == 0, out
    vals = {int(a): b for a, b in VALUE.findall(out)}
    assert len(vals) == count, out
    return [vals[k] for k in sorted(vals)]


def read_regs(port, ref, count):
    return [int(v) for v in read_values(port, 255, ref, count)]


def wait_good(port, quality_reg, timeout=10.0):
    """Wait until a group's quality register reads 0 (every value good)."""
    deadline = time.monotonic() + timeout
    while True:
        q = read_regs(port, quality_reg, 1)[0]
        if q == 0:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"quality register {quality_reg} still {q:#x} after {timeout} s")
        time.sleep(0.1)


@pytest.fixture
def server(pqgate, tmp_path):
    path, port = write_config(tmp_path)
    d = pqgate(path)
    d.wait_for(rf"serving Modbus TCP on 127\.0\.0\.1:{port}")
    d.port = port
    yield d
    d.stop()


def test_mbpoll_reads_own_map_voltages_currents_frequency_as_measured(server):
    port = server.port
    wait_good(port, 1000)
    wait_good(port, 1100)
    wait_good(port, 1400)
    u = [float(v) for v in read_values(port, 255, 1002, 3, "4:float")]
    ull = [float(v) for v in read_values(port, 255, 1008, 3, "4:float")]
    i = [float(v) for v in read_values(port, 255, 1102, 3, "4:float")]
    f = float(read_values(port, 255, 1402, 1, "4:float")[0])
    # RMS with the 5th harmonic; the line-line 5th is a negative-sequence
    # harmonic, so |U_ll| = sqrt(3) x U_ln for it too
    u_rms = U * math.sqrt(1 + H5_U ** 2)
    for k in range(3):
        assert u[k] == pytest.approx(u_rms, abs=0.15)
        assert ull[k] == pytest.approx(math.sqrt(3) * u_rms, abs=0.3)
        assert i[k] == pytest.approx(I * math.sqrt(1 + H5_I ** 2), abs=0.02)
    assert f == pytest.approx(50.0, abs=0.001)
    # the same registers through function 4
    u4 = [float(v) for v in read_values(port, 255, 1002, 3, "3:float")]
    for k in range(3):
        assert u4[k] == pytest.approx(u_rms, abs=0.15)


def test_mbpoll_reads_active_power_and_pf_as_measured(server):
    port = server.port
    wait_good(port, 1200)
    p = [float(v) for v in read_values(port, 255, 1202, 4, "4:float")]
    pf = [float(v) for v in read_values(port, 255, 1302, 4, "4:float")]
    # fundamental power U I PF per phase; the 5th harmonic adds U5 I5 cos(phi5)
    # with |cos| <= 1: bound it instead of guessing the simulator's angle
    p1 = U * I * PF
    p5_max = U * H5_U * I * H5_I
    for k in range(3):
        assert abs(p[k] - p1) <= p5_max + 0.005 * p1
    assert p[3] == pytest.approx(sum(p[:3]), rel=1e-4)
    assert 0.8 < pf[3] <= 0.9 + 0.01


def test_mbpoll_reads_energy_as_int64_wh_growing_with_power(server):
    port = server.port
    wait_good(port, 2000)
    wait_good(port, 1200)

    def wh():
        w = read_regs(port, 2002, 4)
        return struct.unpack(">q", struct.pack(">4H", *w))[0]

    p_total = float(read_values(port, 255, 1208, 1, "4:float")[0])
    e0, t0 = wh(), time.monotonic()
    time.sleep(4.0)
    e1, t1 = wh(), time.monotonic()
    assert e0 > 0
    # published once a second: allow 1.5 s of power for the granularity and
    # the time mbpoll takes
    assert e1 - e0 == pytest.approx(p_total * (t1 - t0) / 3600, abs=p_total * 1.5 / 3600)
    # received energy: none on a load that draws power
    rec = read_regs(port, 2006, 4)
    assert struct.unpack(">q", struct.pack(">4H", *rec))[0] == 0


def test_mbpoll_header_says_no_device_blocks(server):
    assert read_regs(server.port, 0, 5) == [1, 0, 10000, 200, 99]


def test_mbpoll_address_outside_map_gets_illegal_data_address(server):
    rc, out = mbpoll(server.port, 255, 5000, 4)
    assert rc != 0
    assert "Illegal data address" in out, out
    # a float read running past the end of the voltage group
    rc, out = mbpoll(server.port, 255, 1000, 8, "4:float")
    assert rc != 0
    assert "Illegal data address" in out, out


def test_mbpoll_unit_on_no_bus_gets_gateway_path_unavailable(server):
    rc, out = mbpoll(server.port, 9, 0, 2)
    assert rc != 0
    assert "Gateway path unavailable" in out, out


def test_mbpoll_write_to_own_map_is_refused_and_logged(server):
    mark = server.mark()
    rc, out = mbpoll(server.port, 255, 1002, write=[12])
    assert rc != 0
    assert "Illegal function" in out, out
    server.wait_for(r"modbus_write_refused .*127\.0\.0\.1.*: function 6 to unit 255, the "
                    r"gateway's read-only map", since=mark)


def test_mbpoll_write_to_unit_on_no_bus_is_refused(server):
    rc, out = mbpoll(server.port, 7, 150, write=[1])
    assert rc != 0
    assert "Gateway path unavailable" in out, out


def raw_read(sock, tid, ref, count):
    """One function 3 read on an open connection; the registers."""
    sock.sendall(struct.pack(">HHHBBHH", tid, 0, 6, 255, 3, ref, count))
    answer = b""
    while len(answer) < 9 + 2 * count:
        chunk = sock.recv(512)
        assert chunk, "connection closed"
        answer += chunk
    assert struct.unpack(">H", answer[:2])[0] == tid
    assert answer[7] == 3, answer
    return struct.unpack(f">{count}H", answer[9:9 + 2 * count])


def test_several_mbpoll_clients_at_once_all_get_answers(server):
    port = server.port
    wait_good(port, 1000)
    # four connections held open the whole time, eight mbpoll runs at once
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(4)]
    try:
        for k, s in enumerate(held):
            assert raw_read(s, k, 0, 5) == (1, 0, 10000, 200, 99)
        procs = [subprocess.Popen(["mbpoll", "-m", "tcp", "-p", str(port), "-a", "255", "-0",
                                   "-r", "1002", "-c", "3", "-t", "4:float", "-B", "-o",
                                   MBPOLL_WAIT_S, "-1",
                                   "127.0.0.1"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for _ in range(8)]
        u_rms = U * math.sqrt(1 + H5_U ** 2)
        for p in procs:
            out, _ = p.communicate(timeout=MBPOLL_TIMEOUT_S)
            assert p.returncode == 0, out
            vals = [float(v) for _, v in VALUE.findall(out)]
            assert len(vals) == 3, out
            for v in vals:
                assert v == pytest.approx(u_rms, abs=0.15)
        for k, s in enumerate(held):
            q, _, hi, lo = raw_read(s, 100 + k, 1000, 4)
            assert q == 0
            u = struct.unpack(">f", struct.pack(">HH", hi, lo))[0]
            assert u == pytest.approx(u_rms, abs=0.15)
    finally:
        for s in held:
            s.close()


def test_client_over_max_clients_is_refused_others_served(pqgate, tmp_path):
    path, port = write_config(tmp_path, max_clients=2)
    d = pqgate(path)
    d.wait_for(rf"serving Modbus TCP on 127\.0\.0\.1:{port}")
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    try:
        # make sure both are accepted before the third arrives
        for s in held:
            s.sendall(struct.pack(">HHHBBHH", 1, 0, 6, 255, 3, 0, 1))
            assert len(s.recv(64)) == 11
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        assert extra.recv(16) == b""  # closed by the server
        extra.close()
        d.wait_for(r"connection from 127\.0\.0\.1 refused: 2 clients connected")
    finally:
        for s in held:
            s.close()
    # once they are gone a new client is served
    deadline = time.monotonic() + 5
    while True:
        rc, out = mbpoll(port, 255, 0, 1)
        if rc == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert rc == 0, out
    d.stop()


def test_bad_mbap_header_closes_only_that_client(server):
    good = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    bad = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    bad.sendall(struct.pack(">HHHBBHH", 1, 7, 6, 255, 3, 0, 1))  # protocol id 7
    assert bad.recv(16) == b""
    good.sendall(struct.pack(">HHHBBHH", 0x4242, 0, 6, 255, 3, 0, 1))
    answer = good.recv(64)
    assert answer[:2] == b"\x42\x42" and answer[7] == 3, answer
    good.close()
    bad.close()
    server.wait_for(r"bad MBAP header \(protocol 7, length 6\): closed")


def test_reload_keeps_serving_on_the_same_port(server):
    assert read_regs(server.port, 0, 1) == [1]
    mark = server.mark()
    server.send_signal(signal.SIGHUP)
    server.wait_for(r"config reloaded", since=mark)
    server.wait_for(rf"serving Modbus TCP on 127\.0\.0\.1:{server.port}", since=mark)
    assert read_regs(server.port, 0, 5) == [1, 0, 10000, 200, 99]


def test_disabled_server_does_not_listen(pqgate, tmp_path):
    path, port = write_config(tmp_path, enabled=False)
    d = pqgate(path)
    d.wait_for(r"started")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    d.stop()


def test_port_in_use_stops_the_daemon_with_a_clear_error(pqgate, tmp_path):
    path, port = write_config(tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", port))
        s.listen(1)
        d = pqgate(path)
        d.wait_for(rf"cannot serve Modbus TCP on 127\.0\.0\.1:{port}: Address already in use")
        rc, _ = d.wait_exit(10)
        assert rc == 1


def test_bad_writes_clients_is_a_config_error_with_location(pqgate_cli, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("gateway: {id: gw}\nmodbus_server:\n  enabled: true\n  writes:\n"
                    "    - {unit: 7, first: 10, last: 5, clients: \"10.0.0.300\"}\n"
                    "    - {unit: 255, first: 0, last: 5, clients: \"127.0.0.1\"}\n")
    rc, out, err = pqgate_cli("check-config", path)
    assert rc == 1
    assert re.search(r"bad\.yaml:5:\d+: modbus_server\.writes\[0\]\.clients: expected IPv4",
                     err), err
    assert re.search(r"bad\.yaml:6:\d+: modbus_server\.writes\[1\]\.unit: unit 255 is the "
                     r"gateway's own map", err), err


def test_bad_writes_range_is_a_config_error_with_location(pqgate_cli, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("gateway: {id: gw}\nmodbus_server:\n  writes:\n"
                    "    - {unit: 7, first: 10, last: 5, clients: \"10.0.0.1\"}\n")
    rc, out, err = pqgate_cli("check-config", path)
    assert rc == 1
    assert re.search(r"bad\.yaml:4:\d+: modbus_server\.writes\[0\]\.last: last \(5\) is "
                     r"below first \(10\)", err), err


def test_help_modbus_map_with_config_lists_device_blocks(pqgate_cli, tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text("""\
gateway: {id: gw}
buses:
  - name: bus1
    device: /dev/ttyUSB9
    devices:
      - {name: main, unit: 1, profile: generic-float32}
      - {name: hvac, unit: 2, sunspec: auto}
peers:
  - name: plant
    host: 127.0.0.1
    devices:
      - {name: pv, unit: 3, profile: eastron-sdm630}
""")
    rc, out, err = pqgate_cli("help", "modbus-map", "--config", path)
    assert rc == 0, err
    assert "| 0 | bus1.main/ | 1 | 10000-10199 |" in out
    assert "| 1 | bus1.hvac/ | 2 | 10200-10399 |" in out
    assert "| 2 | plant.pv/ | 3 | 10400-10599 |" in out
    # each device's channels in profile order, two registers each after the
    # quality and count registers
    assert "| 10002 | 2 | float32 | bus1.main/u_rms/a | V |" in out
    assert "| 10004 | 2 | float32 | bus1.main/u_rms/b | V |" in out
    assert re.search(r"### bus1\.hvac/ .*\n\nSunSpec", out), out
    assert "| 10402 | 2 | float32 | plant.pv/" in out


def test_docs_modbus_map_matches_the_table(pqgate_cli):
    """docs/modbus-map.md ends with `pqgate help modbus-map`: keep them equal."""
    rc, out, err = pqgate_cli("help", "modbus-map")
    assert rc == 0, err
    doc = (REPO / "docs" / "modbus-map.md").read_text()
    marker = "<!-- generated by `pqgate help modbus-map`: do not edit below -->\n"
    assert marker in doc
    assert doc.split(marker, 1)[1] == out, (
        "docs/modbus-map.md is out of date: regenerate its table with "
        "build/pqgate help modbus-map")


# ---- the gateway path: mbpoll -> our server -> RS-485 (a pty) -> pymodbus ----

RTU_SIM = """\
import sys
from pymodbus.server import StartSerialServer
from pymodbus.datastore import (ModbusSlaveContext, ModbusServerContext,
                                ModbusSequentialDataBlock)
from pymodbus.transaction import ModbusRtuFramer

port, units = sys.argv[1], [int(u) for u in sys.argv[2].split(",")]
# each unit its own store (single=False), 0-based addresses (zero_mode)
slaves = {u: ModbusSlaveContext(
    hr=ModbusSequentialDataBlock(0, [u * 1000 + i for i in range(300)]),
    ir=ModbusSequentialDataBlock(0, [u * 2000 + i for i in range(300)]),
    zero_mode=True) for u in units}
# parity none: pyserial-asyncio cannot set parity on a pty (EINVAL)
StartSerialServer(context=ModbusServerContext(slaves=slaves, single=False),
                  framer=ModbusRtuFramer, port=port, baudrate=19200, parity="N",
                  stopbits=1, bytesize=8, timeout=0.05)
"""

GW_CONFIG = """\
gateway:
  id: gw-mbgw
buses:
  - name: bus1
    device: {tty}
    baud: 19200
    parity: none
    timeout: 200ms
    devices:
      - {{name: meter1, unit: 1, profile: generic-float32, poll: 1s}}
      - {{name: silent, unit: 2, profile: generic-float32, poll: 1s}}
modbus_server:
  enabled: true
  bind: 127.0.0.1
  port: {port}
  gateway: {{cache_max_age: {cache}}}  # timeout: the device's (200 ms)
  writes:
    - {{unit: 1, first: 100, last: 199, clients: "127.0.0.1"}}
"""


@pytest.fixture
def rtu_bus(tmp_path):
    """A serial bus on one machine: a socat pty pair, the pymodbus RTU
    simulator serving unit 1 on one end.  Yields the gateway's end."""
    gw, dev = tmp_path / "ttyS-gw", tmp_path / "ttyS-dev"
    procs = []
    try:
        procs.append(subprocess.Popen(
            ["socat", "-d", f"pty,raw,echo=0,link={gw}", f"pty,raw,echo=0,link={dev}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while not (gw.exists() and dev.exists()):
            assert time.monotonic() < deadline, "socat made no ptys"
            time.sleep(0.02)
        sim = tmp_path / "rtu_sim.py"
        sim.write_text(RTU_SIM)
        procs.append(subprocess.Popen(["/usr/bin/python3", str(sim), str(dev), "1"],
                                      stdout=subprocess.DEVNULL,
                                      stderr=open(tmp_path / "sim.log", "wb")))
        # wait until the simulator answers (a state, not a fixed sleep)
        while True:
            p = subprocess.run(["mbpoll", "-m", "rtu", "-b", "19200", "-P", "none", "-a", "1",
                                "-0", "-r", "0", "-c", "1", "-o", "0.2", "-1", str(gw)],
                               capture_output=True, text=True, timeout=MBPOLL_TIMEOUT_S)
            if p.returncode == 0:
                break
            assert procs[1].poll() is None, (tmp_path / "sim.log").read_text()
            assert time.monotonic() < deadline, p.stdout + p.stderr
        yield gw
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=5)


def start_gateway(pqgate, tmp_path, tty, cache="0"):
    port = free_port()
    path = tmp_path / "gw.yaml"
    path.write_text(GW_CONFIG.format(tty=tty, port=port, cache=cache))
    d = pqgate(path)
    d.wait_for(rf"serving Modbus TCP on 127\.0\.0\.1:{port}.*gateway on")
    d.port = port
    return d


@pytest.fixture
def gateway(pqgate, tmp_path, rtu_bus):
    d = start_gateway(pqgate, tmp_path, rtu_bus)
    yield d
    d.stop()


def test_mbpoll_through_gateway_reads_downstream_rtu_device(gateway):
    vals = [int(v) for v in read_values(gateway.port, 1, 10, 5)]
    assert vals == [1010, 1011, 1012, 1013, 1014]
    vals = [int(v) for v in read_values(gateway.port, 1, 20, 3, "3")]  # function 4
    assert vals == [2020, 2021, 2022]


def test_mbpoll_through_gateway_silent_device_gets_0x0b(gateway):
    rc, out = mbpoll(gateway.port, 2, 0, 2)
    assert rc != 0
    assert "Target device failed to respond" in out, out


def test_mbpoll_through_gateway_unit_on_no_bus_gets_0x0a(gateway):
    rc, out = mbpoll(gateway.port, 9, 0, 2)
    assert rc != 0
    assert "Gateway path unavailable" in out, out


def test_mbpoll_through_gateway_write_allowed_range_reaches_device(gateway):
    rc, out = mbpoll(gateway.port, 1, 150, write=[4242])
    assert rc == 0, out
    assert [int(v) for v in read_values(gateway.port, 1, 150, 1)] == [4242]


def test_mbpoll_through_gateway_write_outside_range_is_refused(gateway):
    mark = gateway.mark()
    rc, out = mbpoll(gateway.port, 1, 250, write=[1])
    assert rc != 0
    assert "Illegal data address" in out, out
    gateway.wait_for(r"modbus_write_refused .*127\.0\.0\.1.*: function 6 to unit 1 addresses "
                     r"250\.\.250 refused \(exception 2\)", since=mark)
    assert [int(v) for v in read_values(gateway.port, 1, 250, 1)] == [1250]


def test_several_mbpoll_clients_through_gateway_share_the_bus(gateway):
    procs = [subprocess.Popen(["mbpoll", "-m", "tcp", "-p", str(gateway.port), "-a", "1",
                               "-0", "-r", str(10 * k), "-c", "4", "-o", MBPOLL_WAIT_S, "-1",
                               "127.0.0.1"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for k in range(6)]
    for k, p in enumerate(procs):
        out, _ = p.communicate(timeout=MBPOLL_TIMEOUT_S)
        assert p.returncode == 0, out
        vals = [int(v) for _, v in VALUE.findall(out)]
        assert vals == [1000 + 10 * k + i for i in range(4)], out


def test_gateway_cache_answers_reads_the_poller_holds(pqgate, tmp_path, rtu_bus):
    d = start_gateway(pqgate, tmp_path, rtu_bus, cache="5s")
    # the poller has read meter1 once its block in the own map is good:
    # generic-float32 has 32 values, the first from registers 0 and 1
    deadline = time.monotonic() + 10
    while read_regs(d.port, 10000, 2) != [0, 32]:
        assert time.monotonic() < deadline, read_regs(d.port, 10000, 2)
        time.sleep(0.1)
    # the device block mirrors the device: float32 words pass through unchanged
    assert read_regs(d.port, 10002, 4) == [1000, 1001, 1002, 1003]
    assert [int(v) for v in read_values(d.port, 1, 0, 10)] == list(range(1000, 1010))
    # past what the profile polls (64 registers): asks the device
    assert [int(v) for v in read_values(d.port, 1, 100, 2)] == [1100, 1101]
    mark = d.mark()
    d.stop()
    m = re.search(r"mbserver: stopped: .* (\d+) forwarded, (\d+) from cache", d.log(mark))
    assert m, d.log(mark)
    assert (int(m.group(1)), int(m.group(2))) == (1, 1)
