"""Vendor-neutral DMA writer: BRAM ring entries -> Memory Write requests into a host ring,
followed by a Memory Write of the cursor line.

Output: a stream of 64-byte *lines* (one ring entry, or the cursor line), each with the
request header; ``first`` marks the line that carries a valid header, ``last`` the final
line of a request. The hard-block adapter (``pcie/usp.py``) turns this into descriptors and
datapath beats of its own width, so this core knows nothing about 256 or 512 bits.

Splitting rules (per data TLP of ``n`` entries, decided before its first entry is taken):

    n = min(entries ready now, MPS/64, entries to the next 4 KiB boundary,
            entries to the host ring's wrap point, BATCH_LIMIT, host room, 16)

"Entries ready now" is the BRAM ring's fill, so one lone entry goes out at once (latency
first) and a backlog fills each TLP to its limit (throughput). The 4 KiB and wrap limits
collapse into one because the ring base is 4 KiB aligned: ``min(size, 64) - slot mod
min(size, 64)``. Host room is ``size - (sent - consumed)``, kept as a small counter: a
slot is written only if ``s - consumed < size``.

After a data TLP the core writes the cursor line (cursor = next sequence, the free-running
timestamp, the write count) unless another data TLP can start at once and fewer than
``CURSOR_INTERVAL`` data TLPs went out since the last cursor write. Posted writes from one
requester with relaxed ordering off arrive in order, so the host never sees a cursor ahead
of its data. Once no entry can be sent, the cursor write follows the data TLP directly.

Timing (cycles of the user clock, no back-pressure):
- the entry's handshake out of the ring is the cycle after the decision (``IDLE`` -> ``HEAD``);
  the first line is valid on ``req`` the cycle after the handshake;
- the split limits pass through two register stages (no 64-bit or min-of-five chain in one
  cycle); after a TLP's header the next decision waits until they are fresh again.

Configuration is validated when ``CONTROL.ENABLE`` is written (four cycles, all 64-bit
compares registered). Refusals set sticky error bits (``err_set`` pulses) and leave the
writer off: nothing is written to host memory.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from ringgate.contracts.entry import ENTRY, CURSOR_LINE
from ringgate.contracts.pcie import MAX_TLP_ENTRIES
from ringgate.contracts.regmap import Control, Error, MAX_RING_SIZE

__all__ = ["REQ_LAYOUT", "DmaWriter", "MAX_TLP_ENTRIES", "CURSOR_DWORDS"]

CURSOR_DWORDS = 6               # cursor, timestamp, writes: 24 bytes of the 64-byte line
ROOM_BITS = (MAX_RING_SIZE).bit_length()     # room and slot counters: 0 .. 2**26

REQ_LAYOUT = data.StructLayout({
    "addr": 64,          # byte address of the request (DW aligned); valid on ``first``
    "ndw": 11,           # payload dwords; valid on ``first``
    "cursor": 1,         # 1: the cursor-line write, 0: a data write
    "first": 1,
    "last": 1,
    "line": 512,         # 64 bytes, little-endian (byte 0 in bits 7:0)
})


class State(enum.Enum, shape=9):
    """One-hot by construction (one flip-flop per state, decoded by reading its bit), so the
    synchronous reset stays on the flip-flops' set/reset pins instead of yosys' FSM
    recoding folding it into the next-state LUTs."""
    OFF = 1 << 0
    CHECK1 = 1 << 1
    CHECK2 = 1 << 2
    CHECK3 = 1 << 3
    CHECK4 = 1 << 4
    IDLE = 1 << 5
    HEAD = 1 << 6
    DATA = 1 << 7
    POST = 1 << 8


def _sat(value, limit_log2: int, width: int):
    """min(value, 2**limit_log2), width bits: one OR over the high bits and a mux."""
    return Mux(value[limit_log2:].any(), 1 << limit_log2, value[:limit_log2])


def _min(a, b):
    return Mux(a < b, a, b)


def _min3(a, b, c):
    """Three comparators side by side, then one 6-input select per bit (3 LUT levels)."""
    return Mux((a <= b) & (a <= c), a, Mux(b <= c, b, c))


class DmaWriter(wiring.Component):
    """Copies ring entries into the host ring as Memory Write requests, then writes the cursor line.

    Parameters
    ----------
    ring_depth : int
        Depth of the BRAM ring feeding ``entries`` (sets the width of ``fill``).
    """

    def __init__(self, ring_depth: int):
        self._ring_depth = ring_depth
        super().__init__({
            "entries": In(stream.Signature(ENTRY.layout())),
            "fill": In(range(ring_depth + 1)),
            "req": Out(stream.Signature(REQ_LAYOUT)),
            # configuration (BAR0 registers, locked while busy)
            "ring_base": In(64),
            "ring_size": In(32),
            "cursor_addr": In(64),
            "batch_limit": In(32),
            "cursor_interval": In(32),
            "mps": In(3),                 # cfg_max_payload code: 0=128 B .. 3=1024 B
            "bus_master": In(1),
            "timestamp": In(64),
            # commands
            "control": In(32),
            "control_w": In(1),
            "doorbell": In(64),
            "doorbell_w": In(1),
            "downstream_busy": In(1),     # the adapter still holds beats or un-returned TLPs
            # state
            "enabled": Out(1),
            "busy": Out(1),
            "settling": Out(1),           # validation or a doorbell check in progress
            "host_full": Out(1),
            "cursor_current": Out(1),
            "err_set": Out(32),
            "clear_errors": Out(1),
            "consumed": Out(64),
            "sent": Out(64),
            "cursor_written": Out(64),
            "cursor_writes": Out(64),
            "data_tlps": Out(64),
            "host_full_cycles": Out(64),
            "req_stall_cycles": Out(64),
            # observability for tests: the cycle an entry leaves the ring
            "take": Out(1),
        })

    def elaborate(self, platform):
        m = Module()

        state = Signal(State, init=State.OFF, attrs={"fsm_encoding": "none"})   # hand one-hot

        def is_(*states):
            """In one of ``states``: an OR of their one-hot bits (never a full compare)."""
            bits = [state.as_value()[st.value.bit_length() - 1] for st in states]
            out = bits[0]
            for b in bits[1:]:
                out = out | b
            return out
        sent = Signal(64)
        consumed = Signal(64)
        room = Signal(ROOM_BITS + 1)         # free host slots, 0 .. size
        slot = Signal(ROOM_BITS)             # sent mod size
        next_addr = Signal(64)               # ring_base + slot * 64
        n = Signal(range(MAX_TLP_ENTRIES + 1))
        n_one = Signal()                     # n == 1 and remaining == 1, registered with them
        rem_one = Signal()
        remaining = Signal(range(MAX_TLP_ENTRIES + 1))
        tlps_since = Signal(32)
        current = Signal(init=1)             # cursor_written == sent
        dirty = Signal()                     # data sent that no cursor write covers yet
        writes = Signal(64)
        cursor_written = Signal(64)
        data_tlps = Signal(64)
        host_full_cycles = Signal(64)
        stall_cycles = Signal(64)
        stop_req = Signal()
        reset_req = Signal()
        err = Signal(32)

        size = self.ring_size
        size_mask = Signal(ROOM_BITS)
        m.d.comb += size_mask.eq(size - 1)
        # Bus master enable, registered: it comes from the IP's configuration space and
        # would otherwise start the FSM's deepest path; a one-cycle lag is harmless.
        bus_master = Signal()
        m.d.sync += bus_master.eq(self.bus_master)
        # Zero limits, registered: configuration is written at least two cycles before an
        # enable's validation starts (BAR0 spaces requests), so these are current in CHECK1.
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

        # -- split limits, two register stages ------------------------------------------
        # Stage 1: each limit saturated at 16.  Stage 2: their minimum with the host room.
        mps_e = Signal(5)
        batch_e = Signal(5)
        bound_e = Signal(5)
        room_e = Signal(5)
        cap = Signal(5)
        cfg_e = Signal(5)
        fresh = Signal(2)                    # shift register: cap reflects the current slot/room
        cap_ok = Signal()
        small = Signal()                     # ring smaller than one 4 KiB page
        m.d.sync += small.eq(~size[6:].any())
        to_page = Signal(7)
        m.d.comb += to_page.eq(Mux(small, size[:7] - slot[:7], 64 - slot[:6]))
        m.d.sync += [
            mps_e.eq(Const(2, 5) << self.mps[:2]),
            batch_e.eq(_sat(self.batch_limit, 4, 32)),
            bound_e.eq(_sat(to_page, 4, 7)),
            room_e.eq(_sat(room, 4, ROOM_BITS + 1)),
            cfg_e.eq(_min(mps_e, batch_e)),       # configuration only: one more stage is free
            cap.eq(_min3(cfg_e, bound_e, room_e)),
            fresh.eq(Cat(1, fresh[0])),
            # cap_ok == fresh[1] & (cap != 0), one register instead of a compare on the FSM path
            cap_ok.eq(fresh[0] & (cfg_e != 0) & (bound_e != 0) & (room_e != 0)),
        ]
        # Entries to the wrap point, saturated (31 = "more than a TLP can carry"): the header
        # cycle compares it with n instead of adding and testing slot + n.
        wrap_e = Signal(5)
        to_wrap = Signal(ROOM_BITS + 1)
        m.d.comb += to_wrap.eq(size[:ROOM_BITS + 1] - slot)
        m.d.sync += wrap_e.eq(Mux(to_wrap[5:].any(), 31, to_wrap[:5]))
        # Entries ready, registered: fill minus this cycle's take is a lower bound of the next
        # cycle's fill (it misses at most that cycle's push), so n never overcounts; a decision
        # is only taken with an entry on the ring's output, hence at least 1.
        fill_r = Signal(5)
        fill_left = Signal(len(self.fill))
        m.d.comb += fill_left.eq(self.fill - self.take)
        m.d.sync += fill_r.eq(_sat(fill_left, 4, len(self.fill)))
        fill_e = Signal(5)
        m.d.comb += fill_e.eq(Mux(fill_r == 0, 1, fill_r))

        # -- output register + skid register (valid never depends on ready) ------------
        # The FSM pushes a line (``push``, ``pl``) whenever the skid register is empty; the
        # line goes straight to the output register if that one is empty or being taken (no
        # added latency), else into the skid register. So no decision reads ``req.ready``
        # (in the top it comes from the IP's tready through the adapter): the FSM's paths
        # start at registers.
        push = Signal()
        pl = Signal(REQ_LAYOUT)
        skid_valid = Signal()
        skid = Signal(REQ_LAYOUT)
        drain = Signal()
        m.d.comb += drain.eq(~self.req.valid | self.req.ready)
        # The payload registers load unconditionally (enable = drain, or skid empty); only
        # the valid flags depend on ``push``. ``pl`` is selected by the state alone.
        with m.If(drain):
            m.d.sync += [self.req.payload.eq(Mux(skid_valid, skid, pl)),
                         self.req.valid.eq(skid_valid | push), skid_valid.eq(0)]
        with m.Else():
            m.d.sync += skid_valid.eq(skid_valid | push)
        with m.If(~skid_valid):
            m.d.sync += skid.eq(pl)
        out_free = Signal()
        m.d.comb += out_free.eq(~skid_valid)
        with m.If(self.req.valid & ~self.req.ready):
            m.d.sync += stall_cycles.eq(stall_cycles + 1)

        take = Signal()
        m.d.comb += [
            self.entries.ready.eq(take),
            self.take.eq(take & self.entries.valid),
        ]

        # -- doorbell: latch, then check against consumed and sent, then commit ----------
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
        running = Signal()
        m.d.comb += running.eq(is_(State.IDLE, State.HEAD, State.DATA, State.POST))
        # While off, the DOORBELL register itself is what enable uses; a doorbell written
        # during validation stays pending and is checked once running.
        with m.If(db_pend & ~db_chk & ~db_add_v & ~self.doorbell_w & running):
            m.d.sync += [db_chk.eq(1), db_pend.eq(0), db_cand.eq(db_val),
                         db_delta.eq(db_val - consumed), db_ahead.eq(sent - db_val)]
        with m.If(is_(State.OFF) & ~self.doorbell_w):
            m.d.sync += db_pend.eq(0)
        with m.If(db_chk):
            m.d.sync += db_chk.eq(0)
        db_ok = Signal()
        m.d.comb += db_ok.eq(db_chk & running & ~db_delta[63] & ~db_ahead[63])
        with m.If(db_chk & running & ~db_ok):
            m.d.comb += err.eq(Error.DOORBELL_RANGE)
        with m.If(db_ok):
            m.d.sync += consumed.eq(db_cand)
        with m.If(db_ok):
            m.d.sync += [db_add.eq(db_delta[:ROOM_BITS + 1]), db_add_v.eq(1)]

        # Room bookkeeping, one two-operand add per cycle: the header cycle subtracts n; an
        # accepted doorbell's credit is added in the next cycle without a header (headers
        # are never back to back). Room lags a doorbell by a cycle or two: never too high.
        room_sub = Signal()
        with m.If(room_sub):
            m.d.sync += room.eq(room - n)
        with m.Elif(db_add_v):
            m.d.sync += [room.eq(room + db_add), db_add_v.eq(0)]

        # -- commands ----------------------------------------------------------------------
        # Commands, registered: BAR0's CMD strobe is combinational (decode of the executing
        # request); ``settling`` covers the extra cycle so BAR0 takes no request before the
        # command's effect is visible.
        ctl = Signal(2)
        ctl_w = Signal()
        m.d.sync += [ctl.eq(self.control[:2]), ctl_w.eq(self.control_w)]
        # stop_req's next value is computed here (the ``go`` flag below is registered from it).
        stop_next = Signal()
        m.d.comb += stop_next.eq(~is_(State.OFF)
                                 & (stop_req | (ctl_w & (ctl[1] | ~ctl[0]))))
        m.d.sync += stop_req.eq(stop_next)
        with m.If(ctl_w & ctl[1]):      # RESET
            m.d.sync += reset_req.eq(1)

        # -- validation (CHECK1..3) registers ---------------------------------------------
        v_base_bad = Signal()
        v_size_bad = Signal()
        v_curs_bad = Signal()
        v_limit_bad = Signal()
        v_diff = Signal(64)
        v_db = Signal(64)
        v_ring_end = Signal(64)
        v_base_lo = Signal(64)
        v_in_ring = Signal()
        v_diff_bad = Signal()
        v_bad = Signal(6)
        v_fail = Signal()                    # v_bad.any(), registered with it
        v_room = Signal(ROOM_BITS + 1)
        v_next_addr = Signal(64)

        # -- cursor line -------------------------------------------------------------------
        cline = Signal(CURSOR_LINE.layout())

        def emit_cursor():
            m.d.comb += push.eq(1)
            m.d.sync += [
                writes.eq(writes + 1),
                cursor_written.eq(sent), current.eq(1),
                tlps_since.eq(0),
                dirty.eq(0),
            ]

        # Registered helpers keep wide compares off the FSM's enable paths. room_nz lags room by
        # a cycle; it only steers the POST choice (another TLP or the cursor now) and the
        # cursor in IDLE, while starting a TLP also needs the fresh, non-zero cap.
        room_nz = Signal()
        m.d.sync += room_nz.eq(room != 0)
        # go == ~stop_req & room_nz & bus_master, as one register (from the next values), so
        # the start and cursor decisions read one flag instead of three.
        go = Signal()
        m.d.sync += go.eq(~stop_next & (room != 0) & self.bus_master)
        under = Signal()                     # fewer than CURSOR_INTERVAL data TLPs since the cursor
        can_send = Signal()
        m.d.comb += can_send.eq(self.entries.valid & go)

        # next_addr advances in the cycle after the header (from the registered wrap flag,
        # with n unchanged then); the next header is two cycles away at the earliest.
        adv = Signal()
        adv_wrap = Signal()
        m.d.sync += adv.eq(0)
        with m.If(adv):
            m.d.sync += next_addr.eq(Mux(adv_wrap, self.ring_base, next_addr + (n << 6)))

        # The pushed line by state: the cursor line is only pushed in IDLE and POST, data lines
        # in HEAD (first line, with the header) and DATA.
        cursor_slot = Signal()
        head_slot = Signal()
        m.d.comb += [
            cursor_slot.eq(is_(State.IDLE, State.POST)),
            head_slot.eq(is_(State.HEAD)),
            cline.cursor.eq(sent), cline.timestamp.eq(self.timestamp), cline.writes.eq(writes + 1),
            pl.addr.eq(Mux(cursor_slot, self.cursor_addr, next_addr)),
            pl.ndw.eq(Mux(cursor_slot, CURSOR_DWORDS, n << 4)),
            pl.cursor.eq(cursor_slot),
            pl.first.eq(cursor_slot | head_slot),
            pl.last.eq(Mux(cursor_slot, 1, Mux(head_slot, n_one, rem_one))),
            pl.line.eq(Mux(cursor_slot, cline.as_value(), self.entries.payload.as_value())),
        ]

        if True:        # one If per state bit (exclusive), no priority chain
            with m.If(is_(State.OFF)):
                with m.If(ctl_w & ctl[0] & ~ctl[1]):
                    m.d.sync += state.eq(State.CHECK1)
                with m.If(reset_req & ~self.req.valid & ~skid_valid & ~self.downstream_busy):
                    m.d.sync += [reset_req.eq(0), data_tlps.eq(0), host_full_cycles.eq(0),
                                 stall_cycles.eq(0), writes.eq(0)]
                    m.d.comb += self.clear_errors.eq(1)

            with m.If(is_(State.CHECK1)):
                m.d.sync += [
                    v_base_bad.eq(self.ring_base[:12].any()),
                    v_size_bad.eq(size_zero | size_not_pow2 | size_big),
                    v_curs_bad.eq(self.cursor_addr[:6].any()),
                    v_limit_bad.eq(batch_zero | interval_zero),
                    v_diff.eq(sent - self.doorbell),
                    v_db.eq(self.doorbell),
                    v_ring_end.eq(self.ring_base + (size[:ROOM_BITS] << 6)),
                    v_base_lo.eq(self.ring_base - 64),
                    state.eq(State.CHECK2),
                ]
            with m.If(is_(State.CHECK2)):
                m.d.sync += [
                    v_diff_bad.eq(v_diff[ROOM_BITS + 1:].any() | (v_diff[:ROOM_BITS + 1] > size)),
                    v_in_ring.eq((self.cursor_addr > v_base_lo) & (self.cursor_addr < v_ring_end)),
                    slot.eq(sent[:ROOM_BITS] & size_mask),
                    state.eq(State.CHECK3),
                ]
            with m.If(is_(State.CHECK3)):
                m.d.sync += [
                    v_bad.eq(Cat(v_base_bad, v_size_bad, v_curs_bad, v_in_ring & ~v_base_bad,
                                 v_limit_bad, v_diff_bad & ~v_size_bad)),
                    v_fail.eq(v_base_bad | v_size_bad | v_curs_bad | v_in_ring | v_limit_bad | v_diff_bad),
                    v_room.eq(size - v_diff[:ROOM_BITS + 1]),
                    v_next_addr.eq(self.ring_base + (slot << 6)),
                    state.eq(State.CHECK4),
                ]
            with m.If(is_(State.CHECK4)):
                m.d.comb += err.eq(v_bad)
                with m.If(v_fail | stop_req):
                    m.d.sync += [state.eq(State.OFF)]
                with m.Else():
                    m.d.sync += [
                        state.eq(State.IDLE),
                        room.eq(v_room), db_add_v.eq(0),
                        consumed.eq(v_db),
                        next_addr.eq(v_next_addr),
                        writes.eq(0),
                        tlps_since.eq(0),
                        dirty.eq(0),
                        fresh.eq(0), cap_ok.eq(0),
                    ]

            with m.If(is_(State.IDLE)):
                with m.If(stop_req & ~dirty):
                    m.d.sync += state.eq(State.OFF)
                # cap lags a doorbell by two cycles (it can read 0 just after room went
                # from 0 to positive): start only on a non-zero cap.
                with m.Elif(can_send & cap_ok):
                    m.d.sync += [n.eq(_min(fill_e, cap)), n_one.eq((fill_e == 1) | (cap == 1)),
                                     state.eq(State.HEAD)]
                with m.If(self.entries.valid & ~room_nz):
                    m.d.sync += host_full_cycles.eq(host_full_cycles + 1)

            with m.If(is_(State.HEAD)):
                with m.If(out_free):
                    m.d.comb += [take.eq(1), room_sub.eq(1)]
                    wrap = Signal()
                    m.d.comb += wrap.eq(n == wrap_e)
                    m.d.comb += push.eq(1)
                    m.d.sync += [
                        remaining.eq(n - 1), rem_one.eq(n == 2),
                        sent.eq(sent + n), current.eq(0),
                        slot.eq(Mux(wrap, 0, slot + n)),
                        adv.eq(1), adv_wrap.eq(wrap),
                        data_tlps.eq(data_tlps + 1),
                        tlps_since.eq(tlps_since + 1),
                        under.eq((tlps_since + 1) < self.cursor_interval),
                        dirty.eq(1),
                        fresh.eq(0), cap_ok.eq(0),
                        state.eq(Mux(n_one, State.POST, State.DATA)),
                    ]

            with m.If(is_(State.DATA)):
                with m.If(out_free & self.entries.valid):
                    m.d.comb += take.eq(1)
                    m.d.comb += push.eq(1)
                    m.d.sync += [remaining.eq(remaining - 1), rem_one.eq(remaining == 2)]
                    with m.If(rem_one):
                        m.d.sync += state.eq(State.POST)

            with m.If(is_(State.POST)):
                # Another data TLP right away (decided here when the limits are fresh, i.e.
                # after a TLP of 3+ lines, else in IDLE once they are), or the cursor write.
                with m.If(can_send & under):
                    with m.If(cap_ok):
                        m.d.sync += [n.eq(_min(fill_e, cap)), n_one.eq((fill_e == 1) | (cap == 1)),
                                     state.eq(State.HEAD)]
                    with m.Else():
                        m.d.sync += state.eq(State.IDLE)

        # The cursor write, as one flat condition (not a priority chain) to keep the request
        # register's enable shallow: in IDLE when data is uncovered and nothing can follow
        # (or stopping), in POST unless another data TLP follows at once.
        emit = Signal()
        no_next = Signal()
        m.d.comb += [
            no_next.eq(~can_send),
            emit.eq(out_free & bus_master
                    & ((is_(State.IDLE) & dirty & no_next)
                       | (is_(State.POST) & (no_next | ~under)))),
        ]
        with m.If(emit):
            emit_cursor()
            m.d.sync += state.eq(State.IDLE)

        # cursor_written == sent, kept as a flag instead of a 64-bit compare: the two only
        # change together at a cursor write (equal after) and at a data header (sent grows).
        m.d.comb += self.cursor_current.eq(current)
        m.d.comb += [
            self.enabled.eq(running & ~stop_req),
            self.settling.eq(is_(State.CHECK1, State.CHECK2, State.CHECK3, State.CHECK4)
                             | db_pend | db_chk | db_add_v | ctl_w),
            self.busy.eq(~is_(State.OFF) | self.req.valid | skid_valid | self.downstream_busy | reset_req),
            self.host_full.eq(running & self.entries.valid & ~room_nz),
            self.err_set.eq(err),
            self.consumed.eq(consumed),
            self.sent.eq(sent),
            self.cursor_written.eq(cursor_written),
            self.cursor_writes.eq(writes),
            self.data_tlps.eq(data_tlps),
            self.host_full_cycles.eq(host_full_cycles),
            self.req_stall_cycles.eq(stall_cycles),
        ]
        return m
