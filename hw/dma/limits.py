"""The per-TLP split limits of the DMA writer, in two register stages."""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ringgate.contracts.pcie import MAX_TLP_ENTRIES

from . import ROOM_BITS

__all__ = ["SplitLimits", "sat", "le", "min2", "min3"]

CAP_BITS = (MAX_TLP_ENTRIES * 2 - 1).bit_length()      # 0 .. 31: a saturated count of entries


def sat(value, limit_log2: int):
    """min(value, 2**limit_log2): one OR over the high bits and a mux."""
    return Mux(value[limit_log2:].any(), 1 << limit_log2, value[:limit_log2])


def min2(a, b):
    return Mux(a < b, a, b)


def le(a, b):
    """``a <= b`` for unsigned values, as the borrow of ``b - a``: a carry chain, which ABC9
    keeps as a box (a ``<=`` of a few bits it may map as a chain of LUTs, one per bit pair)."""
    width = max(len(a), len(b)) + 1
    return ~(b.as_unsigned() - a.as_unsigned())[width - 1]


def min3(a, b, c):
    """Three comparators side by side (carry chains), then one 6-input select per bit."""
    return Mux(le(a, b) & le(a, c), a, Mux(le(b, c), b, c))


class SplitLimits(wiring.Component):
    """How many entries the next data TLP may carry, from registered limits.

    Stage 1 saturates each limit at 16 entries (MPS, BATCH_LIMIT, entries to the next 4 KiB
    boundary or the ring's wrap, host room); stage 2 takes their minimum, so no 64-bit
    compare or five-way minimum sits in one cycle. The 4 KiB and wrap limits collapse into
    one because the ring base is 4 KiB aligned: ``min(size, 64) - slot mod min(size, 64)``.
    After a ``restart`` (a TLP's header, or an enable) the limits are fresh again, and
    ``cap_ok`` high, three cycles later at the earliest, provided the configuration (MPS,
    BATCH_LIMIT, RING_SIZE: locked while running) settled at least a cycle before the restart.

    Entries ready (``ready``) is the ring's fill minus this cycle's take, registered: a lower
    bound of the next cycle's fill (it misses at most that cycle's push), so ``n`` never
    promises an entry that is not there; a decision is only taken with an entry on the ring's
    output, hence at least 1.

    Parameters
    ----------
    ring_depth : int
        Depth of the BRAM ring (width of ``fill``).

    Members
    -------
    mps : In(3)
        ``cfg_max_payload`` code (0 = 128 B .. 3 = 1024 B).
    batch_limit, ring_size : In(32)
        Configuration registers.
    slot : In(ROOM_BITS)
        Host ring slot of the next entry (sent mod size).
    room : In(ROOM_BITS + 1)
        Free host slots.
    fill : In(range(ring_depth + 1))
        Entries in the BRAM ring.
    take : In(1)
        An entry leaves the ring this cycle.
    restart : In(1)
        Slot or room are about to change: the limits are stale until recomputed.
    cap : Out(5)
        min(MPS / 64, BATCH_LIMIT, to 4 KiB or wrap, room, 16), valid while ``cap_ok``.
    cap_ok : Out(1)
        ``cap`` reflects the current slot and room, and is not zero.
    wrap : Out(5)
        Entries to the wrap point, saturated (31: more than a TLP carries).
    ready : Out(5)
        Entries ready (1..16).
    n : Out(5)
        min(ready, cap): the next TLP's entries.
    n_one : Out(1)
        ``n == 1``.
    """

    def __init__(self, ring_depth: int):
        super().__init__({
            "mps": In(3), "batch_limit": In(32), "ring_size": In(32),
            "slot": In(ROOM_BITS), "room": In(ROOM_BITS + 1),
            "fill": In(range(ring_depth + 1)), "take": In(1), "restart": In(1),
            "cap": Out(CAP_BITS), "cap_ok": Out(1), "wrap": Out(CAP_BITS), "ready": Out(CAP_BITS),
            "n": Out(CAP_BITS), "n_one": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        size, slot = self.ring_size, self.slot
        mps_e = Signal(CAP_BITS)
        batch_e = Signal(CAP_BITS)
        batch_hi = Signal()
        batch_lo = Signal(4)
        bound_e = Signal(CAP_BITS)
        room_e = Signal(CAP_BITS)
        cfg_e = Signal(CAP_BITS)
        fresh = Signal(2)                    # shift register: cap reflects the current slot/room
        small = Signal()                     # ring smaller than one 4 KiB page
        m.d.sync += small.eq(~size[6:].any())
        to_page = Signal(7)
        m.d.comb += to_page.eq(Mux(small, size[:7] - slot[:7], 64 - slot[:6]))
        m.d.sync += [
            mps_e.eq(Const(2, CAP_BITS) << self.mps[:2]),
            # BATCH_LIMIT is locked while running: its 28-bit "any high bit" gets a cycle of its own
            # (shared with ConfigCheck's reads, ABC9 had mapped it as a 6-LUT chain into batch_e).
            batch_hi.eq(self.batch_limit[4:].any()),
            batch_lo.eq(self.batch_limit[:4]),
            batch_e.eq(Mux(batch_hi, 16, batch_lo)),
            bound_e.eq(sat(to_page, 4)),
            room_e.eq(sat(self.room, 4)),
            cfg_e.eq(min2(mps_e, batch_e)),       # configuration only: one more stage is free
            self.cap.eq(min3(cfg_e, bound_e, room_e)),
            fresh.eq(Cat(1, fresh[0])),
            # cap_ok == fresh[1] & (cap != 0), one register instead of a compare on the FSM path
            self.cap_ok.eq(fresh[0] & (cfg_e != 0) & (bound_e != 0) & (room_e != 0)),
        ]
        with m.If(self.restart):
            m.d.sync += [fresh.eq(0), self.cap_ok.eq(0)]
        # Entries to the wrap point, saturated: the header cycle compares it with n instead of
        # adding and testing slot + n.
        to_wrap = Signal(ROOM_BITS + 1)
        m.d.comb += to_wrap.eq(size[:ROOM_BITS + 1] - slot)
        m.d.sync += self.wrap.eq(Mux(to_wrap[5:].any(), 31, to_wrap[:5]))
        fill_r = Signal(CAP_BITS)
        fill_left = Signal(len(self.fill))
        m.d.comb += fill_left.eq(self.fill - self.take)
        m.d.sync += fill_r.eq(sat(fill_left, 4))
        m.d.comb += [
            self.ready.eq(Mux(fill_r == 0, 1, fill_r)),
            self.n.eq(min2(self.ready, self.cap)),
            self.n_one.eq((self.ready == 1) | (self.cap == 1)),
        ]
        return m
