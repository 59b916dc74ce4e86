"""The gateway polls a simulated fleet: 31 RTU devices on a pty pair and 10
Modbus TCP peers (tests/integration/mbsim.py), and its channels hold the
values the register images decode to (tests/data/profiles/*.json "expect",
whose tolerances are the float32 resolution of each value)."""

import math
import signal
import time

import pytest

import mbsim
from modbus_fleet import Fleet, Q_INVALID

START_S = 30.0


@pytest.fixture
def fleet(tmp_path):
    f = Fleet(tmp_path).start()
    yield f
    f.stop()


def all_good(expected):
    def pred(chs):
        return all(chs.get(n, {}).get("quality") == 0 for n in expected)
    return pred


def test_modbus_fleet_of_31_rtu_devices_and_10_tcp_peers_holds_the_scaled_values(
        fleet, pqgate):
    d = pqgate(fleet.config)
    d.wait_for(r"started")
    expected = fleet.expected()
    assert len([n for n in expected if n.startswith("bus1.")]) >= 31 * 20
    assert len({n.split("/")[0] for n in expected if not n.startswith("bus1.")}) == 11
    chs = fleet.wait(all_good(expected), START_S, "good value on every channel", d)
    wrong = []
    for name, (value, tol) in expected.items():
        got = chs[name]["value"]
        if got is None or not math.isclose(got, value, rel_tol=0, abs_tol=tol):
            wrong.append(f"{name}: {got} != {value} +- {tol}")
    assert not wrong, "\n".join(wrong[:20])
    # units come from the profiles
    assert chs["bus1.dev1/u_rms/a"]["unit"] == "V"
    assert chs["bus1.dev1/energy/kwh_del"]["unit"] == "kWh"
    # every device is up, with requests and no errors (health: once a second)
    chs = fleet.wait(lambda c: all(c[f"{dev}/health/state"]["value"] == 1
                                   for dev in fleet.images), 5, "health published", d)
    for dev in fleet.images:
        assert chs[f"{dev}/health/state"]["value"] == 1, dev
        assert chs[f"{dev}/health/requests"]["value"] >= 1, dev
        assert chs[f"{dev}/health/errors"]["value"] == 0, dev
        assert chs[f"{dev}/health/latency_ms"]["value"] > 0, dev
    d.stop()


def test_modbus_values_carry_the_time_of_their_read_and_keep_updating(fleet, pqgate):
    d = pqgate(fleet.config)
    d.wait_for(r"started")
    names = ["bus1.dev1/u_rms/a", "bus1.dev30/freq", "plant.main/p/total",
             "site6.meter/u_rms/c"]
    first = fleet.wait(lambda c: all(fleet.fresh(c, n) for n in names), START_S,
                       "fresh values", d)
    t0 = {n: first[n]["t_ns"] for n in names}
    later = fleet.wait(lambda c: all(c[n]["t_ns"] >= t0[n] + 1.5e9 for n in names), 10,
                       "values read again 1.5 s later (poll 1 s)", d)
    now = time.time_ns()
    for n in names:
        # the time of the read, not of the publication: within the poll
        # period and the tolerance of Fleet.max_age_s (the channels file's
        # period, the bus cycle from the health figures, scheduling slack)
        age_s = (now - later[n]["t_ns"]) / 1e9
        assert 0 <= age_s < fleet.max_age_s(later, n.split("/")[0]), (n, age_s)
        assert later[n]["quality"] == 0


def test_modbus_counter_increments_reach_the_channel(fleet, pqgate):
    # generic-float32: energy/kwh_del is a float32 at holding 54 (counter)
    fleet.sim.add_live("serial", 5, "holding", 54, kind="float32", step=0.5, period=0.5)
    d = pqgate(fleet.config)
    d.wait_for(r"started")
    name = "bus1.dev5/energy/kwh_del"
    c1 = fleet.wait(lambda c: fleet.fresh(c, name), START_S, "energy", d)[name]["value"]
    c2 = fleet.wait(lambda c: fleet.fresh(c, name) and c[name]["value"] >= c1 + 2.0, 15,
                    "energy counting up", d)[name]
    assert c2["quality"] == 0
    # 1 kWh per second on the simulator; a 1 s poll sees steps of about 1
    assert c2["value"] - c1 >= 2.0


def test_modbus_never_read_device_publishes_nan_invalid_and_stale(tmp_path, pqgate):
    def edit(cfg):
        cfg["buses"][0]["devices"][30]["name"] = "ghost"  # unit 31

    f = Fleet(tmp_path, extra_peers=0, edit=edit)
    # the simulator does not serve 31: like a device that is not there
    f.sim.servers["serial"].set_fault(31, "silent")
    f.start()
    try:
        d = pqgate(f.config)
        d.wait_for(r"started")
        m = d.wait_for(r"event: modbus device_lost bus1\.ghost: not answering: read holding "
                       r"0\+64: timeout", timeout=20)
        assert m
        chs = f.wait(lambda c: c.get("bus1.ghost/health/state", {}).get("value") == 2, 20,
                     "ghost down", d)
        v = chs["bus1.ghost/u_rms/a"]
        assert v["value"] is None and v["quality"] == Q_INVALID | 2
        assert chs["bus1.ghost/health/timeouts"]["value"] >= 1
        # its neighbours are untouched: read again on time while it is down
        late = f.read_again(["bus1.dev1", "bus1.dev30"], {"bus1"}, d)
        assert not late, "\n".join(late)
    finally:
        f.stop()


def test_modbus_counter_reset_and_glitch_are_events_and_the_total_never_falls(
        fleet, pqgate):
    d = pqgate(fleet.config)
    d.wait_for(r"started")
    name = "bus1.dev4/energy/kwh_del"
    before = fleet.wait(lambda c: fleet.fresh(c, name), START_S, "energy", d)[name]["value"]
    assert before == pytest.approx(123456.5, abs=0.01)  # the image's reading
    # the meter restarts from zero: what it counted since the reset is added
    mark = d.mark()
    fleet.sim.set_registers("serial", 4, "holding", 54, mbsim.float32_regs(0.5))
    d.wait_for(r"event: modbus counter_reset bus1\.dev4: energy/kwh_del: counter reset: "
               r"reading 0\.5 after 123456\.5; total 123457 kWh", since=mark, timeout=10)
    after = fleet.wait(lambda c: fleet.fresh(c, name) and c[name]["value"] > before, 10,
                       "total after the reset", d)[name]
    assert after["value"] == pytest.approx(123457.0, abs=0.01)
    # one absurd reading (1e9 kWh in a second, max_step 1000 kWh/s) is held
    mark = d.mark()
    fleet.sim.set_registers("serial", 4, "holding", 54, mbsim.float32_regs(1e9))
    d.wait_for(r"event: modbus counter_glitch bus1\.dev4: energy/kwh_del: counter glitch",
               since=mark, timeout=10)
    chs = fleet.channels()
    assert chs[name]["value"] == pytest.approx(123457.0, abs=0.01)
    # the reading drops back: the spike was a glitch, forgotten
    fleet.sim.set_registers("serial", 4, "holding", 54, mbsim.float32_regs(1.0))
    # a read stamped more than the bus timeout (500 ms) after the change was
    # asked after it: it sees 1.0
    t_set = time.time_ns() + 0.5e9
    chs = fleet.wait(lambda c: c[name]["t_ns"] > t_set and c[name]["quality"] == 0, 10,
                     "energy read after the glitch", d)
    assert chs[name]["value"] == pytest.approx(123457.5, abs=0.01)
    assert chs[name]["quality"] == 0


def test_modbus_sunspec_device_missing_at_start_is_found_when_it_answers(tmp_path, pqgate):
    f = Fleet(tmp_path, extra_peers=0)
    f.sim.servers["pv"].set_fault(1, "silent")
    f.start()
    try:
        d = pqgate(f.config)
        d.wait_for(r"started")
        d.wait_for(r"pv\.meter: SunSpec discovery: .*; trying again with backoff", timeout=15)
        mark = d.mark()
        f.sim.servers["pv"].set_fault(1, None)
        d.wait_for(r"pv\.meter: SunSpec device found at 40000: .* meter model 203",
                   since=mark, timeout=20)
        expect = {f"pv.meter/{ch}": e for ch, e in f.images["pv.meter"]["expect"].items()}
        chs = f.wait(lambda c: all(c.get(n, {}).get("quality") == 0 for n in expect), 10,
                     "SunSpec values", d)
        for n, e in expect.items():
            assert chs[n]["value"] == pytest.approx(e["value"], abs=e["tol"]), n
    finally:
        f.stop()


def test_modbus_reload_restarts_the_ports_and_polling_goes_on(fleet, pqgate):
    d = pqgate(fleet.config)
    d.wait_for(r"started")
    name = "bus1.dev2/u_rms/a"
    fleet.wait(lambda c: fleet.fresh(c, name), START_S, "values", d)
    mark = d.mark()
    d.send_signal(signal.SIGHUP)
    d.wait_for(r"config reloaded", since=mark, timeout=10)
    t_reload = time.time_ns()
    chs = fleet.wait(lambda c: c[name]["t_ns"] > t_reload and c[name]["quality"] == 0, 10,
                     "values read after the reload", d)
    assert chs[name]["value"] == pytest.approx(230.4, abs=0.001)
    assert "device_lost" not in d.log(mark)
    d.stop()
