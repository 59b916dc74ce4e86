"""The live gateway: the simulated local meter through the engine onto the
channel bus, read back from the summary line (logging.summary)."""

import math
import re

import pytest

LINE = re.compile(
    r"meter: U (\S+) (\S+) (\S+) V \| I (\S+) (\S+) (\S+) A \| P (\S+) kW Q (\S+) kvar "
    r"PF (\S+) \| f (\S+) Hz \| THDu (\S+) % THDi (\S+) % \| u2 (\S+) % \| (\S+) kWh \| "
    r"demand (\S+) kW peak (\S+ \S+)")


def test_live_sim_meter_publishes_the_configured_feeder(pqgate, examples):
    d = pqgate(examples / "demo.yaml", "logging.summary=1s")
    d.wait_for(r"started")
    # skip the first summary: the first 200 ms windows are still filling
    mark = d.mark()
    d.wait_for(r"meter: U", since=mark, timeout=10)
    mark = d.mark()
    m = d.wait_for(LINE.pattern, since=mark, timeout=10)
    groups = LINE.search(m.group(0)).groups()
    v = [float(x) for x in groups[:-1]]
    peak = groups[-1]
    # demo.yaml: 230 V, 60 A at PF 0.9, 3 % / 2 % 5th and 7th in the
    # voltage, 20 % / 10 % in the current, 0.05 % noise
    u = 230 * math.sqrt(1 + 0.03 ** 2 + 0.02 ** 2)
    i = 60 * math.sqrt(1 + 0.2 ** 2 + 0.1 ** 2)
    for k in range(3):
        assert v[k] == pytest.approx(u, abs=0.15)
        assert v[3 + k] == pytest.approx(i, abs=0.02)
    assert v[9] == pytest.approx(50.0, abs=0.001)  # frequency
    assert v[10] == pytest.approx(100 * math.hypot(0.03, 0.02), abs=0.02)  # THDu
    assert v[11] == pytest.approx(100 * math.hypot(0.2, 0.1), abs=0.02)  # THDi
    assert v[12] == pytest.approx(0.0, abs=0.02)  # u2 of a balanced feeder
    assert v[13] > 0  # energy accumulates
    # demand: the running sliding-block value counts the time before
    # start-up as zero (a meter just powered up), so 0 < present <= P
    p_total = v[6]
    assert 0 < v[14] <= p_total * 1.01
    # the peak counts completed values only: none in the first 5 minutes
    assert peak == "none yet" or float(peak.split()[0]) >= v[14] * 0.99
    d.stop()
