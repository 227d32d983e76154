"""HostCredit (hw/dma/credit.py): doorbell range checks, the room counter, and their timing."""
from ringgate.hw.dma.credit import HostCredit

from .helpers import simulate

SIZE = 64


async def ring(ctx, dut, value):
    ctx.set(dut.doorbell, value)
    ctx.set(dut.doorbell_w, 1)
    await ctx.tick()
    ctx.set(dut.doorbell_w, 0)


async def load(ctx, dut, consumed, sent):
    ctx.set(dut.sent, sent)
    ctx.set(dut.load_consumed, consumed)
    ctx.set(dut.load_room, SIZE - (sent - consumed))
    ctx.set(dut.load, 1)
    await ctx.tick()
    ctx.set(dut.load, 0)
    ctx.set(dut.running, 1)


def test_dma_credit_accepts_a_doorbell_in_range_with_exact_timing():
    dut = HostCredit()

    async def bench(ctx):
        await load(ctx, dut, 100, 150)
        assert ctx.get(dut.consumed) == 100 and ctx.get(dut.room) == SIZE - 50
        await ring(ctx, dut, 140)
        trace = []
        for _ in range(4):
            trace.append((ctx.get(dut.consumed), ctx.get(dut.room), ctx.get(dut.pending), ctx.get(dut.range_error)))
            await ctx.tick()
        assert trace == [(100, 14, 1, 0), (100, 14, 1, 0), (140, 14, 1, 0), (140, 54, 0, 0)]

    simulate(dut, bench)


def test_dma_credit_refuses_backwards_and_beyond_sent():
    dut = HostCredit()

    async def bench(ctx):
        await load(ctx, dut, 100, 150)
        for bad in (99, 151, 0):
            await ring(ctx, dut, bad)
            errors = 0
            for _ in range(5):
                errors += ctx.get(dut.range_error)
                await ctx.tick()
            assert errors == 1, bad
            assert ctx.get(dut.consumed) == 100 and ctx.get(dut.room) == SIZE - 50
        await ring(ctx, dut, 150)                       # up to SENT is fine
        for _ in range(5):
            assert not ctx.get(dut.range_error)
            await ctx.tick()
        assert ctx.get(dut.consumed) == 150 and ctx.get(dut.room) == SIZE

    simulate(dut, bench)


def test_dma_credit_room_follows_headers_and_credit_waits_for_a_free_cycle():
    dut = HostCredit()

    async def bench(ctx):
        await load(ctx, dut, 0, 0)
        ctx.set(dut.n, 5)
        ctx.set(dut.sub, 1)
        await ctx.tick()
        ctx.set(dut.sub, 0)
        assert ctx.get(dut.room) == SIZE - 5
        ctx.set(dut.sent, 5)
        await ring(ctx, dut, 5)
        await ctx.tick()
        await ctx.tick()                                # committed: the credit is pending
        ctx.set(dut.sub, 1)                             # a header takes the cycle first
        ctx.set(dut.n, 3)
        await ctx.tick()
        ctx.set(dut.sub, 0)
        assert ctx.get(dut.room) == SIZE - 8
        await ctx.tick()
        assert ctx.get(dut.room) == SIZE - 3 and not ctx.get(dut.pending)

    simulate(dut, bench)


def test_dma_credit_doorbell_waits_while_validating_and_drops_while_off():
    dut = HostCredit()

    async def bench(ctx):
        ctx.set(dut.sent, 20)
        await ring(ctx, dut, 10)                        # neither running nor off: validating
        for _ in range(4):
            await ctx.tick()
        assert ctx.get(dut.pending) and ctx.get(dut.consumed) == 0
        await load(ctx, dut, 5, 20)
        for _ in range(4):
            await ctx.tick()
        assert ctx.get(dut.consumed) == 10 and not ctx.get(dut.pending)
        ctx.set(dut.running, 0)
        ctx.set(dut.off, 1)
        await ring(ctx, dut, 15)
        await ctx.tick()
        assert not ctx.get(dut.pending) and ctx.get(dut.consumed) == 10

    simulate(dut, bench)
