"""cocotb + Verilator runs of hw/ringbuf.py (bench: sim/tb_ringbuf.py), depths 16 and 1024."""
import pytest

from ringgate.sim import verilator
from ringgate.sim.builds import ring as ring_build

DEPTHS = (16, 1024)


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("p_valid,p_ready", [(0.8, 0.5), (0.5, 0.9), (1.0, 1.0)])
def test_scoreboard(depth, p_valid, p_ready):
    laps = 20 if depth == 16 or (p_valid, p_ready) == (0.8, 0.5) else 2
    verilator.run(ring_build(depth), "ringgate.sim.tb_ringbuf", testcase="scoreboard",
                  extra_env={"RING_DEPTH": str(depth), "RING_LAPS": str(laps),
                             "RING_P_VALID": str(p_valid), "RING_P_READY": str(p_ready),
                             "RING_SEED": str(depth + int(p_valid * 10))})


@pytest.mark.parametrize("depth", DEPTHS)
def test_reset_latency_throughput(depth):
    verilator.run(ring_build(depth), "ringgate.sim.tb_ringbuf",
                  testcase=["reset_midstream", "idle_latency", "throughput"],
                  extra_env={"RING_DEPTH": str(depth)})


def test_without_bypass_latency_two_cycles():
    verilator.run(ring_build(16, bypass=False), "ringgate.sim.tb_ringbuf",
                  testcase=["scoreboard", "reset_midstream", "idle_latency", "throughput"],
                  extra_env={"RING_DEPTH": "16", "RING_LATENCY": "2", "RING_P_VALID": "0.9",
                             "RING_P_READY": "0.6"})


def test_second_build_is_served_from_cache():
    ring_build(16)
    again = ring_build(16)
    assert again.rebuilt is False
    assert (again.directory / verilator.BUILD_STAMP).exists()


def test_failing_bench_is_reported():
    """A cocotb failure must surface as a pytest failure, not be swallowed: a bench that
    believes the 16-deep ring holds 32 entries sees it fill up at 16."""
    with pytest.raises(verilator.CocotbFailure, match="back-pressure should have filled the ring"):
        verilator.run(ring_build(16), "ringgate.sim.tb_ringbuf", testcase="scoreboard",
                      extra_env={"RING_DEPTH": "32", "RING_LAPS": "2", "RING_P_VALID": "1.0",
                                 "RING_P_READY": "0.3"})


def test_waves_on_request():
    """--waves / RINGGATE_WAVES: an FST trace of the run (with the lz4 the wheel lacks)."""
    b = ring_build(16, waves=True)
    assert b.waves
    run_dir = verilator.run(b, "ringgate.sim.tb_ringbuf", testcase="idle_latency", extra_env={"RING_DEPTH": "16"})
    fst = run_dir / "dump.fst"
    assert fst.exists() and fst.stat().st_size > 1000


def test_cocotb_env_rewrites_the_benches_only_and_loads_no_pytest_plugins():
    """Each cocotb run's start: pytest's assertion rewriting for the bench modules alone (not numpy,
    amaranth ...) and no plugin autoload; what the user or the caller sets wins."""
    env = verilator.cocotb_env("ringgate.sim.pcie.cocotb_pcie", {"RING_DEPTH": "16"}, environ={})
    assert env == {"COCOTB_REWRITE_ASSERTION_FILES": "tb*.py cocotb_pcie.py", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
                   "RING_DEPTH": "16"}
    mine = verilator.cocotb_env("ringgate.sim.tb_ringbuf", None, environ={"COCOTB_REWRITE_ASSERTION_FILES": "*.py"})
    assert mine == {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    assert verilator.cocotb_env("ringgate.sim.tb_ringbuf", {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": ""},
                                environ={})["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] == ""
