"""Throughput-level runs (sim/throughput.py): ring + DMA writer at full speed, checked in hardware."""
import json

import pytest

from ringgate.sim import verilator
from ringgate.sim.builds import throughput as tput_build
from ringgate.sim.throughput import HIST_BINS


def run(tmp_path, **knobs):
    report = tmp_path / "tp.json"
    env = {f"TP_{k.upper()}": str(v) for k, v in knobs.items()}
    env["TP_REPORT"] = str(report)
    verilator.run(tput_build(), "ringgate.sim.tb_throughput", extra_env=env, test_dir=tmp_path / "run")
    return json.loads(report.read_text())


@pytest.mark.parametrize("mps", [0, 1, 2])
def test_every_entry_lands_in_order_at_its_address(tmp_path, mps):
    r = run(tmp_path, cycles=150_000, p_offer=0.6, p_ready=0.8, mps=mps, batch=16, cursor_interval=4,
            doorbell_delay=50)
    accepted = r["offered"] - r["dropped"]
    assert r["entries"] == accepted > 50_000
    assert r["seq_errors"] == r["addr_errors"] == r["cursor_errors"] == 0
    assert sum(r["latency_hist"]) == accepted and len(r["latency_hist"]) == HIST_BINS
    # Larger payloads need fewer TLPs for the same entries.
    assert r["entries"] / r["data_tlps"] <= (128 << mps) // 64


def test_slow_host_back_pressure_drops_only_at_the_wire(tmp_path):
    """A host that rings the doorbell late fills the host ring, then the BRAM ring; the source
    (a wire) drops what the ring refuses; nothing accepted is lost or reordered."""
    r = run(tmp_path, cycles=150_000, p_offer=0.95, p_ready=1.0, doorbell_delay=20_000)
    assert r["dropped"] > 0
    assert r["entries"] == r["offered"] - r["dropped"]
    assert r["seq_errors"] == r["addr_errors"] == r["cursor_errors"] == 0
    assert r["latency_hist"][-1] > 0          # some entries waited longer than the histogram's range


def test_refused_configuration_is_caught(tmp_path):
    """The bench is not vacuous: a zero batch limit is refused by the DMA writer, nothing is
    written, and the run fails on the DMA's sticky error."""
    with pytest.raises(verilator.CocotbFailure, match="dma_errors"):
        run(tmp_path, cycles=20_000, batch=0)
