"""SplitLimits (hw/dma/limits.py) against the Python reference of the split rule
(ringgate.model.tlp.split_limit), and its freshness timing after a restart."""
import random

import pytest

from ringgate.contracts.pcie import MAX_PAYLOADS, mps_code
from ringgate.hw.dma.limits import SplitLimits
from ringgate.model.tlp import split_limit

from .helpers import simulate

DEPTH = 64


@pytest.mark.parametrize("seed", range(4))
def test_dma_limits_match_the_reference_three_cycles_after_restart(seed):
    dut = SplitLimits(DEPTH)
    rng = random.Random(seed)

    async def bench(ctx):
        for _ in range(60):
            size = 1 << rng.randrange(0, 14)
            mps = rng.choice(MAX_PAYLOADS)
            batch = rng.choice([0, 1, 2, 3, 7, 16, 17, 1000])
            slot = rng.randrange(size)
            room = rng.choice([0, 1, rng.randrange(size + 1), size])
            fill = rng.randrange(0, DEPTH + 1)
            # the configuration is locked while running: it settles a cycle before any restart
            for port, v in ((dut.mps, mps_code(mps)), (dut.batch_limit, batch), (dut.ring_size, size)):
                ctx.set(port, v)
            await ctx.tick()
            for port, v in ((dut.slot, slot), (dut.room, room), (dut.fill, fill), (dut.take, 0)):
                ctx.set(port, v)
            ctx.set(dut.restart, 1)
            await ctx.tick()
            ctx.set(dut.restart, 0)
            for _ in range(2):
                assert not ctx.get(dut.cap_ok), "limits reported fresh too early"
                await ctx.tick()
            want = split_limit(slot, size, mps, batch, room)
            assert ctx.get(dut.cap_ok) == (want > 0), (size, mps, batch, slot, room)
            if want:
                assert ctx.get(dut.cap) == want, (size, mps, batch, slot, room)
            assert ctx.get(dut.wrap) == min(size - slot, 31)
            ready = max(1, min(fill, 16))
            assert ctx.get(dut.ready) == ready
            assert ctx.get(dut.n) == min(ready, ctx.get(dut.cap))
            assert ctx.get(dut.n_one) == (ready == 1 or ctx.get(dut.cap) == 1)

    simulate(dut, bench)


def test_dma_limits_ready_is_fill_minus_take_registered():
    dut = SplitLimits(DEPTH)

    async def bench(ctx):
        ctx.set(dut.fill, 5)
        ctx.set(dut.take, 1)
        await ctx.tick()
        assert ctx.get(dut.ready) == 4
        ctx.set(dut.fill, 0)
        ctx.set(dut.take, 0)
        await ctx.tick()
        assert ctx.get(dut.ready) == 1          # a decision is only taken with an entry out
        ctx.set(dut.fill, 40)
        await ctx.tick()
        assert ctx.get(dut.ready) == 16

    simulate(dut, bench)
