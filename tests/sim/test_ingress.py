"""cocotb + Verilator runs of the network ingress (bench: sim/ingress/tb.py): parser in the MAC clock,
dual-clock ring, consumer in the 250 MHz user clock; every verdict, entry and counter against the
golden model, at several unrelated clock ratios, at line rate with the ring drained fast and slow."""
import json

import numpy as np
import pytest

from ringgate.sim import verilator
from ringgate.sim.builds import ingress

MAC_10G, MAC_25G, USER = 6400, 2560, 4000       # ps: 156.25 MHz, 390.625 MHz, 250 MHz


@pytest.fixture(scope="module")
def build():
    return ingress(256, max_messages=4)


def _run(build, tmp_path, **env):
    out = tmp_path / "summary.json"
    env = {k: str(v) for k, v in {"ING_OUT": out, **env}.items()}
    verilator.run(build, "ringgate.sim.ingress.tb", testcase="ingress", extra_env=env)
    return json.loads(out.read_text())


@pytest.mark.parametrize("mac_ps,jitter,source", [
    (MAC_10G, 0.0, "axis"),         # 156.25 : 250, cocotbext-axi source, frames back to back
    (MAC_25G, 0.0, "wire"),         # 390.625 : 250, back to back
    (3100, 0.15, "wire"),           # ~322.6 MHz with each half period jittered by up to 15 %
])
def test_malformed_mix_at_clock_ratios(build, tmp_path, mac_ps, jitter, source):
    r = _run(build, tmp_path, ING_FRAMES=160, ING_MIX=0.4, ING_SOURCE=source, ING_RATE=0, ING_MAC_PS=mac_ps,
             ING_USER_PS=USER, ING_JITTER=jitter, ING_SEED=mac_ps)
    c = r["counters"]
    assert c["FRAMES"] == 160 and 0 < c["ACCEPTED"] < 160
    assert sum(1 for k, v in c.items() if k.startswith("DROP_") and v) >= 12


@pytest.mark.slow
def test_10g_line_rate_fast_drain_no_loss(build, tmp_path):
    r = _run(build, tmp_path, ING_FRAMES=10000, ING_SINGLE=1, ING_RATE=10e9, ING_MAC_PS=MAC_10G, ING_USER_PS=USER)
    assert r["counters"]["ACCEPTED"] == 10000 and r["counters"]["ENTRIES"] == 10000
    assert r["frames_per_s"] == pytest.approx(10e9 / (130 * 8), rel=1e-3)      # 9.62 M frames/s
    assert set(r["first_to_publish_cycles"]) == {14}


@pytest.mark.slow
def test_25g_line_rate_slow_drain_counts_drops(build, tmp_path):
    r = _run(build, tmp_path, ING_FRAMES=10000, ING_SINGLE=1, ING_RATE=25e9, ING_MAC_PS=MAC_25G, ING_USER_PS=USER,
             ING_DRAIN=24)
    c = r["counters"]
    assert c["DROP_RING_FULL"] > 0 and c["ACCEPTED"] + c["DROP_RING_FULL"] == 10000
    assert r["frames_per_s"] == pytest.approx(25e9 / (130 * 8), rel=1e-3)


def test_25g_line_rate_multi_message_no_loss(build, tmp_path):
    """Datagrams of 1..4 messages at 25G (more entries per second than single orders), drained fast."""
    r = _run(build, tmp_path, ING_FRAMES=400, ING_MIX=0.0, ING_RATE=25e9, ING_MAC_PS=MAC_25G, ING_USER_PS=USER)
    assert r["counters"]["ACCEPTED"] == 400
    assert np.max(r["publish_to_valid_ps"]) <= 4 * USER
