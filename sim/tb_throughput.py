"""cocotb driver of sim/throughput.py: knobs, one Timer for the offering window, counters read back.

The design is built with ``clock_ns=CLOCK_NS`` (the clock ticks inside the simulator). This is
the cross-check of the fast level (``ringgate.sim.fast``): the harness counts its own offering
window and seeds its random streams when ``go`` rises, so both give the same counters and
histogram for the same knobs.

Environment: the knobs as ``Knobs.env()`` writes them (TP_CYCLES, TP_P_OFFER, TP_P_READY, TP_MPS
(code 0..3), TP_BATCH, TP_CURSOR_INTERVAL, TP_DOORBELL_DELAY, TP_SEED; defaults for any left out)
and TP_REPORT (JSON output path).
"""
from __future__ import annotations

import json
import os
import time

import cocotb
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, Timer

from ringgate.sim.throughput import CLOCK_NS, COUNTERS, HIST_BINS
from ringgate.sim.fast.throughput import Knobs, check, drain_budget


@cocotb.test()
async def run(dut):
    k = Knobs.from_env(os.environ)
    dut.go.value = 0
    for name, value in k.ports().items():
        getattr(dut, name).value = value
    dut.hist_addr.value = 0
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    dut.go.value = 1

    t0, c0 = time.perf_counter(), time.process_time()
    await Timer(k.cycles * CLOCK_NS, unit="ns")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    # The offering window closes by itself; let the DMA drain and the last cursor land.
    chunk = 1000
    for _ in range(0, drain_budget(k), chunk):
        await ClockCycles(dut.clk, chunk)
        await ReadOnly()
        if int(dut.settled.value):
            break
    counters = {name: int(getattr(dut, name).value) for name in COUNTERS}
    await RisingEdge(dut.clk)
    hist = []
    for i in range(HIST_BINS):
        dut.hist_addr.value = i
        await Timer(1, unit="ns")
        hist.append(int(dut.hist_data.value))

    result = {**counters, "run_cycles": k.cycles, "wall_s": wall, "cpu_s": cpu,
              "sim_cycles_per_s": k.cycles / wall, "sim_cycles_per_cpu_s": k.cycles / cpu, "latency_hist": hist}
    dut._log.info("throughput run: %s", {n: v for n, v in result.items() if n != "latency_hist"})
    path = os.environ.get("TP_REPORT")
    if path:
        with open(path, "w") as fh:
            json.dump(result, fh)
    check(result)
