"""cocotb test bench of hw/ringbuf.py on Verilator (run by tests/test_ringbuf_cocotb.py).

Timing discipline: the bench acts on the falling edge. There the ring's outputs are
stable (``i.ready``, ``o.valid`` and ``o.payload`` are registers or BRAM outputs), the
bench sets its inputs, and a handshake is decided by what is visible then; it takes
effect at the next rising edge. Cycle ``t`` is the ``t``-th falling edge.

Parameters come from the environment (the pytest wrapper sets them):
RING_DEPTH, RING_LATENCY (1, or 2 for a ring without bypass), RING_LAPS, RING_P_VALID,
RING_P_READY, RING_SEED, RING_RESET_AT.
With RING_REPORT set to a path, each test adds its measured figures to that JSON file
(``ringgate simulate`` prints them).
"""
from __future__ import annotations

import json
import os
import random
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from ringgate.contracts.entry import ENTRY
from ringgate.contracts.pcie import USER_CLOCK_NS as CLOCK_NS



def _env(name, default, cast=int):
    return cast(os.environ.get(name, default))


def report(test: str, **figures) -> None:
    path = os.environ.get("RING_REPORT")
    if not path:
        return
    data = json.loads(open(path).read()) if os.path.exists(path) and os.path.getsize(path) else {}
    data[test] = figures
    with open(path, "w") as fh:
        json.dump(data, fh, indent=2)


def random_entry(rng: random.Random, i: int) -> dict:
    vals = {f.name: rng.choice([f.min, f.max, 0, rng.randint(f.min, f.max)]) for f in ENTRY.fields}
    vals["uid"] = i
    return vals


class Bench:
    def __init__(self, dut):
        self.dut = dut
        self.depth = _env("RING_DEPTH", 16)
        self.latency = _env("RING_LATENCY", 1)
        self.cycle = 0

    async def start(self):
        dut = self.dut
        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        dut.i__valid.value = 0
        dut.i__payload.value = 0
        dut.o__ready.value = 0
        await self.reset()

    async def reset(self, cycles: int = 2):
        self.dut.rst.value = 1
        self.dut.i__valid.value = 0
        for _ in range(cycles):
            await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def step(self):
        await FallingEdge(self.dut.clk)
        self.cycle += 1

    def outputs(self):
        d = self.dut
        return (int(d.i__ready.value), int(d.o__valid.value), int(d.fill.value))

    def payload(self) -> dict:
        return ENTRY.from_int(self.dut.o__payload.value.to_unsigned())


async def stream(bench: Bench, sent: list[dict], p_valid: float, p_ready: float, rng: random.Random,
                 stop_after_pushes: int | None = None):
    """Push ``sent`` with random gaps, pop with random back-pressure; return (pushed, got, stats)."""
    dut = bench.dut
    pushed = 0
    got: list[dict] = []
    max_fill = 0
    offering = False
    while len(got) < len(sent):
        await bench.step()
        ready_in, valid_out, fill = bench.outputs()
        assert fill <= bench.depth, f"fill {fill} > depth"
        max_fill = max(max_fill, fill)
        # Producer: an offered entry stays offered until taken (stream rule).
        if not offering and pushed < len(sent) and rng.random() < p_valid:
            dut.i__payload.value = ENTRY.to_int(sent[pushed])
            offering = True
        dut.i__valid.value = int(offering)
        take = rng.random() < p_ready
        dut.o__ready.value = int(take)
        if valid_out and take:
            got.append(bench.payload())
        if offering and ready_in:
            pushed += 1
            offering = False
            if stop_after_pushes is not None and pushed == stop_after_pushes:
                await bench.step()
                dut.i__valid.value = 0
                return pushed, got, max_fill
    await bench.step()                  # let the last handshake take effect before idling
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    return pushed, got, max_fill


def check_scoreboard(sent, got, first_seq=0):
    assert len(got) == len(sent), f"{len(got)} entries out, {len(sent)} in"
    for k, (want, have) in enumerate(zip(sent, got)):
        exp = {**want, "seq": first_seq + k}
        assert have == exp, f"entry {k}: got {have}, want {exp}"


@cocotb.test()
async def scoreboard(dut):
    """Every entry arrives once, in order, stamped with its sequence, payload intact."""
    b = Bench(dut)
    await b.start()
    rng = random.Random(_env("RING_SEED", 1))
    n = b.depth * _env("RING_LAPS", 20)
    sent = [random_entry(rng, i) for i in range(n)]
    p_valid, p_ready = _env("RING_P_VALID", 1.0, float), _env("RING_P_READY", 1.0, float)
    t0 = time.perf_counter()
    pushed, got, max_fill = await stream(b, sent, p_valid, p_ready, rng)
    wall = time.perf_counter() - t0
    check_scoreboard(sent, got)
    assert int(dut.cursor.value) == n and int(dut.consumed.value) == n
    if p_ready < p_valid:
        assert max_fill == b.depth, "back-pressure should have filled the ring"
        assert int(dut.full_cycles.value) > 0
    dut._log.info("depth %d: %d entries in %d cycles, max fill %d, full cycles %d",
                  b.depth, n, b.cycle, max_fill, int(dut.full_cycles.value))
    report("scoreboard", depth=b.depth, entries=n, cycles=b.cycle, p_valid=p_valid, p_ready=p_ready,
           max_fill=max_fill, full_cycles=int(dut.full_cycles.value), checked=len(got),
           wall_s=wall, sim_cycles_per_s=b.cycle / wall)


@cocotb.test()
async def reset_midstream(dut):
    """A reset in mid-stream empties the ring and restarts the sequence at 0; traffic resumes."""
    b = Bench(dut)
    await b.start()
    rng = random.Random(_env("RING_SEED", 2))
    reset_at = _env("RING_RESET_AT", b.depth * 3 + 5)
    before = [random_entry(rng, i) for i in range(reset_at + b.depth)]
    await stream(b, before, 0.8, 0.4, rng, stop_after_pushes=reset_at)
    assert int(dut.cursor.value) == reset_at
    await b.reset(3)
    ready_in, valid_out, fill = b.outputs()
    assert (valid_out, fill) == (0, 0) and int(dut.cursor.value) == 0 and int(dut.consumed.value) == 0
    after = [random_entry(rng, 10_000 + i) for i in range(b.depth * 5)]
    _, got, _ = await stream(b, after, 0.8, 0.6, rng)
    check_scoreboard(after, got)


@cocotb.test()
async def idle_latency(dut):
    """Producer handshake in cycle t -> consumer valid in cycle t + latency, for isolated entries."""
    b = Bench(dut)
    await b.start()
    dut.o__ready.value = 1
    latencies = []
    for k in range(8):
        for _ in range(3 + k):
            await b.step()
        dut.i__payload.value = ENTRY.to_int({"uid": k})
        dut.i__valid.value = 1
        assert b.outputs()[0] == 1
        t_push = b.cycle
        await b.step()
        dut.i__valid.value = 0
        while not b.outputs()[1]:
            await b.step()
        latencies.append(b.cycle - t_push)
        assert b.payload()["uid"] == k
    assert latencies == [b.latency] * 8, latencies
    dut._log.info("idle latency: %s cycles", latencies)
    report("idle_latency", cycles=latencies[0], samples=len(latencies), ns=latencies[0] * CLOCK_NS)


@cocotb.test()
async def throughput(dut):
    """Unobstructed: N entries pushed in N consecutive cycles leave in N consecutive cycles,
    the first one ``latency`` cycles after the first push (N + latency cycles in all)."""
    b = Bench(dut)
    await b.start()
    n = _env("RING_THROUGHPUT_N", b.depth * 4)
    dut.o__ready.value = 1
    pushes, pops = [], []
    k = 0
    while len(pops) < n:
        await b.step()
        ready_in, valid_out, _ = b.outputs()
        if valid_out:
            pops.append((b.cycle, b.payload()["seq"]))
        if k < n:
            dut.i__payload.value = ENTRY.to_int({"uid": k})
            dut.i__valid.value = 1
            assert ready_in, f"ring refused entry {k} while the consumer is always ready"
            pushes.append(b.cycle)
            k += 1
        else:
            dut.i__valid.value = 0
    t0 = pushes[0]
    assert pushes == list(range(t0, t0 + n))
    assert [c for c, _ in pops] == list(range(t0 + b.latency, t0 + n + b.latency))
    assert [s for _, s in pops] == list(range(n))
    dut._log.info("throughput: %d entries in %d cycles", n, pops[-1][0] - t0 + 1)
    report("throughput", entries=n, cycles=pops[-1][0] - t0 + 1,
           entries_per_cycle=n / (pops[-1][0] - t0 + 1), clock_mhz=1000 / CLOCK_NS)
