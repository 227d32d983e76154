"""RequestSkid (hw/dma/skid.py): no payload lost, duplicated or reordered under random
back-pressure; no added latency into an empty stage; valid never depends on ready."""
import random

import pytest

from ringgate.hw.dma.skid import RequestSkid

from .helpers import simulate


@pytest.mark.parametrize("p_push,p_ready,seed", [(1.0, 1.0, 0), (1.0, 0.3, 1), (0.5, 0.5, 2), (0.2, 0.9, 3)])
def test_dma_skid_keeps_every_payload_in_order(p_push, p_ready, seed):
    dut = RequestSkid(16)
    rng = random.Random(seed)
    pushed, taken = [], []

    async def bench(ctx):
        nxt = 1
        for _ in range(600):
            assert ctx.get(dut.busy) == (len(pushed) > len(taken))
            ready = rng.random() < p_ready
            ctx.set(dut.o.ready, 0)
            valid_if_not = ctx.get(dut.o.valid)
            ctx.set(dut.o.ready, ready)
            assert ctx.get(dut.o.valid) == valid_if_not            # valid never depends on ready
            push = ctx.get(dut.free) and rng.random() < p_push
            ctx.set(dut.push, push)
            ctx.set(dut.data, nxt)
            if ctx.get(dut.o.valid) and ready:
                taken.append(ctx.get(dut.o.payload))
            if push:
                pushed.append(nxt)
                nxt = (nxt + 1) & 0xFFFF
            await ctx.tick()
        ctx.set(dut.push, 0)
        ctx.set(dut.o.ready, 1)
        for _ in range(3):
            if ctx.get(dut.o.valid):
                taken.append(ctx.get(dut.o.payload))
            await ctx.tick()
        assert not ctx.get(dut.busy)

    simulate(dut, bench)
    assert taken == pushed and len(pushed) > 100


def test_dma_skid_adds_no_latency_and_takes_a_push_while_stalled():
    dut = RequestSkid(8)

    async def bench(ctx):
        ctx.set(dut.o.ready, 0)
        ctx.set(dut.push, 1)
        ctx.set(dut.data, 0xA1)
        await ctx.tick()
        assert ctx.get(dut.o.valid) and ctx.get(dut.o.payload) == 0xA1     # the next cycle
        assert ctx.get(dut.free)                                            # skid still empty
        ctx.set(dut.data, 0xB2)                                             # output stalled: to skid
        await ctx.tick()
        ctx.set(dut.push, 0)
        assert not ctx.get(dut.free) and ctx.get(dut.o.payload) == 0xA1
        ctx.set(dut.o.ready, 1)
        await ctx.tick()
        assert ctx.get(dut.o.payload) == 0xB2 and ctx.get(dut.free)
        await ctx.tick()
        assert not ctx.get(dut.o.valid) and not ctx.get(dut.busy)

    simulate(dut, bench)
