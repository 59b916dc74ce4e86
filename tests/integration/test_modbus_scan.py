"""`pqgate modbus-scan`: the read plan of a config, and discovery of the
unit ids that answer on a serial bus (against mbsim on a pty pair)."""

import re

import pytest

import mbsim
from conftest import EXAMPLES

FLEET = EXAMPLES / "fleet.yaml"


def test_modbus_scan_plan_prints_each_device_its_reads_and_the_totals(pqgate_cli):
    rc, out, err = pqgate_cli("modbus-scan", "--plan", FLEET)
    assert rc == 0, err
    # generic-float32: 32 float32 values packed from holding 0: one read
    m = re.search(r"^bus1\.dev1  unit 1  profile generic-float32  \(32 points\)\n"
                  r"  read holding +0\+64\n"
                  r"  1 reads, 64 registers, minimum 64$", out, re.M)
    assert m, out
    # the device's own max_regs splits the Eastron map into reads of <= 40
    block = out.split("hvac.ahu1", 1)[1].split("\n#", 1)[0]
    counts = [int(c) for c in re.findall(r"read input +\d+\+(\d+)", block)]
    assert counts and max(counts) <= 40, block
    assert "pv.meter  unit 1  sunspec: models found at run time" in out
    t = re.search(r"^total: (\d+) devices planned, (\d+) reads per cycle, (\d+) registers "
                  r"read, minimum (\d+), ratio ([0-9.]+)$", out, re.M)
    assert t, out
    devices, reads, regs, minimum, ratio = t.groups()
    assert int(devices) == 31 + 4  # every device but the SunSpec one
    assert int(reads) >= int(devices)
    assert int(regs) >= int(minimum) > 0
    assert float(ratio) == pytest.approx(int(regs) / int(minimum), abs=0.001)


def test_modbus_scan_plan_of_a_missing_profile_names_the_device(pqgate_cli, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("gateway: {id: g}\n"
                   "buses:\n"
                   "  - name: b1\n"
                   "    device: /dev/ttyS9\n"
                   "    devices: [{name: m, unit: 3, profile: no-such-meter}]\n")
    rc, out, err = pqgate_cli("modbus-scan", "--plan", cfg)
    assert rc == 1
    assert "b1.m: profile 'no-such-meter'" in err, err


@pytest.fixture
def bus(tmp_path):
    sim = mbsim.Sim(tmp_path / "sim")
    generic = mbsim.load_image("generic-float32")
    em340 = mbsim.load_image("carlo-gavazzi-em340")
    units = {
        3: mbsim.Unit(3, generic),
        7: mbsim.Unit(7, em340, identity=("Carlo Gavazzi", "EM340-DIN AV2", "1.2")),
        # no usable identification: the profile is found by reading
        12: mbsim.Unit(12, generic, identity=("", "", "")),
    }
    tty = sim.serial(units)
    sim.start()
    cfg = tmp_path / "bus.yaml"
    cfg.write_text("gateway: {id: g}\n"
                   "buses:\n"
                   f"  - {{name: b1, device: {tty}, baud: 115200}}\n")
    yield sim, cfg
    sim.stop()


def test_modbus_scan_bus_finds_the_units_that_answer_and_the_profile_that_fits(
        pqgate_cli, bus):
    sim, cfg = bus
    # 200 ms: the simulator shares a loaded machine; a unit that misses its
    # timeout would look absent
    rc, out, err = pqgate_cli("modbus-scan", "--config", cfg, "--bus", "b1",
                              "--first", "1", "--last", "15", "--timeout", "200ms")
    assert rc == 0, err + out
    found = [int(u) for u in re.findall(r"^unit +(\d+)", out, re.M)]
    assert found == [3, 7, 12], out
    assert re.search(r'^unit +3  vendor "pqgate-sim"  product "generic-float32"', out, re.M)
    lines = out.splitlines()

    def fits(unit):
        i = next(k for k, l in enumerate(lines) if re.match(rf"unit +{unit}\b", l))
        return lines[i + 1]
    assert fits(3) == "  fits: generic-float32 (by identification)", out
    assert fits(7) == "  fits: carlo-gavazzi-em340 (by identification)", out
    assert "generic-float32" in fits(12) and "(by reading" in fits(12), out
    assert re.search(r"^unit +12  \(no device identification\)$", out, re.M), out
    assert "found 3 devices on b1" in out


def test_modbus_scan_bus_with_nobody_answering_exits_3(pqgate_cli, bus):
    sim, cfg = bus
    rc, out, err = pqgate_cli("modbus-scan", "--config", cfg, "--bus", "b1",
                              "--first", "20", "--last", "24", "--timeout", "20ms")
    assert rc == 3, err + out
    assert "found 0 devices on b1" in out


def test_modbus_scan_unknown_bus_is_an_error_naming_the_buses(pqgate_cli, bus):
    sim, cfg = bus
    rc, out, err = pqgate_cli("modbus-scan", "--config", cfg, "--bus", "b9")
    assert rc == 1
    assert "no serial bus 'b9' in the config (buses: b1)" in err, err


@pytest.mark.parametrize("args,msg", [
    ((), "give either --plan CONFIG or --bus NAME"),
    (("--bus", "b1", "--first", "0"), "expected 1 <= first <= last <= 247"),
    (("--bus", "b1", "--timeout", "fast"), "--timeout 'fast'"),
    (("--plan", "x.yaml", "--config", "y.yaml"), "drop --config"),
])
def test_modbus_scan_bad_usage_exits_2_with_a_reason(pqgate_cli, args, msg):
    rc, out, err = pqgate_cli("modbus-scan", *args)
    assert rc == 2
    assert msg in err, err


def test_modbus_scan_help_documents_the_exit_codes(pqgate_cli):
    rc, out, err = pqgate_cli("help", "modbus-scan")
    assert rc == 0
    for code in ("0 done", "1 invalid", "2 usage", "3 the bus was scanned"):
        assert code in out, out
