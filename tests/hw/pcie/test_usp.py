"""UspRequester (hw/pcie/usp.py): the TLPs-in-flight count against returned sequence numbers,
and the timeout that gives up a sequence number the block never returns."""
import pytest

from ringgate.hw.pcie.usp import UspRequester

from ..dma.helpers import simulate

TIMEOUT = 16


async def send_cursor_tlp(ctx, dut):
    """One cursor-line request (2 beats at 256 bits), RQ always ready."""
    ctx.set(dut.axis.tready, 1)
    ctx.set(dut.req.payload.first, 1)
    ctx.set(dut.req.payload.last, 1)
    ctx.set(dut.req.payload.cursor, 1)
    ctx.set(dut.req.payload.ndw, 6)
    ctx.set(dut.req.valid, 1)
    await ctx.tick().until(dut.req.ready)
    ctx.set(dut.req.valid, 0)


@pytest.mark.parametrize("returned", [True, False])
def test_usp_missing_seq_num_is_given_up_after_the_timeout(returned):
    dut = UspRequester(256, seq_timeout=TIMEOUT)

    async def bench(ctx):
        await send_cursor_tlp(ctx, dut)
        await ctx.tick().repeat(3)                   # second beat, then the count sees it
        assert ctx.get(dut.tlps) == 1 and ctx.get(dut.busy)
        if returned:
            ctx.set(dut.seq.seq_num_vld0, 1)
            await ctx.tick()
            ctx.set(dut.seq.seq_num_vld0, 0)
        busy_cycles, lost = 0, 0
        for _ in range(4 * TIMEOUT):
            busy_cycles += ctx.get(dut.busy)
            lost += ctx.get(dut.lost)
            await ctx.tick()
        if returned:
            assert lost == 0 and busy_cycles <= 2
        else:
            # given up exactly once, and busy drops within the timeout
            assert lost == 1
            assert TIMEOUT - 4 <= busy_cycles <= TIMEOUT + 2, busy_cycles

    simulate(dut, bench)


def test_usp_timeout_is_at_least_two_cycles():
    with pytest.raises(ValueError, match="seq_timeout"):
        UspRequester(256, seq_timeout=1)
