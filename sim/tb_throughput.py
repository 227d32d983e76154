"""cocotb driver of sim/throughput.py: knobs, one Timer per phase, counters read back.

The design is built with ``clock_ns=CLOCK_NS`` (the clock ticks inside the simulator).

Environment: TP_CYCLES, TP_P_OFFER, TP_P_READY (probabilities 0..1), TP_MPS (code 0..3),
TP_BATCH, TP_CURSOR_INTERVAL, TP_DOORBELL_DELAY, TP_REPORT (JSON output path).
"""
from __future__ import annotations

import json
import os
import time

import cocotb
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, Timer

from ringgate.sim.throughput import CLOCK_NS, HIST_BINS


def _env(name, default, cast=int):
    return cast(os.environ.get(name, default))


def _p(x: float) -> int:
    return min(65536, max(0, round(x * 65536)))


@cocotb.test()
async def run(dut):
    cycles = _env("TP_CYCLES", 1_000_000)
    dut.go.value = 0
    dut.p_offer.value = _p(_env("TP_P_OFFER", 0.5, float))
    dut.p_ready.value = _p(_env("TP_P_READY", 0.9, float))
    dut.mps.value = _env("TP_MPS", 1)
    dut.batch_limit.value = _env("TP_BATCH", 16)
    dut.cursor_interval.value = _env("TP_CURSOR_INTERVAL", 4)
    dut.doorbell_delay.value = _env("TP_DOORBELL_DELAY", 100)
    dut.hist_addr.value = 0
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    dut.go.value = 1

    t0 = time.perf_counter()
    await Timer(cycles * CLOCK_NS, unit="ns")
    wall = time.perf_counter() - t0
    # Stop the traffic, let the DMA drain and the last cursor land.
    dut.p_offer.value = 0
    await ClockCycles(dut.clk, 20_000)
    await ReadOnly()

    def v(name):
        return int(getattr(dut, name).value)

    counters = {k: v(k) for k in ("cycles", "offered", "dropped", "entries", "data_tlps", "cursor_lines",
                                  "last_cursor", "seq_errors", "addr_errors", "cursor_errors", "dma_errors")}
    await RisingEdge(dut.clk)
    hist = []
    for i in range(HIST_BINS):
        dut.hist_addr.value = i
        await Timer(1, unit="ns")
        hist.append(int(dut.hist_data.value))

    accepted = counters["offered"] - counters["dropped"]
    assert counters["seq_errors"] == counters["addr_errors"] == counters["cursor_errors"] == 0, counters
    assert counters["dma_errors"] == 0, counters
    assert counters["entries"] == accepted, counters
    assert counters["last_cursor"] == accepted, counters
    assert sum(hist) == accepted, (sum(hist), accepted)
    result = {**counters, "run_cycles": cycles, "wall_s": wall, "sim_cycles_per_s": cycles / wall,
              "entries_per_wall_s": accepted / wall, "latency_hist": hist}
    dut._log.info("throughput run: %s", {k: v for k, v in result.items() if k != "latency_hist"})
    path = os.environ.get("TP_REPORT")
    if path:
        with open(path, "w") as fh:
            json.dump(result, fh)
