"""The cursor line of the DMA writer: its content, the write count, and when one is owed."""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ringgate.contracts.entry import CURSOR_LINE

__all__ = ["CursorEmitter"]


class CursorEmitter(wiring.Component):
    """State of the cursor line: what the next cursor write carries and whether one is due.

    After a data TLP (``header``) the cursor is behind (``dirty``, ``current`` low) and
    ``under`` says whether fewer than CURSOR_INTERVAL data TLPs went out since the last cursor
    write (then another TLP may go first). ``emit`` is the cursor write itself: the line
    carries ``sent``, the timestamp and the write count, and everything sent is covered. The
    timestamp is the counter in the cycle the write is queued (``emit``): the line then waits
    behind the data lines queued before it and for RQ, so the TLP reaches the IP later than
    its timestamp under back-pressure (the contract's label says "queued").
    ``current`` stands for CURSOR_WRITTEN == SENT without a 64-bit compare: the two change
    together only at a cursor write (equal after) and at a data header (SENT grows).

    Members
    -------
    sent : In(64)
        Sequence of the next entry to send.
    timestamp : In(64)
        Free-running cycle counter.
    cursor_interval : In(32)
        CURSOR_INTERVAL register.
    header : In(1)
        A data TLP's header goes out.
    emit : In(1)
        The cursor line goes out (``line`` is its payload this cycle).
    start : In(1)
        An enable was accepted: the count restarts.
    clear : In(1)
        CONTROL.RESET: the count clears.
    line : Out(CURSOR_LINE.layout())
        The cursor line to write.
    writes : Out(64)
        Cursor writes since enable (CURSOR_WRITES).
    written : Out(64)
        Cursor value of the last write (CURSOR_WRITTEN).
    current : Out(1)
        ``written == sent``.
    dirty : Out(1)
        Data sent that no cursor write covers yet.
    under : Out(1)
        Fewer than CURSOR_INTERVAL data TLPs since the last cursor write.
    """

    def __init__(self):
        super().__init__({
            "sent": In(64), "timestamp": In(64), "cursor_interval": In(32),
            "header": In(1), "emit": In(1), "start": In(1), "clear": In(1),
            "line": Out(CURSOR_LINE.layout()), "writes": Out(64), "written": Out(64),
            "current": Out(1, init=1), "dirty": Out(1), "under": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        tlps_since = Signal(32)
        with m.If(self.header):
            m.d.sync += [
                self.current.eq(0), self.dirty.eq(1),
                tlps_since.eq(tlps_since + 1),
                self.under.eq((tlps_since + 1) < self.cursor_interval),
            ]
        with m.If(self.start):
            m.d.sync += [self.writes.eq(0), tlps_since.eq(0), self.dirty.eq(0)]
        with m.If(self.clear):
            m.d.sync += self.writes.eq(0)
        with m.If(self.emit):
            m.d.sync += [
                self.writes.eq(self.writes + 1),
                self.written.eq(self.sent), self.current.eq(1),
                tlps_since.eq(0), self.dirty.eq(0),
            ]
        m.d.comb += [self.line.cursor.eq(self.sent), self.line.timestamp.eq(self.timestamp),
                     self.line.writes.eq(self.writes + 1)]
        return m
