"""Disruptor-style ring of entries in BRAM, with the sequence claimed in hardware.

Producer (``i``): a stream of entries. On each handshake the ring claims the next
64-bit sequence (no CAS: one register increments), stamps it into the entry's
sequence field, writes the slot ``seq mod depth`` of the BRAM and publishes the
cursor (``cursor`` = sequences claimed and written so far).

Consumer (``o``): published entries in sequence order, one per cycle when
available and ready. The BRAM's one-cycle read is hidden by addressing the read
port with the next slot while the current one is being taken (lookahead), and by
a write-transparent read port, so an entry written in cycle t is valid on ``o`` in
cycle t + 1 (idle latency: 1 cycle; 2 cycles with ``bypass=False``, which is ~520 LUTs
smaller for 64-byte entries).

Gating: the consumer's sequence gates the producer. A slot is free again only
when the consumer has taken its entry, the ring never holds more than ``depth``
entries, and ``i.ready`` is a register that drops when the ring is full and rises
in the cycle after the consumer frees a slot.

No 64-bit comparison decides anything: full/empty come from small counters
(``fill``, ``unread``) whose range the proven invariant ``fill <= depth`` bounds;
the 64-bit sequence registers only count.
"""
from __future__ import annotations

from amaranth.hdl import Module, Shape, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RingBuffer"]

MIN_DEPTH, MAX_DEPTH = 16, 65536


class RingBuffer(wiring.Component):
    """Disruptor ring in block RAM: sequences claimed in hardware, entries read in order.

    Parameters
    ----------
    depth : int
        Number of slots; a power of two from 16 to 65536.
    layout : data.StructLayout
        Entry layout; it must have a 64-bit unsigned field named ``seq_field``.
    seq_field : str
        Name of the field the ring stamps with the claimed sequence.
    bypass : bool
        True (default): the read port is write-transparent, so an entry written in cycle t
        is on ``o`` in cycle t + 1. False: 2 cycles, and no write-through path, which saves
        a register and a 2:1 mux per payload bit (for 64-byte entries, ~520 LUTs and
        ~510 flip-flops: see docs/ring.md).

    Status outputs (for CSRs): ``cursor`` (published), ``consumed`` (taken by the
    consumer), ``fill`` (entries held), ``full_cycles`` (cycles with the producer
    offering an entry and refused because the ring is full).
    """

    def __init__(self, depth: int, layout: data.StructLayout, *, seq_field: str = "seq",
                 bypass: bool = True):
        if not isinstance(depth, int) or depth & (depth - 1) or not MIN_DEPTH <= depth <= MAX_DEPTH:
            raise ValueError(f"ring depth must be a power of two from {MIN_DEPTH} to {MAX_DEPTH}, "
                             f"not {depth!r}")
        if not isinstance(layout, data.StructLayout):
            raise TypeError(f"ring layout must be a data.StructLayout, not {layout!r}")
        if seq_field not in layout.members:
            raise ValueError(f"ring layout has no sequence field {seq_field!r}")
        if Shape.cast(layout.members[seq_field]) != unsigned(64):
            raise ValueError(f"sequence field {seq_field!r} must be unsigned(64), "
                             f"not {layout.members[seq_field]!r}")
        self._depth = depth
        self._layout = layout
        self._seq_field = seq_field
        self._bypass = bool(bypass)
        super().__init__({
            "i": In(stream.Signature(layout)),
            "o": Out(stream.Signature(layout)),
            "cursor": Out(64),
            "consumed": Out(64),
            "fill": Out(range(depth + 1)),
            "full_cycles": Out(64),
        })

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def layout(self) -> data.StructLayout:
        return self._layout

    @property
    def latency(self) -> int:
        """Idle latency in cycles from producer handshake to consumer ``valid``."""
        return 1 if self._bypass else 2

    @property
    def addr_bits(self) -> int:
        return self._depth.bit_length() - 1

    def elaborate(self, platform):
        m = Module()
        depth, abits = self._depth, self.addr_bits

        m.submodules.mem = mem = memory.Memory(shape=self._layout, depth=depth, init=[])
        wr = mem.write_port()
        rd = mem.read_port(transparent_for=(wr,) if self._bypass else ())

        # Sequence state: wr_seq is the cursor; rd_ptr is the slot of the next entry to load
        # into the output register; unread counts written entries not yet loaded.
        wr_seq = Signal(64)
        consumed = Signal(64)
        rd_ptr = Signal(abits)
        fill = Signal(range(depth + 1))
        unread = Signal(range(depth + 1))
        full = Signal()
        full_cycles = Signal(64)

        push = Signal()
        pop = Signal()
        advance = Signal()
        load = Signal()

        m.d.comb += [
            self.i.ready.eq(~full),
            push.eq(self.i.valid & ~full),
            pop.eq(self.o.valid & self.o.ready),
            # The output register is free, or being emptied in this cycle.
            advance.eq(~self.o.valid | self.o.ready),
            # With the bypass, an entry written in this very cycle is readable already.
            load.eq(advance & ((unread != 0) | (push if self._bypass else 0))),
        ]

        # Producer: stamp and write.
        entry = Signal(self._layout)
        m.d.comb += [
            entry.eq(self.i.payload),
            getattr(entry, self._seq_field).eq(wr_seq),
            wr.addr.eq(wr_seq[:abits]),
            wr.data.eq(entry),
            wr.en.eq(push),
        ]
        with m.If(push):
            m.d.sync += wr_seq.eq(wr_seq + 1)

        # Consumer: lookahead read, output held while stalled (en = 0 keeps rd.data).
        m.d.comb += [
            rd.addr.eq(rd_ptr),
            rd.en.eq(load),
            self.o.payload.eq(rd.data),
        ]
        with m.If(load):
            m.d.sync += [rd_ptr.eq(rd_ptr + 1), self.o.valid.eq(1)]
        with m.Elif(advance):
            m.d.sync += self.o.valid.eq(0)
        with m.If(pop):
            m.d.sync += consumed.eq(consumed + 1)

        # Small counters: all decisions are made on these.
        fill_next = Signal.like(fill)
        m.d.comb += fill_next.eq(fill + push - pop)
        m.d.sync += [
            fill.eq(fill_next),
            unread.eq(unread + push - load),
            full.eq(fill_next == depth),
        ]
        with m.If(self.i.valid & full):
            m.d.sync += full_cycles.eq(full_cycles + 1)

        m.d.comb += [
            self.cursor.eq(wr_seq),
            self.consumed.eq(consumed),
            self.fill.eq(fill),
            self.full_cycles.eq(full_cycles),
        ]

        if platform == "formal":
            self._formal(m, mem, wr_seq, consumed, rd_ptr, fill, unread, full, push, pop, load)
        return m

    def _formal(self, m, mem, wr_seq, consumed, rd_ptr, fill, unread, full, push, pop, load):
        """Properties proven by k-induction (tests/test_ringbuf_formal.py).

        Data integrity uses an arbitrary tracked sequence number ``s`` (a free constant):
        whatever ``s`` the solver picks, the entry pushed with that sequence must sit
        unchanged in its slot until taken and leave with exactly that payload, in the
        position ``consumed == s``. As ``s`` is arbitrary this covers every entry: in
        order, no gap, no repeat, no overwrite before the consumer took it.
        """
        from amaranth.asserts import AnyConst
        from amaranth.hdl import Assert, Assume

        depth, abits = self._depth, self.addr_bits
        seq = self._seq_field

        # 2**64 entries take 2,300 years at 250 MHz: the sequence never wraps.
        m.d.comb += Assume(~wr_seq.all())

        m.d.comb += [
            Assert(fill <= depth),
            Assert(unread <= fill),
            Assert((wr_seq - consumed) == fill),
            Assert(fill == unread + self.o.valid),
            Assert(rd_ptr == (consumed + self.o.valid)[:abits]),
            Assert(full == (fill == depth)),
        ]
        with m.If(self.o.valid):
            m.d.comb += Assert(fill != 0)                   # no output when empty
        with m.If(push):
            m.d.comb += Assert(fill < depth)                # never overwrite an untaken slot

        # The output register mirrors its slot, which stays intact until consumed.
        head = mem.read_port(domain="comb")
        m.d.comb += head.addr.eq(consumed[:abits])
        with m.If(self.o.valid):
            m.d.comb += Assert(self.o.payload.as_value() == head.data.as_value())

        s = Signal(64)
        m.d.comb += s.eq(AnyConst(64))
        tracked = Signal(self._layout)
        have = Signal()
        with m.If(push & (wr_seq == s)):
            m.d.sync += [tracked.eq(self.i.payload), getattr(tracked, seq).eq(s), have.eq(1)]
        with m.If(~have):
            m.d.comb += Assert(wr_seq <= s)
        with m.Else():
            m.d.comb += Assert(s < wr_seq)

        peek = mem.read_port(domain="comb")
        m.d.comb += peek.addr.eq(s[:abits])
        with m.If(have & (s >= consumed)):
            m.d.comb += Assert(peek.data.as_value() == tracked.as_value())
        with m.If(self.o.valid & (consumed == s)):
            m.d.comb += [Assert(have),
                         Assert(self.o.payload.as_value() == tracked.as_value())]
