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

    Parameters
    ----------
    width : int
        Counter bits (32 in hardware).

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

    def __init__(self, width: int = 32):
        self._width = width
        layout = COUNTERS if width == 32 else data.StructLayout({name: width for name in COUNTER_NAMES})
        super().__init__({"event": In(1), "code": In(range(OUTCOMES)), "entries": In(8), "gap": In(32),
                          "session": In(32), "seq": In(32), "counters": Out(layout)})

    def elaborate(self, platform):
        m = Module()
        c = self.counters
        hot = Signal(OUTCOMES)
        acc = Signal()
        entries, gap, session, seq = Signal(8), Signal(32), Signal(32), Signal(32)
        m.d.sync += [hot.eq(Cat(self.code == i for i in range(OUTCOMES)) & self.event.replicate(OUTCOMES)),
                     acc.eq(self.event & (self.code == 0)), entries.eq(self.entries), gap.eq(self.gap),
                     session.eq(self.session), seq.eq(self.seq)]

        regs = [getattr(c, name) for name in _OUTCOME_NAMES]
        w = self._width
        operand = Signal(w)
        # AND-OR select by the one-hot code: a flat OR tree, not a chain of priority muxes.
        m.d.comb += operand.eq(functools.reduce(operator.or_, (r & hot[i].replicate(w) for i, r in enumerate(regs))))
        inc = Signal(w)
        m.d.comb += inc.eq(operand + 1)
        for i, r in enumerate(regs):
            with m.If(hot[i]):
                m.d.sync += r.eq(inc)
        # FRAMES counts what an outcome counter counts (an out-of-range code counts nowhere).
        with m.If(hot.any()):
            m.d.sync += c.FRAMES.eq(c.FRAMES + 1)
        with m.If(acc):
            m.d.sync += c.ENTRIES.eq(c.ENTRIES + entries)
            with m.If(gap != 0):
                m.d.sync += [c.GAPS.eq(c.GAPS + 1), c.GAP_DATAGRAMS.eq(c.GAP_DATAGRAMS + gap),
                             c.LAST_GAP_SESSION.eq(session), c.LAST_GAP_FIRST.eq(seq - gap),
                             c.LAST_GAP_LAST.eq(seq - 1)]

        if platform == "formal":
            self._formal(m, regs, hot)
        return m

    def _formal(self, m, regs, hot):
        """Every cycle: FRAMES moves by +1 exactly when one outcome counter does, by +1, and no
        other outcome counter moves. All start at 0, so FRAMES = ACCEPTED + sum(DROP_*) (mod 2**w)
        in every cycle: each step adds 1 to both sides or nothing."""
        from amaranth.asserts import Initial
        from amaranth.hdl import Assert

        w, frames = self._width, self.counters.FRAMES
        before = [Signal(w, name=f"prev_{i}") for i in range(len(regs) + 1)]
        m.d.sync += [b.eq(r) for b, r in zip(before, [frames, *regs])]
        started = Signal()
        m.d.sync += started.eq(1)
        moved = Signal(len(regs))
        m.d.comb += moved.eq(Cat(r != b for r, b in zip(regs, before[1:])))
        with m.If(Initial()):
            m.d.comb += [Assert(r == 0) for r in [frames, *regs]]
        with m.If(started):
            m.d.comb += [
                Assert((moved & (moved - 1)) == 0),
                Assert((frames != before[0]) == moved.any()),
                Assert(~moved.any() | (frames == (before[0] + 1)[:w])),
            ]
            m.d.comb += [Assert(~moved[i] | (r == (b + 1)[:w])) for i, (r, b) in enumerate(zip(regs, before[1:]))]
        m.d.comb += Assert((hot & (hot - 1)) == 0)
