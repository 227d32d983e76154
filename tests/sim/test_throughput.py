"""Throughput-level runs (sim/throughput.py): ring + DMA writer + RQ adapter at full speed, checked in
hardware; the fast level (generated C++ main) against the cocotb level."""
import numpy as np
import pytest

from ringgate.sim import builds, verilator
from ringgate.sim.fast.throughput import Knobs, ThroughputCheckFailed, check, run, run_cocotb, summary
from ringgate.sim.throughput import HIST_BINS, ThroughputHarness


def _exact(r):
    """What must not depend on who drives the model: counters and histogram, not timings."""
    return {n: v for n, v in r.items() if n not in ("wall_s", "cpu_s", "sim_cycles_per_s", "sim_cycles_per_cpu_s",
                                                    "drain_cycles")}


@pytest.mark.parametrize("seed", [1, 0xC0FFEE])
def test_fast_level_equals_cocotb_level(tmp_path, seed):
    """Same seed, same knobs: identical counters and latency histogram from the C++ main and from cocotb,
    with back-pressure from the host, a late doorbell and a load that overflows the ring at times."""
    k = Knobs(cycles=40_000, p_offer=0.45, p_ready=0.7, mps=1, batch=8, cursor_interval=2, doorbell_delay=300,
              seed=seed)
    fast, slow = run(k), run_cocotb(k, tmp_path)
    check(fast)
    assert _exact(fast) == _exact(slow)
    assert fast["entries"] > 10_000 and sum(fast["latency_hist"]) == fast["entries"]


def test_seed_changes_the_stimulus():
    a, b = run(Knobs(cycles=20_000, seed=1)), run(Knobs(cycles=20_000, seed=2))
    assert a["offered"] != b["offered"] and a["latency_hist"] != b["latency_hist"]


@pytest.mark.parametrize("width,mps", [(256, 0), (256, 2), (512, 1), (512, 3)])
def test_every_entry_lands_in_order_at_its_address(width, mps):
    r = run(Knobs(cycles=150_000, p_offer=0.3, p_ready=0.8, mps=mps, batch=16, cursor_interval=4,
                  doorbell_delay=50, width=width))
    check(r)
    accepted = r["offered"] - r["dropped"]
    assert r["entries"] == r["last_cursor"] == accepted > 30_000
    assert len(r["latency_hist"]) == HIST_BINS
    # Larger payloads need fewer TLPs for the same entries, and never more than MPS allows.
    assert r["entries"] / r["data_tlps"] <= (128 << mps) // 64


def test_datapath_width_bounds_throughput():
    """At full load the RQ beats are the limit: 2n+1 beats for n entries at 256 bits, n+1 at 512,
    plus the cursor TLP's (2 beats at 256 bits, 1 at 512) once per 4 data TLPs under backlog."""
    n = 4                               # MPS 256
    got = {w: summary(run(Knobs(cycles=100_000, p_offer=1.0, p_ready=1.0, mps=1, cursor_interval=4, width=w)))
           for w in (256, 512)}
    for w, beats, cursor_beats in ((256, 2 * n + 1, 2), (512, n + 1, 1)):
        ceiling = n / (beats + cursor_beats / 4)
        assert 0.99 * ceiling < got[w]["entries_per_cycle"] <= ceiling, (w, got[w], ceiling)
        assert got[w]["entries_per_tlp"] == pytest.approx(n, abs=0.01)


def test_slow_host_back_pressure_drops_only_at_the_wire():
    """A host that rings the doorbell late fills the host ring, then the BRAM ring; the source
    (a wire) drops what the ring refuses; nothing accepted is lost or reordered."""
    r = run(Knobs(cycles=150_000, p_offer=0.95, p_ready=1.0, doorbell_delay=20_000))
    check(r)
    assert r["dropped"] > 0
    assert r["latency_hist"][-1] > 0          # some entries waited longer than the histogram's range


def test_refused_configuration_is_caught(tmp_path):
    """The bench is not vacuous: a zero batch limit is refused by the DMA writer, nothing is
    written, and both levels fail on the DMA's sticky error."""
    k = Knobs(cycles=5_000, batch=0)
    r = run(k)
    assert r["entries"] == 0 and r["dma_errors"] != 0
    with pytest.raises(ThroughputCheckFailed, match="dma_errors"):
        check(r)
    with pytest.raises(verilator.CocotbFailure, match="dma_errors"):
        run_cocotb(k, tmp_path)


def test_check_catches_each_kind_of_loss():
    good = run(Knobs(cycles=5_000))
    check(good)
    for broken, why in (({"seq_errors": 1}, "seq_errors"), ({"entries": good["entries"] - 1}, "accepted"),
                        ({"last_cursor": good["last_cursor"] - 1}, "last_cursor"),
                        ({"latency_hist": [0] * HIST_BINS}, "histogram")):
        with pytest.raises(ThroughputCheckFailed, match=why):
            check({**good, **broken})


def test_summary_percentiles_match_numpy():
    r = run(Knobs(cycles=30_000, p_offer=0.4, p_ready=0.6))
    s = summary(r)
    samples = np.repeat(np.arange(HIST_BINS), r["latency_hist"])
    q = np.percentile(samples, [50, 99, 99.9, 100], method="inverted_cdf")
    assert [s["p50"], s["p99"], s["p999"], s["max"]] == [int(x) for x in q]


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_knobs_are_validated():
    for bad in ({"p_offer": 1.5}, {"mps": 4}, {"width": 128}, {"doorbell_delay": 1 << 16}, {"cycles": -1},
                {"batch": 1 << 32}):
        with pytest.raises(ValueError):
            Knobs(**bad)
    with pytest.raises(ValueError, match="width"):
        ThroughputHarness(128)


def test_fast_build_has_no_combinational_loops():
    """Verilator re-evaluates logic on a combinational loop (UNOPTFLAT) several times a cycle; the
    fast build does not waive the warning, so any loop shows in its log."""
    exe = builds.throughput_fast(256)
    log = (exe.directory / "build.log").read_text()
    assert "-Wno-UNOPTFLAT" not in log
    assert "UNOPTFLAT" not in log and "%Warning" not in log
