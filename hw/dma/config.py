"""Validation of the DMA writer's configuration when ``CONTROL.ENABLE`` is written."""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ringgate.contracts.regmap import MAX_RING_SIZE, REGMAP

from . import ROOM_BITS

__all__ = ["ConfigCheck"]

ERROR = REGMAP["ERROR"]


class ConfigCheck(wiring.Component):
    """The enable-time checks of the configuration, three register stages of wide compares.

    The writer's state machine steps ``stage`` through its three one-hot bits (its CHECK1 ..
    CHECK3 states); in the fourth cycle it reads ``fail`` and ``errors`` and, if the
    configuration is good, loads ``consumed``, ``room`` and ``next_addr``. All the reasons
    are reported at once, except where one check depends on another field being valid (the
    cursor overlap and the wrap need an aligned base and a valid size, the doorbell range a
    valid size): ``config_errors`` in the register map contract is the rule. Address compares
    are exact (65 bits), so a ring at base 0 or at the top of the address space is judged
    like any other. The zero and
    power-of-two flags are registered every cycle from the configuration registers, which
    BAR0 writes at least two cycles before an enable's validation starts.

    Members
    -------
    ring_base, cursor_addr : In(64)
    ring_size, batch_limit, cursor_interval : In(32)
        Configuration registers.
    sent : In(64)
        Sequence of the next entry to send.
    doorbell : In(64)
        DOORBELL register: the consumed sequence the host declares.
    stage : In(3)
        One-hot: which check cycle this is (CHECK1 .. CHECK3).
    slot : In(ROOM_BITS)
        The writer's slot register, loaded from ``start_slot`` in the second stage.
    start_slot : Out(ROOM_BITS)
        ``sent mod ring_size``.
    errors : Out(ERROR layout)
        The refusal reasons, by field (valid after the third stage).
    fail : Out(1)
        Any reason.
    consumed : Out(64)
        The doorbell to put in force.
    room : Out(ROOM_BITS + 1)
        ``ring_size - (sent - doorbell)``.
    next_addr : Out(64)
        ``ring_base + slot * 64``.
    """

    def __init__(self):
        super().__init__({
            "ring_base": In(64), "ring_size": In(32), "cursor_addr": In(64),
            "batch_limit": In(32), "cursor_interval": In(32),
            "sent": In(64), "doorbell": In(64), "stage": In(3), "slot": In(ROOM_BITS),
            "start_slot": Out(ROOM_BITS), "errors": Out(ERROR.layout()), "fail": Out(1),
            "consumed": Out(64), "room": Out(ROOM_BITS + 1), "next_addr": Out(64),
        })

    def elaborate(self, platform):
        m = Module()
        size, base, cursor = self.ring_size, self.ring_base, self.cursor_addr
        size_mask = Signal(ROOM_BITS)
        m.d.comb += [size_mask.eq(size - 1), self.start_slot.eq(self.sent[:ROOM_BITS] & size_mask)]
        batch_zero = Signal()
        interval_zero = Signal()
        size_zero = Signal()
        size_not_pow2 = Signal()
        pow2_parts = Signal(4)           # size & (size - 1) per byte, then their OR: two stages
        size_big = Signal()
        m.d.sync += [batch_zero.eq(self.batch_limit == 0), interval_zero.eq(self.cursor_interval == 0),
                     size_zero.eq(size == 0), size_not_pow2.eq(pow2_parts.any()),
                     pow2_parts.eq(Cat(*[(size & size_mask)[8 * k:8 * k + 8].any() for k in range(4)])),
                     size_big.eq(size > MAX_RING_SIZE)]

        base_bad = Signal()
        size_bad = Signal()
        curs_bad = Signal()
        limit_bad = Signal()
        diff = Signal(64)
        ring_end = Signal(65)            # exact: a ring ending past 2**64 must not wrap to a small end
        cursor_end = Signal(65)
        in_ring = Signal()
        wraps = Signal()
        diff_bad = Signal()
        with m.If(self.stage[0]):
            m.d.sync += [
                base_bad.eq(base[:12].any()),
                size_bad.eq(size_zero | size_not_pow2 | size_big),
                curs_bad.eq(cursor[:6].any()),
                limit_bad.eq(batch_zero | interval_zero),
                diff.eq(self.sent - self.doorbell),
                self.consumed.eq(self.doorbell),
                ring_end.eq(base + (size[:ROOM_BITS] << 6)),
                cursor_end.eq(cursor + 64),
            ]
        with m.If(self.stage[1]):
            m.d.sync += [
                diff_bad.eq(diff[ROOM_BITS + 1:].any() | (diff[:ROOM_BITS + 1] > size)),
                in_ring.eq((cursor_end > base) & (cursor < ring_end)),
                wraps.eq(ring_end > (1 << 64)),
            ]
        e = self.errors
        # The overlap and the wrap are only meaningful for an aligned base and a valid size.
        layout_ok = ~base_bad & ~size_bad
        with m.If(self.stage[2]):
            m.d.sync += [
                e.ring_base_unaligned.eq(base_bad),
                e.ring_size_invalid.eq(size_bad),
                e.cursor_addr_unaligned.eq(curs_bad),
                e.cursor_in_ring.eq(in_ring & layout_ok),
                e.ring_wraps.eq(wraps & layout_ok),
                e.limit_invalid.eq(limit_bad),
                e.doorbell_range.eq(diff_bad & ~size_bad),
                self.fail.eq(base_bad | size_bad | curs_bad | in_ring | wraps | limit_bad | diff_bad),
                self.room.eq(size - diff[:ROOM_BITS + 1]),
                self.next_addr.eq(base + (self.slot << 6)),
            ]
        return m
