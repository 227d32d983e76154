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
compares registered). Refusals set sticky error bits (``ERROR`` fields, through the register
interface) and leave the writer off: nothing is written to host memory.

The writer is a composition of named parts (``hw/dma/``): ``ConfigCheck`` (validation),
``HostCredit`` (doorbell check and host room), ``SplitLimits`` (the per-TLP limits),
``RequestSkid`` (output and skid registers) and ``CursorEmitter`` (the cursor line), sequenced
by the hand one-hot state machine here. Its BAR0 registers reach it as one interface, built
from the register map's ``dma`` group (``hw/pcie/regs.py``).
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from ringgate.contracts.entry import ENTRY
from ringgate.contracts.pcie import MAX_TLP_ENTRIES
from ringgate.contracts.regmap import DMA

from .dma import ROOM_BITS
from .dma.config import ConfigCheck
from .dma.credit import HostCredit
from .dma.cursor import CursorEmitter
from .dma.limits import SplitLimits
from .dma.skid import RequestSkid
from .pcie.regs import register_signature

__all__ = ["REQ_LAYOUT", "DmaWriter", "MAX_TLP_ENTRIES", "CURSOR_DWORDS"]

CURSOR_DWORDS = 6               # cursor, timestamp, writes: 24 bytes of the 64-byte line

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


class DmaWriter(wiring.Component):
    """Copies ring entries into the host ring as Memory Write requests, then writes the cursor line.

    Parameters
    ----------
    ring_depth : int
        Depth of the BRAM ring feeding ``entries`` (sets the width of ``fill``).

    Members
    -------
    entries : In(stream.Signature(ENTRY.layout()))
        Published entries, in sequence order, from the BRAM ring.
    fill : In(range(ring_depth + 1))
        Entries held in the ring (entries ready now).
    req : Out(stream.Signature(REQ_LAYOUT))
        64-byte lines with the request header on the first (to the hard-block adapter).
    regs : In(register_signature(DMA))
        The ``dma`` group of BAR0: configuration (locked while busy), CONTROL and DOORBELL
        commands, STATUS and ERROR by field, counters; ``lock`` and ``hold`` back to BAR0.
    mps : In(3)
        ``cfg_max_payload`` code (0 = 128 B .. 3 = 1024 B).
    bus_master : In(1)
        Bus mastering enabled (the function's command register).
    timestamp : In(64)
        Free-running cycle counter (for the cursor line).
    downstream_busy : In(1)
        The adapter still holds beats or TLPs not returned by the block.
    downstream_lost : In(1)
        The adapter gave up TLPs whose sequence numbers did not return (a pulse).
    stop : In(1)
        Stop as ``CONTROL = 0`` does, without waiting for the host (a function-level reset;
        bus mastering is off then too).
    take : Out(1)
        An entry leaves the ring this cycle (observability for tests and latency reports).
    """

    def __init__(self, ring_depth: int):
        self._ring_depth = ring_depth
        super().__init__({
            "entries": In(stream.Signature(ENTRY.layout())),
            "fill": In(range(ring_depth + 1)),
            "req": Out(stream.Signature(REQ_LAYOUT)),
            "regs": In(register_signature(DMA)),
            "mps": In(3),
            "bus_master": In(1),
            "timestamp": In(64),
            "downstream_busy": In(1),
            "downstream_lost": In(1),
            "stop": In(1),
            "take": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        w = _Signals(m, self._ring_depth)
        wiring.connect(m, w.skid.o, wiring.flipped(self.req))
        self._commands(m, w)
        self._wire_parts(m, w)
        self._sequence(m, w)
        self._report(m, w)
        return m

    def _commands(self, m, w):
        """CONTROL, the bus-master flag and the ``go`` decision flag, registered."""
        regs, is_ = self.regs, w.is_
        # Commands, registered: BAR0's CMD strobe is combinational (decode of the executing
        # request); ``hold`` covers the extra cycle so BAR0 takes no request before the
        # command's effect is visible.
        m.d.sync += [w.ctl_en.eq(regs.control.enable), w.ctl_rst.eq(regs.control.reset),
                     w.ctl_w.eq(regs.control_w)]
        # stop_req's next value is computed here (the ``go`` flag below is registered from it).
        stop_next = Signal()
        m.d.comb += stop_next.eq(~is_(State.OFF) & (w.stop_req | self.stop | (w.ctl_w & (w.ctl_rst | ~w.ctl_en))))
        m.d.sync += w.stop_req.eq(stop_next)
        with m.If(w.ctl_w & w.ctl_rst):
            m.d.sync += w.reset_req.eq(1)
        # Bus master enable, registered: it comes from the IP's configuration space and
        # would otherwise start the FSM's deepest path; a one-cycle lag is harmless.
        m.d.sync += w.bus_master.eq(self.bus_master)
        # Bus mastering cleared with a TLP issued and not returned (or being formed): the block
        # may have dropped it, so nothing sent from here on is announced. ``fault`` stops the
        # writer without a cursor write (the cursor line never covers an entry not written)
        # and ERROR.TLP_LOST tells the host; the next accepted enable clears it (in OFF it
        # steers nothing, so CONTROL.RESET need not).
        # The loss is registered (``bm_loss``: bus mastering off in cycle t-1, something in flight
        # in cycle t, seen at t+1) so the adapter's busy flags do not reach the writer's
        # decisions through it; the cycle it lags is covered by ``cursor_ok`` and ``go``, which
        # also need bus mastering on in the previous cycle (``w.bus_master``).
        fault_next = Signal()
        m.d.sync += w.bm_loss.eq(~w.bus_master
                                 & (self.downstream_busy | w.skid.busy | is_(State.HEAD, State.DATA)))
        m.d.comb += [
            w.fault_set.eq(self.downstream_lost | w.bm_loss),
            fault_next.eq((w.fault | w.fault_set) & ~w.start),
        ]
        bm_held = self.bus_master & w.bus_master
        m.d.sync += [w.fault.eq(fault_next), w.cursor_ok.eq(bm_held & ~fault_next)]
        # Registered helpers keep wide compares off the FSM's enable paths. room_nz lags room by
        # a cycle; it only steers the POST choice (another TLP or the cursor now), the cursor in
        # IDLE and HOST_FULL, while starting a TLP also needs the fresh, non-zero cap. At an
        # accepted enable it takes the room being loaded, so the first running cycle does not
        # read the room of before the enable (a spurious HOST_FULL cycle).
        m.d.sync += w.room_nz.eq(Mux(w.start, w.check.room != 0, w.credit.room != 0))
        # go == ~stop_req & room_nz & bus mastering & ~fault, as one register (from the next values), so
        # the start and cursor decisions read one flag instead of three.
        m.d.sync += w.go.eq(~stop_next & (w.credit.room != 0) & bm_held & ~fault_next)
        m.d.comb += [
            w.running.eq(is_(State.IDLE, State.HEAD, State.DATA, State.POST)),
            w.can_send.eq(self.entries.valid & w.go),
            self.entries.ready.eq(w.take), self.take.eq(w.take & self.entries.valid),
        ]

    def _wire_parts(self, m, w):
        """The parts' inputs: configuration registers and the sequencer's events."""
        regs, is_, check, credit, limits, cur = self.regs, w.is_, w.check, w.credit, w.limits, w.cur
        m.d.comb += [
            check.ring_base.eq(regs.ring_base), check.ring_size.eq(regs.ring_size),
            check.cursor_addr.eq(regs.cursor_addr), check.batch_limit.eq(regs.batch_limit),
            check.cursor_interval.eq(regs.cursor_interval), check.sent.eq(w.sent),
            check.doorbell.eq(regs.doorbell), check.slot.eq(w.slot),
            check.stage.eq(Cat(is_(State.CHECK1), is_(State.CHECK2), is_(State.CHECK3))),
            credit.doorbell.eq(regs.doorbell), credit.doorbell_w.eq(regs.doorbell_w),
            credit.sent.eq(w.sent), credit.running.eq(w.running), credit.off.eq(is_(State.OFF)),
            credit.sub.eq(w.header), credit.n.eq(w.n), credit.load.eq(w.start),
            credit.load_consumed.eq(check.consumed), credit.load_room.eq(check.room),
            limits.mps.eq(self.mps), limits.batch_limit.eq(regs.batch_limit),
            limits.ring_size.eq(regs.ring_size), limits.slot.eq(w.slot), limits.room.eq(credit.room),
            limits.fill.eq(self.fill), limits.take.eq(self.take), limits.restart.eq(w.start | w.header),
            cur.sent.eq(w.sent), cur.timestamp.eq(self.timestamp), cur.cursor_interval.eq(regs.cursor_interval),
            cur.header.eq(w.header), cur.emit.eq(w.emit), cur.start.eq(w.start), cur.clear.eq(w.clear),
        ]
        # The pushed line by state: the cursor line is only pushed in IDLE and POST, data lines
        # in HEAD (first line, with the header) and DATA. It is selected by the state alone.
        cursor_slot, head_slot = Signal(), Signal()
        pl = w.skid.data
        m.d.comb += [
            cursor_slot.eq(is_(State.IDLE, State.POST)),
            head_slot.eq(is_(State.HEAD)),
            pl.addr.eq(Mux(cursor_slot, regs.cursor_addr, w.next_addr)),
            pl.ndw.eq(Mux(cursor_slot, CURSOR_DWORDS, w.n << 4)),
            pl.cursor.eq(cursor_slot),
            pl.first.eq(cursor_slot | head_slot),
            pl.last.eq(Mux(cursor_slot, 1, Mux(head_slot, w.n_one, w.rem_one))),
            pl.line.eq(Mux(cursor_slot, cur.line.as_value(), self.entries.payload.as_value())),
        ]

    def _sequence(self, m, w):
        """The hand one-hot state machine: one If per state bit (exclusive), no priority chain."""
        is_, state, check, limits, skid, cur = w.is_, w.state, w.check, w.limits, w.skid, w.cur
        # next_addr advances in the cycle after the header (from the registered wrap flag,
        # with n unchanged then); the next header is two cycles away at the earliest.
        adv, adv_wrap = Signal(), Signal()
        m.d.sync += adv.eq(0)
        with m.If(adv):
            m.d.sync += w.next_addr.eq(Mux(adv_wrap, self.regs.ring_base, w.next_addr + (w.n << 6)))

        with m.If(is_(State.OFF)):
            with m.If(w.ctl_w & w.ctl_en & ~w.ctl_rst):
                m.d.sync += state.eq(State.CHECK1)
            with m.If(w.reset_req & ~skid.busy & ~self.downstream_busy):
                m.d.sync += [w.reset_req.eq(0), w.data_tlps.eq(0), w.host_full_cycles.eq(0)]
                m.d.comb += w.clear.eq(1)
        with m.If(is_(State.CHECK1)):
            m.d.sync += state.eq(State.CHECK2)
        with m.If(is_(State.CHECK2)):
            m.d.sync += [w.slot.eq(check.start_slot), state.eq(State.CHECK3)]
        with m.If(is_(State.CHECK3)):
            m.d.sync += state.eq(State.CHECK4)
        with m.If(is_(State.CHECK4)):
            with m.If(check.fail | w.stop_req):
                m.d.sync += state.eq(State.OFF)
            with m.Else():
                m.d.comb += w.start.eq(1)
                m.d.sync += [state.eq(State.IDLE), w.next_addr.eq(check.next_addr)]
        with m.If(is_(State.IDLE)):
            # Stop once the cursor is current, or at once when it cannot be written (bus
            # mastering off: the stop must not wait for the host; a fault: it must not be).
            with m.If((w.stop_req & (~cur.dirty | ~w.bus_master)) | w.fault):
                m.d.sync += state.eq(State.OFF)
            # cap lags a doorbell by two cycles (it can read 0 just after room went
            # from 0 to positive): start only on a non-zero cap.
            with m.Elif(w.can_send & limits.cap_ok):
                m.d.sync += [w.n.eq(limits.n), w.n_one.eq(limits.n_one), state.eq(State.HEAD)]
            with m.If(self.entries.valid & ~w.room_nz):
                m.d.sync += w.host_full_cycles.eq(w.host_full_cycles + 1)
        # The wrap compare, registered outside HEAD with no other condition (so it sits on the
        # FF's enable, not in the data path): whenever n is latched it is latched from the same
        # limits, which are fresh then; the slot does not move before the header.
        with m.If(~is_(State.HEAD)):
            m.d.sync += w.n_wrap.eq(limits.n == limits.wrap)
        with m.If(is_(State.HEAD) & skid.free):
            wrap = w.n_wrap
            m.d.comb += [w.take.eq(1), w.header.eq(1), skid.push.eq(1)]
            m.d.sync += [
                w.remaining.eq(w.n - 1), w.rem_one.eq(w.n == 2),
                w.sent.eq(w.sent + w.n),
                w.slot.eq(Mux(wrap, 0, w.slot + w.n)),
                adv.eq(1), adv_wrap.eq(wrap),
                w.data_tlps.eq(w.data_tlps + 1),
                state.eq(Mux(w.n_one, State.POST, State.DATA)),
            ]
        with m.If(is_(State.DATA) & skid.free & self.entries.valid):
            m.d.comb += [w.take.eq(1), skid.push.eq(1)]
            m.d.sync += [w.remaining.eq(w.remaining - 1), w.rem_one.eq(w.remaining == 2)]
            with m.If(w.rem_one):
                m.d.sync += state.eq(State.POST)
        # Another data TLP right away (decided here when the limits are fresh, i.e. after a
        # TLP of 3+ lines, else in IDLE once they are), or the cursor write.
        with m.If(is_(State.POST) & w.fault):
            m.d.sync += state.eq(State.IDLE)
        with m.If(is_(State.POST) & w.can_send & cur.under):
            with m.If(limits.cap_ok):
                m.d.sync += [w.n.eq(limits.n), w.n_one.eq(limits.n_one), state.eq(State.HEAD)]
            with m.Else():
                m.d.sync += state.eq(State.IDLE)

        # The cursor write, as one flat condition (not a priority chain) to keep the request
        # register's enable shallow: in IDLE when data is uncovered and nothing can follow
        # (or stopping), in POST unless another data TLP follows at once.
        m.d.comb += w.emit.eq(skid.free & w.cursor_ok
                              & ((is_(State.IDLE) & cur.dirty & ~w.can_send)
                                 | (is_(State.POST) & (~w.can_send | ~cur.under))))
        with m.If(w.emit):
            m.d.comb += skid.push.eq(1)
            m.d.sync += state.eq(State.IDLE)

    def _report(self, m, w):
        """The register interface's inputs: state, errors, counters, and BAR0's lock and hold."""
        regs, is_ = self.regs, w.is_
        enabled, busy = Signal(), Signal()
        m.d.comb += [
            enabled.eq(w.running & ~w.stop_req),
            busy.eq(~is_(State.OFF) | w.skid.busy | self.downstream_busy | w.reset_req),
            # Combinational on purpose: a registered hold would let BAR0 take a read in the
            # cycle a doorbell's check or an enable's validation starts, overtaking its outcome.
            regs.hold.eq(is_(State.CHECK1, State.CHECK2, State.CHECK3, State.CHECK4) | w.credit.pending | w.ctl_w),
            regs.error_clear.eq(w.clear),
            regs.host_consumed.eq(w.credit.consumed), regs.sent.eq(w.sent),
            regs.cursor_written.eq(w.cur.written), regs.cursor_writes.eq(w.cur.writes),
            regs.data_tlps.eq(w.data_tlps), regs.host_full_cycles.eq(w.host_full_cycles),
        ]
        with m.If(is_(State.CHECK4)):
            m.d.comb += regs.error_set.eq(w.check.errors)
        with m.If(w.credit.range_error):
            m.d.comb += regs.error_set.doorbell_range.eq(1)
        with m.If(w.fault_set):
            m.d.comb += regs.error_set.tlp_lost.eq(1)
        # Registered for BAR0 (config writes come at least two cycles after any command, and
        # BAR0 holds requests while an enable is being validated, so a one-cycle lag is safe):
        # the lock, the CONTROL.ENABLE read-back, and STATUS, whose bits are ORs of state
        # that must not lengthen BAR0's read multiplexer path.
        st = regs.status
        m.d.sync += [
            regs.lock.eq(busy), regs.control_r.enable.eq(enabled),
            st.enabled.eq(enabled), st.busy.eq(busy),
            st.host_full.eq(w.running & self.entries.valid & ~w.room_nz),
            st.bus_master.eq(self.bus_master), st.cursor_current.eq(w.cur.current), st.mps.eq(self.mps),
        ]


class _Signals:
    """The writer's parts (added as submodules) and the registers and events its sequencer
    shares with them, for the methods of :meth:`DmaWriter.elaborate`."""

    def __init__(self, m, ring_depth):
        m.submodules.check = self.check = ConfigCheck()
        m.submodules.credit = self.credit = HostCredit()
        m.submodules.limits = self.limits = SplitLimits(ring_depth)
        m.submodules.skid = self.skid = RequestSkid(REQ_LAYOUT)
        m.submodules.cursor = self.cur = CursorEmitter()
        self.state = Signal(State, init=State.OFF, attrs={"fsm_encoding": "none"})   # hand one-hot
        self.sent = Signal(64)
        self.slot = Signal(ROOM_BITS)             # sent mod size
        self.next_addr = Signal(64)               # ring_base + slot * 64
        self.n = Signal(range(MAX_TLP_ENTRIES + 1))
        self.n_one = Signal()                     # n == 1 and remaining == 1, registered with them
        self.n_wrap = Signal()                    # the TLP ends at the host ring's wrap point
        self.rem_one = Signal()
        self.remaining = Signal(range(MAX_TLP_ENTRIES + 1))
        self.data_tlps = Signal(64)
        self.host_full_cycles = Signal(64)
        self.ctl_en, self.ctl_rst, self.ctl_w = Signal(), Signal(), Signal()
        self.stop_req, self.reset_req = Signal(), Signal()
        self.bus_master, self.room_nz, self.go = Signal(), Signal(), Signal()
        self.fault, self.fault_set = Signal(), Signal()   # TLPs possibly dropped: stop, announce nothing
        self.bm_loss = Signal()                   # bus mastering lost with a TLP in flight (registered)
        self.cursor_ok = Signal()                 # bus mastering on for two cycles and no fault (registered)
        self.running, self.can_send = Signal(), Signal()
        self.take = Signal()
        self.header = Signal()                    # a data TLP's first line goes out
        self.start = Signal()                     # CHECK4 accepted the configuration
        self.clear = Signal()                     # CONTROL.RESET takes effect
        self.emit = Signal()                      # the cursor line goes out

    def is_(self, *states):
        """In one of ``states``: an OR of their one-hot bits (never a full compare)."""
        return Cat(*[self.state.as_value()[st.value.bit_length() - 1] for st in states]).any()
