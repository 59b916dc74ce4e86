"""WAGES pulse inputs, relay outputs and KY pulse outputs in the live daemon
(io.backend sim: generated pulse trains with contact bounce), read back from
logging.channels_file; totals survive a restart through the onboard store."""

import json
import sqlite3
import time

import pytest

CONFIG = """
gateway:
  id: gw-wages
store:
  path: {store}
  batch: 100ms
logging:
  channels_file: {channels}
io:
  backend: sim
  inputs:
    - {{name: di1, sim_rate: 20 Hz, sim_bounce: 3, debounce: 2ms}}
    - {{name: di2, sim_rate: 4 Hz, sim_bounce: 0}}
  outputs:
    - {{name: relay1}}
    - {{name: ky1}}
wages:
  - {{name: gas_main, kind: gas, input: di1, weight: 0.01, unit: m3}}
  - {{name: water, kind: water, input: di2, weight: 10, unit: l}}
  - {{name: gas_copy, kind: gas, channel: wages.gas_main/volume_m3, unit: m3}}
pulse_outputs:
  - {{name: ky, output: ky1, channel: wages.gas_main/volume_m3, weight: 0.05, width: 30ms}}
"""


def write_config(tmp_path):
    cfg = tmp_path / "wages.yaml"
    channels = tmp_path / "channels.json"
    cfg.write_text(CONFIG.format(store=tmp_path / "store.db", channels=channels))
    return cfg, channels


def read_channels(path):
    try:
        return json.loads(path.read_text())["channels"]
    except (OSError, ValueError, KeyError):
        return {}


def wait_channels(path, pred, timeout, what):
    end = time.monotonic() + timeout
    last = {}
    while time.monotonic() < end:
        last = read_channels(path)
        if last and pred(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: "
                         f"{ {k: v for k, v in last.items() if k.startswith(('wages', 'io'))} }")


def value(ch, name):
    return ch[name]["value"]


def test_wages_counts_bouncy_pulses_and_gives_flow(pqgate, tmp_path):
    cfg, channels = write_config(tmp_path)
    d = pqgate(cfg)
    d.wait_for(r"wages: 2 inputs, 2 outputs, 3 meters, 1 pulse outputs")
    ch = wait_channels(channels, lambda c: (c.get("wages.gas_main/pulses", {}).get("value")
                                            or 0) >= 40, 15, "40 gas pulses")
    pulses = value(ch, "wages.gas_main/pulses")
    # every pulse is 0.01 m3, the chatter (3 pairs per edge) never counts
    assert value(ch, "wages.gas_main/volume_m3") == pytest.approx(0.01 * pulses, abs=1e-9)
    assert ch["wages.gas_main/volume_m3"]["unit"] == "m3"
    # 20 pulses/s x 0.01 m3 = 720 m3/h; the flow comes from pulse intervals
    assert value(ch, "wages.gas_main/flow_m3_per_h") == pytest.approx(720.0, rel=0.01)
    # 4 pulses/s x 10 l = 144000 l/h
    assert value(ch, "wages.water/flow_l_per_h") == pytest.approx(144000.0, rel=0.01)
    assert value(ch, "wages.water/volume_l") == pytest.approx(
        10 * value(ch, "wages.water/pulses"), abs=1e-9)
    # a meter read through a channel follows its source
    ch = wait_channels(channels, lambda c: "wages.gas_copy/volume_m3" in c and
                       c["wages.gas_copy/volume_m3"]["value"] is not None, 5, "the copy")
    assert value(ch, "wages.gas_copy/volume_m3") == pytest.approx(
        value(ch, "wages.gas_main/volume_m3"), abs=0.05)
    d.stop()


def test_wages_totals_survive_a_restart(pqgate, tmp_path):
    cfg, channels = write_config(tmp_path)
    d = pqgate(cfg)
    wait_channels(channels, lambda c: (c.get("wages.water/pulses", {}).get("value")
                                       or 0) >= 8, 15, "8 water pulses")
    d.stop()
    db = sqlite3.connect(tmp_path / "store.db")
    saved = db.execute("SELECT value FROM kv WHERE key = 'wages.water.total'").fetchone()[0]
    db.close()
    assert saved >= 80.0
    channels.unlink()
    d2 = pqgate(cfg)
    # the saved total is published at start; pulses only once one is counted
    ch = wait_channels(channels, lambda c: (c.get("wages.water/pulses", {}).get("value")
                                            or 0) >= 1, 10, "a pulse after the restart")
    # it starts from the saved total and only grows
    assert value(ch, "wages.water/volume_l") >= saved
    assert value(ch, "wages.water/volume_l") == pytest.approx(
        saved + 10 * value(ch, "wages.water/pulses"), abs=1e-6)
    d2.stop()


def test_wages_meter_read_through_a_channel_needs_no_io(pqgate, tmp_path):
    """No io backend, one meter that follows a channel (here the status
    component's uptime, a total that only grows): the component runs without
    a pulse source and republishes the total with a flow."""
    channels = tmp_path / "channels.json"
    cfg = tmp_path / "chan.yaml"
    cfg.write_text(f"""
gateway:
  id: gw-chan
logging:
  channels_file: {channels}
wages:
  - {{name: steam, kind: steam, channel: gateway/uptime_s, unit: kg}}
""")
    d = pqgate(cfg)
    d.wait_for(r"wages: 0 inputs, 0 outputs, 1 meters, 0 pulse outputs")
    ch = wait_channels(channels, lambda c: (c.get("wages.steam/mass_kg", {}).get("value")
                                            or 0) >= 3, 10, "the followed total")
    assert value(ch, "wages.steam/mass_kg") == pytest.approx(
        value(ch, "gateway/uptime_s"), abs=1.01)
    # uptime grows 1 s per s: 3600 kg/h
    ch = wait_channels(channels, lambda c: (c.get("wages.steam/flow_kg_per_h", {})
                                            .get("value") or 0) > 0, 5, "a flow")
    assert value(ch, "wages.steam/flow_kg_per_h") == pytest.approx(3600.0, rel=0.05)
    assert d.alive()
    d.stop()
