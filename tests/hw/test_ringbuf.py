"""amaranth.sim tests of hw/ringbuf.py: scoreboard, back-pressure, gating, exact cycle counts."""
import random

import pytest
from amaranth.hdl import ClockDomain, Elaboratable, Module
from amaranth.sim import Simulator

from ringgate.hw.ringbuf import RingBuffer
from ringgate.contracts.entry import ENTRY

LAYOUT = ENTRY.layout()


def random_entry(rng: random.Random, i: int) -> dict:
    vals = {}
    for f in ENTRY.fields:
        vals[f.name] = rng.choice([f.min, f.max, 0, -1 if f.signed else 1, rng.randint(f.min, f.max)])
    vals["uid"] = i                  # make every entry distinguishable
    return vals


def run(dut, *benches):
    sim = Simulator(dut)
    sim.add_clock(4e-9)
    for b in benches:
        sim.add_testbench(b)
    sim.run()


class Scenario:
    """Producer and consumer testbenches with random gaps and back-pressure."""

    def __init__(self, depth, n, *, p_valid=1.0, p_ready=1.0, seed=0, reset_at=None, bypass=True):
        self.dut = RingBuffer(depth, LAYOUT, bypass=bypass)
        self.rng = random.Random(seed)
        self.sent = [random_entry(self.rng, i) for i in range(n)]
        self.n, self.p_valid, self.p_ready = n, p_valid, p_ready
        self.got = []
        self.max_fill = 0
        self.reset_at = reset_at

    async def producer(self, ctx):
        dut, rng = self.dut, random.Random(self.rng.random())
        for vals in self.sent:
            while rng.random() > self.p_valid:
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
            ctx.set(dut.i.payload, LAYOUT.const(vals))
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)

    async def consumer(self, ctx):
        dut, rng = self.dut, random.Random(self.rng.random())
        while len(self.got) < self.n:
            ready = rng.random() < self.p_ready
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload, fill = await ctx.tick().sample(dut.o.valid, dut.o.payload, dut.fill)
            self.max_fill = max(self.max_fill, fill)
            assert fill <= self.dut.depth
            if ready and valid:
                self.got.append(ENTRY.from_int(payload.as_value().value))

    def check(self):
        assert len(self.got) == self.n
        for seq, (want, got) in enumerate(zip(self.sent, self.got)):
            assert got == {**want, "seq": seq}, f"entry {seq}"


@pytest.mark.parametrize("depth,laps", [(16, 20), (1024, 20)])
@pytest.mark.parametrize("p_valid,p_ready", [(0.7, 0.5), (0.5, 0.9), (1.0, 1.0)])
def test_scoreboard_random_backpressure(depth, laps, p_valid, p_ready):
    if depth == 1024 and (p_valid, p_ready) == (0.5, 0.9):
        laps = 3     # the (0.7, 0.5) case fills and laps the big ring 20 times already
    sc = Scenario(depth, depth * laps, p_valid=p_valid, p_ready=p_ready, seed=depth)
    run(sc.dut, sc.producer, sc.consumer)
    sc.check()
    if p_ready < p_valid:
        assert sc.max_fill == depth, "the ring should have filled up"


@pytest.mark.parametrize("p_valid,p_ready", [(0.7, 0.5), (1.0, 1.0), (0.4, 0.8)])
def test_scoreboard_without_bypass(p_valid, p_ready):
    sc = Scenario(16, 16 * 20, p_valid=p_valid, p_ready=p_ready, seed=7, bypass=False)
    run(sc.dut, sc.producer, sc.consumer)
    sc.check()


def test_full_ring_gates_producer_and_reopens_next_cycle():
    depth = 16
    dut = RingBuffer(depth, LAYOUT)
    trace = {}

    async def bench(ctx):
        ctx.set(dut.o.ready, 0)
        ctx.set(dut.i.valid, 1)
        for i in range(depth):
            ctx.set(dut.i.payload, LAYOUT.const({"uid": i}))
            assert ctx.get(dut.i.ready) == 1
            await ctx.tick()
        # Full: refused, counted.
        for c in range(5):
            assert ctx.get(dut.i.ready) == 0
            assert ctx.get(dut.fill) == depth
            await ctx.tick()
        assert ctx.get(dut.full_cycles) == 5
        # The consumer frees one slot: ready rises in the next cycle, not later.
        ctx.set(dut.o.ready, 1)
        assert ctx.get(dut.o.valid) and ctx.get(dut.o.payload.seq) == 0
        await ctx.tick()
        ctx.set(dut.o.ready, 0)
        assert ctx.get(dut.i.ready) == 1
        assert ctx.get(dut.consumed) == 1 and ctx.get(dut.cursor) == depth
        ctx.set(dut.i.payload, LAYOUT.const({"uid": 99}))
        await ctx.tick()
        ctx.set(dut.i.valid, 0)
        assert ctx.get(dut.i.ready) == 0 and ctx.get(dut.cursor) == depth + 1
        # Drain: the 17th entry came through slot 0 after entry 0 left it.
        ctx.set(dut.o.ready, 1)
        seen = []
        for _ in range(depth):
            assert ctx.get(dut.o.valid)
            seen.append((ctx.get(dut.o.payload.seq), ctx.get(dut.o.payload.uid)))
            await ctx.tick()
        assert seen == [(s, s) for s in range(1, depth)] + [(depth, 99)]
        assert not ctx.get(dut.o.valid) and ctx.get(dut.fill) == 0
        trace["done"] = True

    run(dut, bench)
    assert trace["done"]


@pytest.mark.parametrize("bypass,latency", [(True, 1), (False, 2)])
def test_idle_latency(bypass, latency):
    """Producer handshake in cycle t -> consumer valid in cycle t + 1 (t + 2 without bypass)."""
    dut = RingBuffer(16, LAYOUT, bypass=bypass)
    assert dut.latency == latency
    lat = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        for _ in range(3):
            await ctx.tick()
        for k in range(4):
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, LAYOUT.const({"uid": k}))
            assert ctx.get(dut.i.ready)
            await ctx.tick()            # handshake happens at this edge (cycle t)
            ctx.set(dut.i.valid, 0)
            cycles = 1
            while not ctx.get(dut.o.valid):
                await ctx.tick()
                cycles += 1
            lat.append(cycles)
            assert ctx.get(dut.o.payload.uid) == k and ctx.get(dut.o.payload.seq) == k
            await ctx.tick()
            for _ in range(2):
                await ctx.tick()

    run(dut, bench)
    assert lat == [latency] * 4


@pytest.mark.parametrize("bypass", [True, False])
@pytest.mark.parametrize("n", [1, 17, 500])
def test_unobstructed_throughput_one_per_cycle(n, bypass):
    """N entries, producer always valid and consumer always ready: last one out at cycle N + latency."""
    dut = RingBuffer(16, LAYOUT, bypass=bypass)
    out_cycles = []

    async def producer(ctx):
        ctx.set(dut.i.valid, 1)
        for k in range(n):
            ctx.set(dut.i.payload, LAYOUT.const({"uid": k}))
            await ctx.tick()
            assert ctx.get(dut.i.ready) or k == n - 1
        ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        ctx.set(dut.o.ready, 1)
        cycle = 0
        while len(out_cycles) < n:
            _, _, valid, seq = await ctx.tick().sample(dut.o.valid, dut.o.payload.seq)
            if valid:
                assert seq == len(out_cycles)
                out_cycles.append(cycle)
            cycle += 1

    run(dut, producer, consumer)
    # Handshakes in cycles 0..n-1, outputs in cycles latency..n-1+latency.
    assert out_cycles == list(range(dut.latency, n + dut.latency))


class WithReset(Elaboratable):
    """The ring in an explicit sync domain, so a testbench can pulse its reset."""

    def __init__(self, ring):
        self.ring = ring
        self.cd = ClockDomain("sync")

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.cd
        m.submodules.ring = self.ring
        return m


def test_reset_mid_stream_restarts_cleanly():
    depth = 16
    dut = RingBuffer(depth, LAYOUT)
    top = WithReset(dut)
    rng = random.Random(7)
    after = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 0)
        ctx.set(dut.i.valid, 1)
        for k in range(10):
            ctx.set(dut.i.payload, LAYOUT.const({"uid": 1000 + k}))
            await ctx.tick()
        ctx.set(dut.o.ready, 1)
        await ctx.tick().repeat(3)
        assert ctx.get(dut.consumed) == 3 and ctx.get(dut.o.valid)
        ctx.set(top.cd.rst, 1)
        await ctx.tick()
        ctx.set(top.cd.rst, 0)
        ctx.set(dut.i.valid, 0)
        # Everything restarts at sequence 0; nothing from before the reset leaks out.
        assert (ctx.get(dut.cursor), ctx.get(dut.consumed), ctx.get(dut.fill)) == (0, 0, 0)
        assert not ctx.get(dut.o.valid) and ctx.get(dut.i.ready)
        k = 0
        while k < 40 or ctx.get(dut.fill):
            ctx.set(dut.i.valid, k < 40)
            ctx.set(dut.i.payload, LAYOUT.const({"uid": k}))
            ctx.set(dut.o.ready, rng.random() < 0.6)
            _, _, ir, ov, orr, seq, uid = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.ready, dut.o.payload.seq, dut.o.payload.uid)
            if ov and orr:
                after.append((seq, uid))
            if ir and k < 40:
                k += 1

    sim = Simulator(top)
    sim.add_clock(4e-9)
    sim.add_testbench(bench)
    sim.run()
    assert after == [(k, k) for k in range(40)]


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_rejects_bad_parameters():
    with pytest.raises(ValueError, match="power of two"):
        RingBuffer(24, LAYOUT)
    with pytest.raises(ValueError, match="power of two"):
        RingBuffer(8, LAYOUT)
    with pytest.raises(ValueError, match="power of two"):
        RingBuffer(1 << 17, LAYOUT)
    from amaranth.lib import data
    with pytest.raises(ValueError, match="no sequence field"):
        RingBuffer(16, data.StructLayout({"x": 64}))
    with pytest.raises(ValueError, match="unsigned\\(64\\)"):
        RingBuffer(16, data.StructLayout({"seq": 32}))
    with pytest.raises(TypeError):
        RingBuffer(16, 512)
