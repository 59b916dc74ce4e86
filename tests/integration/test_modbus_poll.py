"""The gateway polls a simulated fleet: 31 RTU devices on a pty pair and 10
Modbus TCP peers (tests/integration/mbsim.py), and its channels hold the
values the register images decode to (tests/data/profiles/*.json "expect",
whose tolerances are the float32 resolution of each value)."""

import math
import time

import pytest

from modbus_fleet import Fleet, Q_INVALID, fresh

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
    first = fleet.wait(lambda c: all(fresh(c, n, 3) for n in names), START_S,
                       "fresh values", d)
    t0 = {n: first[n]["t_ns"] for n in names}
    later = fleet.wait(lambda c: all(c[n]["t_ns"] >= t0[n] + 1.5e9 for n in names), 10,
                       "values read again 1.5 s later (poll 1 s)", d)
    now = time.time_ns()
    for n in names:
        # the time of the read, not of the publication: within the poll period
        assert 0 <= now - later[n]["t_ns"] < 3e9, n
        assert later[n]["quality"] == 0


def test_modbus_counter_increments_reach_the_channel(fleet, pqgate):
    # generic-float32: energy/kwh_del is a float32 at holding 54 (counter)
    fleet.sim.add_live("serial", 5, "holding", 54, kind="float32", step=0.5, period=0.5)
    d = pqgate(fleet.config)
    d.wait_for(r"started")
    name = "bus1.dev5/energy/kwh_del"
    c1 = fleet.wait(lambda c: fresh(c, name, 3), START_S, "energy", d)[name]["value"]
    c2 = fleet.wait(lambda c: fresh(c, name, 3) and c[name]["value"] >= c1 + 2.0, 15,
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
        # its neighbours are untouched
        assert fresh(chs, "bus1.dev1/u_rms/a", 3)
    finally:
        f.stop()
