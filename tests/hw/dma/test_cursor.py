"""CursorEmitter (hw/dma/cursor.py): the line's content, the write count, and when a cursor
write is owed (dirty, CURSOR_INTERVAL)."""
from ringgate.contracts.entry import CURSOR_LINE
from ringgate.hw.dma.cursor import CursorEmitter

from .helpers import simulate


async def pulse(ctx, port):
    ctx.set(port, 1)
    await ctx.tick()
    ctx.set(port, 0)


def test_dma_cursor_line_count_and_interval():
    dut = CursorEmitter()

    async def bench(ctx):
        ctx.set(dut.cursor_interval, 3)
        assert ctx.get(dut.current) and not ctx.get(dut.dirty)
        unders = []
        for k in range(4):
            ctx.set(dut.sent, 10 * (k + 1))
            await pulse(ctx, dut.header)
            assert ctx.get(dut.dirty) and not ctx.get(dut.current)
            unders.append(ctx.get(dut.under))
        assert unders == [1, 1, 0, 0]               # fewer than 3 data TLPs since the last cursor
        ctx.set(dut.timestamp, 777)
        line = CURSOR_LINE.from_int(ctx.get(dut.line.as_value()))
        assert (line["cursor"], line["timestamp"], line["writes"]) == (40, 777, 1)
        assert all(line[f"reserved{i}"] == 0 for i in range(5))
        await pulse(ctx, dut.emit)
        assert ctx.get(dut.writes) == 1 and ctx.get(dut.written) == 40
        assert ctx.get(dut.current) and not ctx.get(dut.dirty)
        await pulse(ctx, dut.header)
        assert ctx.get(dut.under)                   # the count restarted at the cursor write
        await pulse(ctx, dut.emit)
        assert CURSOR_LINE.from_int(ctx.get(dut.line.as_value()))["writes"] == 3
        await pulse(ctx, dut.clear)
        assert ctx.get(dut.writes) == 0
        await pulse(ctx, dut.header)
        await pulse(ctx, dut.start)                 # an enable: count and coverage restart
        assert ctx.get(dut.writes) == 0 and not ctx.get(dut.dirty)

    simulate(dut, bench)
