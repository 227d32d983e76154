"""The host's credit: the doorbell's range check and the room counter of the host ring."""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ringgate.contracts.pcie import MAX_TLP_ENTRIES

from . import ROOM_BITS

__all__ = ["HostCredit"]


class HostCredit(wiring.Component):
    """The consumed sequence in force and the free host slots, fed by doorbell writes.

    A doorbell write is latched; while running it is checked (backwards from ``consumed``,
    or beyond ``sent``: 64-bit subtractions, registered) and, if in range, committed: the
    consumed sequence takes it and its credit reaches ``room`` in the first cycle without a
    ``sub`` (one two-operand add per cycle; headers are never back to back), so the room
    lags a doorbell by a cycle or two and is never overstated. A doorbell written while off
    or validating waits: while off the DOORBELL register itself is what an enable uses
    (``load``), and one written during validation is checked once running.

    Members
    -------
    doorbell : In(64)
        DOORBELL register value.
    doorbell_w : In(1)
        Its write strobe.
    sent : In(64)
        Sequence of the next entry to send.
    running : In(1)
        The writer is enabled (checks and commits only then).
    off : In(1)
        The writer is off: a pending doorbell is dropped.
    sub : In(1)
        A TLP of ``n`` entries is being started: room decreases by ``n``.
    n : In(range(MAX_TLP_ENTRIES + 1))
    load : In(1)
        Enable accepted: ``consumed`` and ``room`` take ``load_consumed`` and ``load_room``.
    load_consumed : In(64)
    load_room : In(ROOM_BITS + 1)
    consumed : Out(64)
        The doorbell in force (HOST_CONSUMED).
    room : Out(ROOM_BITS + 1)
        Free host slots: size - (sent - consumed), 0 .. size.
    range_error : Out(1)
        Pulse: a doorbell refused (ERROR.DOORBELL_RANGE).
    pending : Out(1)
        A doorbell latched, being checked, or its credit not yet in ``room``.
    """

    def __init__(self):
        super().__init__({
            "doorbell": In(64), "doorbell_w": In(1), "sent": In(64),
            "running": In(1), "off": In(1),
            "sub": In(1), "n": In(range(MAX_TLP_ENTRIES + 1)),
            "load": In(1), "load_consumed": In(64), "load_room": In(ROOM_BITS + 1),
            "consumed": Out(64), "room": Out(ROOM_BITS + 1), "range_error": Out(1), "pending": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        consumed, room, running = self.consumed, self.room, self.running
        db_pend = Signal()
        db_val = Signal(64)
        db_chk = Signal()
        db_cand = Signal(64)
        db_delta = Signal(64)
        db_ahead = Signal(64)
        db_add = Signal(ROOM_BITS + 1)
        db_add_v = Signal()
        with m.If(self.doorbell_w):
            m.d.sync += [db_val.eq(self.doorbell), db_pend.eq(1)]
        with m.If(db_pend & ~db_chk & ~db_add_v & ~self.doorbell_w & running):
            m.d.sync += [db_chk.eq(1), db_pend.eq(0), db_cand.eq(db_val),
                         db_delta.eq(db_val - consumed), db_ahead.eq(self.sent - db_val)]
        with m.If(self.off & ~self.doorbell_w):
            m.d.sync += db_pend.eq(0)
        with m.If(db_chk):
            m.d.sync += db_chk.eq(0)
        db_ok = Signal()
        m.d.comb += [db_ok.eq(db_chk & running & ~db_delta[63] & ~db_ahead[63]),
                     self.range_error.eq(db_chk & running & ~db_ok)]
        with m.If(db_ok):
            m.d.sync += [consumed.eq(db_cand), db_add.eq(db_delta[:ROOM_BITS + 1]), db_add_v.eq(1)]

        with m.If(self.sub):
            m.d.sync += room.eq(room - self.n)
        with m.Elif(db_add_v):
            m.d.sync += [room.eq(room + db_add), db_add_v.eq(0)]
        with m.If(self.load):
            m.d.sync += [room.eq(self.load_room), db_add_v.eq(0), consumed.eq(self.load_consumed)]
        m.d.comb += self.pending.eq(db_pend | db_chk | db_add_v)
        return m
