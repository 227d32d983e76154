"""The ingress counters: one event per frame, exactly one outcome counter moves with FRAMES."""

import functools
import operator

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ringgate.contracts.datagram import COUNTER_NAMES, OUTCOMES, Drop

__all__ = ["Counters", "COUNTERS"]

COUNTERS = data.StructLayout({name: 32 for name in COUNTER_NAMES})
_OUTCOME_NAMES = ("ACCEPTED",) + tuple(f"DROP_{d.name}" for d in Drop)     # by outcome code


class Counters(wiring.Component):
    """The counters of :data:`ringgate.contracts.datagram.COUNTER_NAMES` (32 bits, wrapping).

    Each ``event`` is one frame: FRAMES and the counter of its ``code`` (0 = ACCEPTED, else
    ``DROP_<Drop(code).name>``) count it; an accepted datagram adds ``entries`` to ENTRIES and, when
    ``gap`` is non-zero, records the gap. The outcome counters share one incrementer (the decoded
    code selects the operand and the register to load), so FRAMES = ACCEPTED + sum(DROP_*) holds
    in every cycle, mod 2**32 (proven: tests/hw/ingress/test_formal.py). An event's counts are
    visible two cycles after it.

    Members
    -------
    event : In(1)
        A frame's outcome.
    code : In(range(OUTCOMES))
        Its outcome code.
    entries : In(8)
        Entries of an accepted datagram.
    gap, session, seq : In(32)
        An accepted datagram's gap (sequence numbers skipped), session and sequence number.
    counters : Out(COUNTERS)
        The counters.
    """

    event: In(1)
    code: In(range(OUTCOMES))
    entries: In(8)
    gap: In(32)
    session: In(32)
    seq: In(32)
    counters: Out(COUNTERS)

    def elaborate(self, platform):
        m = Module()
        c = self.counters
        hot = Signal(OUTCOMES)
        ev, acc = Signal(), Signal()
        entries, gap, session, seq = Signal(8), Signal(32), Signal(32), Signal(32)
        m.d.sync += [ev.eq(self.event), hot.eq(Cat(self.code == i for i in range(OUTCOMES)) & self.event.replicate(OUTCOMES)),
                     acc.eq(self.event & (self.code == 0)), entries.eq(self.entries), gap.eq(self.gap),
                     session.eq(self.session), seq.eq(self.seq)]

        regs = [getattr(c, name) for name in _OUTCOME_NAMES]
        operand = Signal(32)
        # AND-OR select by the one-hot code: a flat OR tree, not a chain of priority muxes.
        m.d.comb += operand.eq(functools.reduce(operator.or_, (r & hot[i].replicate(32) for i, r in enumerate(regs))))
        inc = Signal(32)
        m.d.comb += inc.eq(operand + 1)
        for i, r in enumerate(regs):
            with m.If(hot[i]):
                m.d.sync += r.eq(inc)
        with m.If(ev):
            m.d.sync += c.FRAMES.eq(c.FRAMES + 1)
        with m.If(acc):
            m.d.sync += c.ENTRIES.eq(c.ENTRIES + entries)
            with m.If(gap != 0):
                m.d.sync += [c.GAPS.eq(c.GAPS + 1), c.GAP_DATAGRAMS.eq(c.GAP_DATAGRAMS + gap),
                             c.LAST_GAP_SESSION.eq(session), c.LAST_GAP_FIRST.eq(seq - gap),
                             c.LAST_GAP_LAST.eq(seq - 1)]

        if platform == "formal":
            from amaranth.hdl import Assert
            total = sum(regs[1:], regs[0])
            m.d.comb += Assert(c.FRAMES == total[:32])
            m.d.comb += Assert(hot.any() == ev)
            m.d.comb += Assert((hot & (hot - 1)) == 0)
        return m
