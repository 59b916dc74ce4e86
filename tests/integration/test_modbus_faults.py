"""Faults on the downstream fleet: each gives a logged error naming the
device and the register, the right health figures, and no effect on the
other devices (their values keep being read every poll period).

One simulated fleet and one gateway for the module; each test breaks its
own device (and mends it afterwards), so the others stay a control group.
"""

import re
import time

import pytest

from modbus_fleet import Fleet, Q_INVALID, Q_STALE, start_daemon, stop_daemon

START_S = 30.0


def edit(cfg):
    peers = cfg["peers"]
    # a TCP peer that accepts and never answers, one that resets
    peers.append({"name": "mute", "host": "127.0.0.1", "port": 1, "timeout": "300ms",
                  "devices": [{"name": "meter", "unit": 1, "profile": "generic-float32",
                               "poll": "1s"}]})
    peers.append({"name": "rst", "host": "127.0.0.1", "port": 1, "timeout": "300ms",
                  "devices": [{"name": "meter", "unit": 1, "profile": "generic-float32",
                               "poll": "1s"}]})
    # dev12's map reads past the device's end: 40 registers, reads of 32
    dev12 = cfg["buses"][0]["devices"][11]
    dev12["max_regs"] = 32
    dev12["_size"] = 40


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    f = Fleet(tmp, extra_peers=2, edit=edit)
    mute = f.sim.tcp_blackhole()
    rst = f.sim.tcp_reset()
    for p in f.cfg["peers"]:
        if p["name"] == "mute":
            p["port"] = mute
        elif p["name"] == "rst":
            p["port"] = rst
    f.sim.servers.pop("mute")
    f.sim.servers.pop("rst")
    f.start()  # writes the config, with the ports the simulator bound
    d = start_daemon(tmp, f.config)
    d.wait_for(r"started")
    f.wait(lambda c: f.fresh(c, "bus1.dev1/u_rms/a", {"bus1"}), START_S, "first values", d)
    yield f, d
    stop_daemon(d)
    f.stop()


def others_on_time(f, d, skip, broken):
    """Every device but those in skip (and the broken peers, pv and dev12)
    is read good again from now on, each within its poll interval and the
    tolerance of Fleet.max_age_s: the port in broken may lose one timeout to
    its broken device, no more (so a broken device does not delay the
    others; one that stalls its port fails at once).  [late ones]."""
    devs = [dev for dev in f.images
            if dev not in skip and dev.split(".")[0] not in ("mute", "rst", "pv") and
            dev != "bus1.dev12"]
    return f.read_again(devs, broken, d)


def health(chs, dev, what):
    """A health figure; -1 before the first publication."""
    v = chs.get(f"{dev}/health/{what}", {}).get("value")
    return -1 if v is None else v


def test_modbus_silent_rtu_device_is_lost_stale_then_back(gw):
    f, d = gw
    dev = "bus1.dev7"
    good = f.wait(lambda c: f.fresh(c, f"{dev}/u_rms/a", {"bus1"}), 10, "dev7 good", d)
    value = good[f"{dev}/u_rms/a"]["value"]
    mark = d.mark()
    f.sim.set_fault("serial", 7, "silent")
    d.wait_for(r"event: modbus device_lost bus1\.dev7: lost: read holding 0\+64: timeout",
               since=mark, timeout=10)
    chs = f.wait(lambda c: health(c, dev, "state") == 2, 10, "dev7 down", d)
    assert health(chs, dev, "timeouts") >= 1
    assert health(chs, dev, "errors") >= health(chs, dev, "timeouts")
    # the last good value again, marked stale, with the time it was read
    v = chs[f"{dev}/u_rms/a"]
    assert v["quality"] == Q_STALE and v["value"] == value
    assert time.time_ns() - v["t_ns"] > 0.5e9
    # while it is down, every other device is still read on time
    late = others_on_time(f, d, {dev}, {"bus1"})
    assert not late, "\n".join(late)
    # back: within one backoff period (1 s doubling; silent a few seconds)
    mark = d.mark()
    f.sim.set_fault("serial", 7, None)
    d.wait_for(r"event: modbus device_back bus1\.dev7: answering again after [0-9.]+ s",
               since=mark, timeout=15)
    chs = f.wait(lambda c: (f.fresh(c, f"{dev}/u_rms/a", {"bus1"}) and
                            health(c, dev, "state") == 1), 10, "dev7 good again", d)
    assert health(chs, dev, "last_good_age_s") < 3


def test_modbus_exception_answers_are_logged_with_the_register_and_counted(gw):
    f, d = gw
    dev = "bus1.dev8"
    mark = d.mark()
    f.sim.set_fault("serial", 8, "exception")
    d.wait_for(r"modbus: bus1\.dev8 read holding 0\+64: exception 4 \(server device "
               r"failure\)", since=mark, timeout=10)
    chs = f.wait(lambda c: health(c, dev, "exceptions") >= 2, 10, "exceptions counted", d)
    assert chs[f"{dev}/u_rms/a"]["quality"] == Q_STALE
    # an exception is a prompt answer: it costs the bus no timeout
    late = others_on_time(f, d, {dev}, ())
    assert not late, "\n".join(late)
    f.sim.set_fault("serial", 8, None)
    d.wait_for(r"modbus: bus1\.dev8 read holding 0\+64: good again", since=mark, timeout=10)
    f.wait(lambda c: f.fresh(c, f"{dev}/u_rms/a", {"bus1"}), 10, "dev8 good again", d)


@pytest.mark.parametrize("unit,mode", [(9, "garbage"), (11, "badcrc")])
def test_modbus_garbage_and_wrong_crc_on_the_line_are_errors_of_that_device_only(
        gw, unit, mode):
    f, d = gw
    dev = f"bus1.dev{unit}"
    mark = d.mark()
    f.sim.set_fault("serial", unit, mode)
    m = d.wait_for(rf"event: modbus device_lost bus1\.dev{unit}: (lost|not answering): "
                   r"read holding 0\+64: (bad or short frame|timeout \(no answer\))",
                   since=mark, timeout=10)
    why = m.group(2)
    if mode == "badcrc":
        assert why == "bad or short frame", m.group(0)
    else:
        assert why in ("bad or short frame", "timeout (no answer)"), m.group(0)
    chs = f.wait(lambda c: health(c, dev, "errors") >= 1, 10, "errors counted", d)
    assert chs[f"{dev}/u_rms/a"]["quality"] == Q_STALE
    late = others_on_time(f, d, {dev}, {"bus1"})
    assert not late, "\n".join(late)
    mark = d.mark()
    f.sim.set_fault("serial", unit, None)
    d.wait_for(rf"event: modbus device_back bus1\.dev{unit}: answering again", since=mark,
               timeout=15)
    f.wait(lambda c: f.fresh(c, f"{dev}/u_rms/a", {"bus1"}), 10, f"{dev} good again", d)


def test_modbus_tcp_peer_that_never_answers_is_its_own_timeout(gw):
    f, d = gw
    d.wait_for(r"event: modbus device_lost mute\.meter: not answering: read holding 0\+64: "
               r"timeout",
               timeout=10)
    chs = f.wait(lambda c: health(c, "mute.meter", "state") == 2, 10, "mute down", d)
    assert health(chs, "mute.meter", "timeouts") >= 1
    v = chs["mute.meter/u_rms/a"]
    assert v["value"] is None and v["quality"] == Q_INVALID | Q_STALE
    late = others_on_time(f, d, set(), ())
    assert not late, "\n".join(late)


def test_modbus_tcp_peer_that_resets_the_connection_is_logged_and_down(gw):
    f, d = gw
    m = d.wait_for(r"event: modbus device_lost rst\.meter: not answering: read holding "
                   r"0\+64: (\S.*)$", timeout=10)
    assert m.group(1)  # the link's own error: reset, refused or a timeout
    chs = f.wait(lambda c: health(c, "rst.meter", "state") == 2, 10, "rst down", d)
    assert health(chs, "rst.meter", "errors") >= 1
    assert chs["rst.meter/u_rms/a"]["quality"] == Q_INVALID | Q_STALE
    late = others_on_time(f, d, set(), ())
    assert not late, "\n".join(late)


def test_modbus_map_past_the_device_end_is_an_exception_and_the_other_reads_stay_good(gw):
    f, d = gw
    dev = "bus1.dev12"
    d.wait_for(r"modbus: bus1\.dev12 read holding 32\+32: exception 2 \(illegal data "
               r"address\)", timeout=10)
    chs = f.wait(lambda c: f.fresh(c, f"{dev}/u_rms/a", {"bus1"}), 10,
                 "dev12 first read good", d)
    # holding 0..31 is read: u_rms/a (0) .. p/c (26) and q/a (30) are good
    assert chs[f"{dev}/u_rms/a"]["quality"] == 0
    assert chs[f"{dev}/q/a"]["quality"] == 0
    # holding 32..63 is refused: q/b (32) onwards never read
    for ch in ("q/b", "energy/kwh_del", "energy/kvah"):
        assert chs[f"{dev}/{ch}"]["value"] is None
        assert chs[f"{dev}/{ch}"]["quality"] == Q_INVALID | Q_STALE
    # the device answers: it is up, with its exceptions counted
    assert health(chs, dev, "state") == 1
    assert health(chs, dev, "exceptions") >= 1
    # logged once, not every poll
    log = d.log()
    assert len(re.findall(r"bus1\.dev12 read holding 32\+32: exception", log)) == 1
