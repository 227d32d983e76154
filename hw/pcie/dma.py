"""Vendor-neutral DMA writer: BRAM ring entries -> Memory Write requests into a host ring,
followed by a Memory Write of the cursor line.

Output: a stream of 64-byte *lines* (one ring entry, or the cursor line), each with the
request header; ``first`` marks the line that carries a valid header, ``last`` the final
line of a request. The hard-block adapter (``usp.py``) turns this into descriptors and
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
from ringgate.contracts.regmap import Control, Error, MAX_RING_SIZE

__all__ = ["REQ_LAYOUT", "DmaWriter", "MAX_TLP_ENTRIES", "CURSOR_DWORDS"]

MAX_TLP_ENTRIES = 16            # 1024 B, the largest MPS
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


class State(enum.Enum, shape=4):
    OFF = 0
    CHECK1 = 1
    CHECK2 = 2
    CHECK3 = 3
    CHECK4 = 8
    IDLE = 4
    HEAD = 5
    DATA = 6
    POST = 7


def _sat(value, limit_log2: int, width: int):
    """min(value, 2**limit_log2), width bits: one OR over the high bits and a mux."""
    return Mux(value[limit_log2:].any(), 1 << limit_log2, value[:limit_log2])


def _min(a, b):
    return Mux(a < b, a, b)


def _min3(a, b, c):
    """Three comparators side by side, then one 6-input select per bit (3 LUT levels)."""
    return Mux((a <= b) & (a <= c), a, Mux(b <= c, b, c))


class DmaWriter(wiring.Component):
    """Parameters
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

        state = Signal(State, attrs={"fsm_encoding": "one-hot"})   # yosys: recode one-hot
        sent = Signal(64)
        consumed = Signal(64)
        room = Signal(ROOM_BITS + 1)         # free host slots, 0 .. size
        slot = Signal(ROOM_BITS)             # sent mod size
        next_addr = Signal(64)               # ring_base + slot * 64
        n = Signal(range(MAX_TLP_ENTRIES + 1))
        remaining = Signal(range(MAX_TLP_ENTRIES + 1))
        tlps_since = Signal(32)
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

        # -- output register (valid never depends on ready) ----------------------------
        out_free = Signal()
        m.d.comb += out_free.eq(~self.req.valid | self.req.ready)
        with m.If(self.req.ready):
            m.d.sync += self.req.valid.eq(0)
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
        m.d.comb += running.eq(state.as_value().matches(State.IDLE, State.HEAD, State.DATA, State.POST))
        # While off, the DOORBELL register itself is what enable uses; a doorbell written
        # during validation stays pending and is checked once running.
        with m.If(db_pend & ~db_chk & ~db_add_v & ~self.doorbell_w & running):
            m.d.sync += [db_chk.eq(1), db_pend.eq(0), db_cand.eq(db_val),
                         db_delta.eq(db_val - consumed), db_ahead.eq(sent - db_val)]
        with m.If((state == State.OFF) & ~self.doorbell_w):
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
        with m.If(self.control_w):
            with m.If(self.control[1]):                   # RESET
                m.d.sync += [stop_req.eq(1), reset_req.eq(1)]
            with m.Elif(~self.control[0]):
                m.d.sync += stop_req.eq(1)

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
        v_next_addr = Signal(64)

        # -- cursor line -------------------------------------------------------------------
        cline = Signal(CURSOR_LINE.layout())

        def emit_cursor():
            m.d.comb += [cline.cursor.eq(sent), cline.timestamp.eq(self.timestamp),
                         cline.writes.eq(writes + 1)]
            m.d.sync += [
                self.req.valid.eq(1),
                self.req.payload.addr.eq(self.cursor_addr),
                self.req.payload.ndw.eq(CURSOR_DWORDS),
                self.req.payload.cursor.eq(1),
                self.req.payload.first.eq(1),
                self.req.payload.last.eq(1),
                self.req.payload.line.eq(cline.as_value()),
                writes.eq(writes + 1),
                cursor_written.eq(sent),
                tlps_since.eq(0),
                dirty.eq(0),
            ]

        # Registered helpers keep wide compares off the FSM's enable paths. room_nz lags room by
        # a cycle; it only steers the POST choice (another TLP or the cursor now) and the
        # cursor in IDLE, while starting a TLP also needs the fresh, non-zero cap.
        room_nz = Signal()
        m.d.sync += room_nz.eq(room != 0)
        under = Signal()                     # fewer than CURSOR_INTERVAL data TLPs since the cursor
        can_send = Signal()
        m.d.comb += can_send.eq(self.entries.valid & room_nz & self.bus_master)

        with m.Switch(state):
            with m.Case(State.OFF):
                with m.If(self.control_w & self.control[0] & ~self.control[1]):
                    m.d.sync += state.eq(State.CHECK1)
                with m.If(reset_req & ~self.req.valid & ~self.downstream_busy):
                    m.d.sync += [reset_req.eq(0), data_tlps.eq(0), host_full_cycles.eq(0),
                                 stall_cycles.eq(0), writes.eq(0)]
                    m.d.comb += self.clear_errors.eq(1)
                m.d.sync += stop_req.eq(0)

            with m.Case(State.CHECK1):
                m.d.sync += [
                    v_base_bad.eq(self.ring_base[:12].any()),
                    v_size_bad.eq((size == 0) | (size & size_mask).any() | (size > MAX_RING_SIZE)),
                    v_curs_bad.eq(self.cursor_addr[:6].any()),
                    v_limit_bad.eq((self.batch_limit == 0) | (self.cursor_interval == 0)),
                    v_diff.eq(sent - self.doorbell),
                    v_db.eq(self.doorbell),
                    v_ring_end.eq(self.ring_base + (size[:ROOM_BITS] << 6)),
                    v_base_lo.eq(self.ring_base - 64),
                    state.eq(State.CHECK2),
                ]
            with m.Case(State.CHECK2):
                m.d.sync += [
                    v_diff_bad.eq(v_diff[ROOM_BITS + 1:].any() | (v_diff[:ROOM_BITS + 1] > size)),
                    v_in_ring.eq((self.cursor_addr > v_base_lo) & (self.cursor_addr < v_ring_end)),
                    slot.eq(sent[:ROOM_BITS] & size_mask),
                    state.eq(State.CHECK3),
                ]
            with m.Case(State.CHECK3):
                m.d.sync += [
                    v_bad.eq(Cat(v_base_bad, v_size_bad, v_curs_bad, v_in_ring & ~v_base_bad,
                                 v_limit_bad, v_diff_bad & ~v_size_bad)),
                    v_next_addr.eq(self.ring_base + (slot << 6)),
                    state.eq(State.CHECK4),
                ]
            with m.Case(State.CHECK4):
                m.d.comb += err.eq(v_bad)
                with m.If(v_bad.any() | stop_req):
                    m.d.sync += [state.eq(State.OFF)]
                with m.Else():
                    m.d.sync += [
                        state.eq(State.IDLE),
                        room.eq(size - v_diff[:ROOM_BITS + 1]), db_add_v.eq(0),
                        consumed.eq(v_db),
                        next_addr.eq(v_next_addr),
                        writes.eq(0),
                        tlps_since.eq(0),
                        dirty.eq(0),
                        fresh.eq(0), cap_ok.eq(0),
                    ]

            with m.Case(State.IDLE):
                with m.If(stop_req & ~dirty):
                    m.d.sync += state.eq(State.OFF)
                # cap lags a doorbell by two cycles (it can read 0 just after room went
                # from 0 to positive): start only on a non-zero cap.
                with m.Elif(~stop_req & can_send & cap_ok):
                    m.d.sync += [n.eq(_min(fill_e, cap)), state.eq(State.HEAD)]
                with m.If(self.entries.valid & ~room_nz):
                    m.d.sync += host_full_cycles.eq(host_full_cycles + 1)

            with m.Case(State.HEAD):
                with m.If(out_free):
                    m.d.comb += [take.eq(1), room_sub.eq(1)]
                    wrap = Signal()
                    m.d.comb += wrap.eq(n == wrap_e)
                    m.d.sync += [
                        self.req.valid.eq(1),
                        self.req.payload.addr.eq(next_addr),
                        self.req.payload.ndw.eq(n << 4),
                        self.req.payload.cursor.eq(0),
                        self.req.payload.first.eq(1),
                        self.req.payload.last.eq(n == 1),
                        self.req.payload.line.eq(self.entries.payload.as_value()),
                        remaining.eq(n - 1),
                        sent.eq(sent + n),
                        slot.eq(Mux(wrap, 0, slot + n)),
                        next_addr.eq(Mux(wrap, self.ring_base, next_addr + (n << 6))),
                        data_tlps.eq(data_tlps + 1),
                        tlps_since.eq(tlps_since + 1),
                        under.eq((tlps_since + 1) < self.cursor_interval),
                        dirty.eq(1),
                        fresh.eq(0), cap_ok.eq(0),
                        state.eq(Mux(n == 1, State.POST, State.DATA)),
                    ]

            with m.Case(State.DATA):
                with m.If(out_free & self.entries.valid):
                    m.d.comb += take.eq(1)
                    m.d.sync += [
                        self.req.valid.eq(1),
                        self.req.payload.first.eq(0),
                        self.req.payload.last.eq(remaining == 1),
                        self.req.payload.line.eq(self.entries.payload.as_value()),
                        remaining.eq(remaining - 1),
                    ]
                    with m.If(remaining == 1):
                        m.d.sync += state.eq(State.POST)

            with m.Case(State.POST):
                # Another data TLP right away (decided here when the limits are fresh, i.e.
                # after a TLP of 3+ lines, else in IDLE once they are), or the cursor write.
                with m.If(~stop_req & can_send & under):
                    with m.If(cap_ok):
                        m.d.sync += [n.eq(_min(fill_e, cap)), state.eq(State.HEAD)]
                    with m.Else():
                        m.d.sync += state.eq(State.IDLE)

        # The cursor write, as one flat condition (not a priority chain) to keep the request
        # register's enable shallow: in IDLE when data is uncovered and nothing can follow
        # (or stopping), in POST unless another data TLP follows at once.
        emit = Signal()
        no_next = Signal()
        m.d.comb += [
            no_next.eq(stop_req | ~can_send),
            emit.eq(out_free & self.bus_master
                    & (((state == State.IDLE) & dirty & no_next)
                       | ((state == State.POST) & (no_next | ~under)))),
        ]
        with m.If(emit):
            emit_cursor()
            m.d.sync += state.eq(State.IDLE)

        m.d.comb += [
            self.enabled.eq(running & ~stop_req),
            self.settling.eq(state.as_value().matches(State.CHECK1, State.CHECK2, State.CHECK3, State.CHECK4)
                             | db_pend | db_chk | db_add_v),
            self.busy.eq((state != State.OFF) | self.req.valid | self.downstream_busy | reset_req),
            self.host_full.eq(running & self.entries.valid & (room == 0)),
            self.cursor_current.eq(cursor_written == sent),
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
