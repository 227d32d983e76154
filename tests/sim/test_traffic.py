"""Traffic generator: exchange-core's mix, live targets, offered load, bursts, determinism."""
from __future__ import annotations

import numpy as np
import pytest

from ringgate.contracts.entry import ENTRY_DTYPE, Command
from ringgate.sim.traffic import commands_to_entries, line_rate_load, make_traffic, mix, schedule
from ringgate.sw.exchange.commands import from_ring
from ringgate.sw.exchange.engine import Engine


@pytest.fixture(scope="module")
def traffic():
    return make_traffic(20_000, users=200, symbols=3, resting=500, load=0.05, burst=16, seed=4)


def test_driver_traffic_mix_is_exchange_cores(traffic):
    m = mix(traffic.measured)
    assert abs(m["gtc"] - 0.09) < 0.015
    assert abs(m["ioc"] - 0.03) < 0.01
    assert abs(m["cancel"] - 0.06) < 0.015
    assert abs(m["move"] - 0.82) < 0.02
    assert m["reduce"] == 0 and m["other_place"] == 0
    assert traffic.warmup == 3 * 500
    assert set(np.unique(traffic.entries["symbol"])) == {0, 1, 2}
    assert traffic.entries["uid"].min() >= 1 and traffic.entries["uid"].max() <= 200
    assert traffic.entries.dtype == ENTRY_DTYPE and (traffic.entries["seq"] == 0).all()


def test_driver_traffic_is_accepted_by_the_exchange(traffic):
    """Cancels and moves name live orders: the exchange core accepts (nearly) everything."""
    eng = Engine()
    for i, c in enumerate(traffic.setup, 1):
        eng.apply(i, 0, c)
    seq = len(traffic.setup)
    codes = []
    for c in from_ring(traffic.entries):
        seq += 1
        codes.append(eng.apply(seq, 0, c).result_code)
    codes = np.array(codes)
    assert (codes == 100).mean() > 0.99
    moves = traffic.entries["cmd"] == Command.MOVE
    assert (codes[moves] == 100).mean() > 0.99


def test_driver_traffic_deterministic_by_seed():
    a = make_traffic(2000, users=20, resting=100, seed=9, burst=4, poisson=True)
    b = make_traffic(2000, users=20, resting=100, seed=9, burst=4, poisson=True)
    c = make_traffic(2000, users=20, resting=100, seed=10, burst=4, poisson=True)
    assert a.entries.tobytes() == b.entries.tobytes() and (a.cycles == b.cycles).all()
    assert a.entries.tobytes() != c.entries.tobytes()


@pytest.mark.parametrize("load, burst, poisson", [(0.05, 1, False), (0.2, 8, False), (0.1, 32, True),
                                                  (1.0, 1, False)])
def test_driver_traffic_schedule_offered_load(load, burst, poisson):
    n = 50_000
    c = schedule(n, load, burst=burst, poisson=poisson, seed=3)
    assert c.dtype == np.uint64 and (np.diff(c.astype(np.int64)) >= 1).all()   # one entry per cycle
    measured = n / (int(c[-1]) + 1)
    assert abs(measured - load) / load < (0.05 if poisson else 0.01)
    if burst > 1 and not poisson:
        gaps = np.diff(c.astype(np.int64))
        assert (gaps == 1).mean() > (burst - 1) / burst * 0.99      # back to back inside bursts


def test_driver_traffic_burst_load_spacing():
    c = schedule(64, 0.1, burst=8, burst_load=0.5).astype(np.int64)
    np.testing.assert_array_equal(np.diff(c[:8]), 2)
    assert c[8] == 80


def test_driver_traffic_line_rates():
    assert line_rate_load("10G", 250e6) == pytest.approx(14.88e6 / 250e6, rel=1e-3)
    assert line_rate_load("25G", 250e6) == pytest.approx(37.2e6 / 250e6, rel=1e-3)
    assert line_rate_load("10G", 250e6, frame_bytes=128) == pytest.approx(10e9 / (148 * 8) / 250e6)
    t = make_traffic(500, users=10, resting=50, line_rate="25G", seed=2)
    assert t.params["load"] == pytest.approx(line_rate_load("25G"))
    with pytest.raises(ValueError, match="at least 64 bytes"):
        line_rate_load("10G", frame_bytes=60)


def test_driver_traffic_bad_parameters():
    with pytest.raises(ValueError, match="offered load"):
        schedule(10, 1.5)
    with pytest.raises(ValueError, match="burst must be"):
        schedule(10, 0.5, burst=0)
    with pytest.raises(ValueError, match="not both"):
        make_traffic(10, load=0.1, line_rate="10G")


def test_driver_traffic_entries_round_trip_commands():
    from ringgate.sw.exchange.commands import cancel, move, place
    cmds = [place(5, 1, 77, 1, 1000, 3, reserve_price=1100, user_cookie=9), cancel(5, 1, 77), move(5, 1, 78, 999)]
    e = commands_to_entries(cmds)
    assert from_ring(e) == cmds
