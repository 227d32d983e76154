"""Function-level reset handshake with the UltraScale+ hard block (``cfg_flr_in_process`` /
``cfg_flr_done``)."""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["FunctionReset", "PF_COUNT"]

PF_COUNT = 4            # physical functions the block's FLR ports carry (one bit each)


class FunctionReset(wiring.Component):
    """Sequences a function-level reset of physical function 0: stop issuing, wait until nothing
    is in flight, reset the function's logic for one cycle, then tell the block it is done.

    While ``in_process[0]`` is high and the reset has not been acknowledged, ``stop`` is high (the
    writer stops and treats bus mastering as off). After ``settle`` cycles of ``stop`` and once
    ``quiet`` (nothing held or in flight towards RQ or CC, and no request being answered), ``reset``
    pulses for one cycle and ``done[0]`` pulses in the next: AMD's example design pulses
    ``cfg_flr_done[k]`` for one cycle once function k is quiet; the block then ends the FLR.
    The wait for ``quiet`` is bounded by the RQ adapter's sequence-number timeout. Functions 1-3
    do not exist in this design; their FLR is acknowledged at once (a pulse one cycle after
    ``in_process[k]`` rises), as the example design does.

    Parameters
    ----------
    settle : int
        Cycles of ``stop`` before ``quiet`` is believed (the writer's registered stop and status).

    Members
    -------
    in_process : In(PF_COUNT)
        ``cfg_flr_in_process``: function k is being reset.
    done : Out(PF_COUNT)
        ``cfg_flr_done``: one-cycle pulse, function k has finished its reset.
    quiet : In(1)
        Nothing held or in flight towards the block (registered status is fine).
    stop : Out(1)
        The function must stop issuing requests.
    reset : Out(1)
        One-cycle pulse: the function's logic to its reset values.
    """

    def __init__(self, *, settle: int = 3):
        self._settle = settle
        super().__init__({
            "in_process": In(PF_COUNT), "done": Out(PF_COUNT), "quiet": In(1),
            "stop": Out(1), "reset": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        acked = Signal()              # done given for the FLR in process
        settle = Signal(range(self._settle + 1))
        settled = Signal()
        m.d.comb += settled.eq(settle == self._settle)
        m.d.sync += [self.reset.eq(0), self.done.eq(0)]
        with m.If(~self.in_process[0]):
            m.d.sync += [self.stop.eq(0), acked.eq(0), settle.eq(0)]
        with m.Elif(~acked):
            m.d.sync += self.stop.eq(1)
            with m.If(self.stop & ~settled):
                m.d.sync += settle.eq(settle + 1)
            with m.If(settled & self.quiet & ~self.reset):
                m.d.sync += self.reset.eq(1)
            with m.If(self.reset):
                m.d.sync += [self.done[0].eq(1), acked.eq(1)]
        seen = Signal(PF_COUNT - 1)
        m.d.sync += [seen.eq(self.in_process[1:]), self.done[1:].eq(self.in_process[1:] & ~seen)]
        return m
