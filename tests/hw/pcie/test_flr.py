"""FunctionReset (hw/pcie/flr.py): the FLR handshake with the hard block."""
from ringgate.hw.pcie.flr import FunctionReset

from ..dma.helpers import simulate


def test_flr_waits_for_quiet_then_resets_once_and_pulses_done():
    dut = FunctionReset(settle=3)
    rec = []

    async def bench(ctx):
        ctx.set(dut.quiet, 0)
        ctx.set(dut.in_process, 0b0001)
        for cycle in range(40):
            if cycle == 20:
                ctx.set(dut.quiet, 1)            # the writer and adapters drained
            await ctx.tick()
            rec.append((ctx.get(dut.stop), ctx.get(dut.reset), ctx.get(dut.done)))
        ctx.set(dut.in_process, 0)              # the block ends the FLR
        await ctx.tick().repeat(2)
        assert not ctx.get(dut.stop)
        ctx.set(dut.in_process, 1)              # a second FLR is handled again
        for _ in range(10):
            await ctx.tick()
            rec.append((ctx.get(dut.stop), ctx.get(dut.reset), ctx.get(dut.done)))

    simulate(dut, bench)
    first = rec[:40]
    assert first[0][0] == 1, "stop is not raised at once"
    resets = [k for k, r in enumerate(first) if r[1]]
    dones = [k for k, r in enumerate(first) if r[2]]
    assert resets == [20], resets                             # the cycle after quiet, once
    assert dones == [resets[0] + 1] and first[dones[0]][2] == 1   # PF0's bit, one cycle, after the reset
    assert all(r[0] for r in first), "stop dropped before the FLR ended"
    second = rec[40:]
    assert sum(r[1] for r in second) == 1 and sum(r[2] == 1 for r in second) == 1


def test_flr_of_absent_functions_is_acknowledged_at_once():
    dut = FunctionReset()
    dones = []

    async def bench(ctx):
        ctx.set(dut.in_process, 0b1010)
        for _ in range(6):
            await ctx.tick()
            dones.append((ctx.get(dut.done), ctx.get(dut.stop), ctx.get(dut.reset)))

    simulate(dut, bench)
    assert [d for d, _, _ in dones if d] == [0b1010]             # one pulse for PF1 and PF3
    assert dones[0][0] == 0b1010                                 # one cycle after in_process rose
    assert not any(s or r for _, s, r in dones), "an absent function's FLR stopped PF0"
