"""Output register plus skid register for a producer that pushes without looking at ``ready``."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RequestSkid"]


class RequestSkid(wiring.Component):
    """A registered stream stage whose producer pushes whenever ``free`` is high.

    The producer's decisions then start at registers: none of them reads ``o.ready`` (in the
    PCIe top it comes from the IP's ``tready`` through the adapter). A push goes straight to
    the output register if that one is empty or being taken (no added latency), else into the
    skid register. ``o.valid`` never depends on ``o.ready``. The payload registers load
    unconditionally (enable: output drains, or skid empty); only the valid flags depend on
    ``push``.

    Parameters
    ----------
    shape : shape-like
        Payload shape.

    Members
    -------
    push : In(1)
        ``data`` is a new payload (only while ``free``).
    data : In(shape)
        The payload offered.
    o : Out(stream.Signature(shape))
        The registered stream.
    free : Out(1)
        The skid register is empty: a push is accepted this cycle.
    busy : Out(1)
        A payload is held (output or skid register).
    """

    def __init__(self, shape):
        self._shape = shape
        super().__init__({
            "push": In(1),
            "data": In(shape),
            "o": Out(stream.Signature(shape)),
            "free": Out(1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        o = self.o
        skid_valid = Signal()
        skid = Signal(self._shape)
        drain = Signal()
        m.d.comb += drain.eq(~o.valid | o.ready)
        with m.If(drain):
            m.d.sync += [o.payload.eq(Mux(skid_valid, skid, self.data)),
                         o.valid.eq(skid_valid | self.push), skid_valid.eq(0)]
        with m.Else():
            m.d.sync += skid_valid.eq(skid_valid | self.push)
        with m.If(~skid_valid):
            m.d.sync += skid.eq(self.data)
        m.d.comb += [self.free.eq(~skid_valid), self.busy.eq(o.valid | skid_valid)]
        return m
