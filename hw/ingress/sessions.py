"""Per-session datagram sequence numbers: the last accepted ``seq`` of every session."""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Sessions"]


class Sessions(wiring.Component):
    """Last accepted datagram sequence number per session (distributed RAM), and the newer/gap test.

    A lookup takes the session (``session``, registered by the caller) and, a cycle later, the
    datagram's ``seq``; two cycles after that ``stale`` and ``gap`` are valid and hold until the
    next lookup. ``d = seq - last`` (mod 2**32): ``d == 0`` or ``d >= 2**31`` is stale (duplicate
    or old); otherwise ``gap = d - 1`` sequence numbers were skipped. ``update`` stores ``seq`` as
    the session's last. ``clear`` (a strobe) zeroes every session over ``sessions`` cycles, during
    which ``clearing`` is high.

    Members
    -------
    session : In(range(sessions))
        Session of the lookup (held by the caller until ``update``).
    seq : In(32)
        Datagram sequence number (held by the caller until ``update``).
    lookup : In(1)
        ``session`` is valid now; ``seq`` will be valid next cycle.
    stale : Out(1)
        The datagram is not newer than the session's last.
    gap : Out(32)
        Sequence numbers skipped before it.
    last : Out(32)
        The session's last accepted sequence number (at the lookup).
    update : In(1)
        Store ``seq`` as ``session``'s last.
    clear : In(1)
        Start zeroing every session.
    clearing : Out(1)
        Zeroing in progress.
    """

    def __init__(self, sessions: int):
        if sessions < 1 or sessions & (sessions - 1) or sessions > 256:
            raise ValueError(f"sessions must be a power of two from 1 to 256, not {sessions!r}")
        self._sessions = sessions
        super().__init__({
            "session": In(range(sessions)), "seq": In(32), "lookup": In(1),
            "stale": Out(1), "gap": Out(32), "last": Out(32),
            "update": In(1), "clear": In(1), "clearing": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        n = self._sessions
        m.submodules.table = table = memory.Memory(shape=32, depth=n, init=[])
        rd = table.read_port(domain="comb")
        wr = table.write_port()

        sweep = Signal(range(n))
        with m.If(self.clear):
            m.d.sync += [self.clearing.eq(1), sweep.eq(0)]
        with m.Elif(self.clearing):
            m.d.sync += sweep.eq(sweep + 1)
            with m.If(sweep == n - 1):
                m.d.sync += self.clearing.eq(0)
        with m.If(self.clearing):
            m.d.comb += [wr.addr.eq(sweep), wr.data.eq(0), wr.en.eq(1)]
        with m.Else():
            m.d.comb += [wr.addr.eq(self.session), wr.data.eq(self.seq), wr.en.eq(self.update)]

        # lookup at t: last read at t (registered), d = seq - last at t+1, classified at t+2
        l1, l2 = Signal(), Signal()
        d = Signal(32)
        m.d.comb += rd.addr.eq(self.session)
        m.d.sync += [l1.eq(self.lookup), l2.eq(l1)]
        with m.If(self.lookup):
            m.d.sync += self.last.eq(rd.data)
        with m.If(l1):
            m.d.sync += d.eq(self.seq - self.last)
        with m.If(l2):
            m.d.sync += [self.stale.eq((d == 0) | d[31]), self.gap.eq(d - 1)]
        return m
