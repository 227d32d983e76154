"""Disruptor-style ring of entries in BRAM, with the sequence claimed in hardware.

Two producer interfaces (``producer=``):

``"stream"`` (``i``): a stream of entries. On each handshake the ring claims the next 64-bit
sequence (no CAS: one register increments), stamps it into the entry's sequence field, writes
the slot ``seq mod depth`` of the BRAM and publishes the cursor (``cursor`` = sequences claimed
and written so far).

``"claim"`` (``claim``, :class:`ClaimSignature`): the Disruptor's claim / publish split, for a
producer that writes a batch over several cycles and decides at the end whether it stands (a
datagram whose frame check comes last). The producer asks for ``count`` slots; a cycle later the
ring grants them (all of them, never part) or refuses (no room). It then writes the claimed
entries lane by lane (``index`` within the claim, ``en`` a lane mask; the ring stamps the
sequence), and either publishes them (the cursor advances by ``count``) or aborts (nothing
moves: the next claim reuses the same slots, and what was written is never visible). The
producer may run in its own clock domain (``write_domain``): the BRAM is dual-clock, and only
two small Gray-coded counters cross (published -> consumer, consumed -> producer), each
stepping by one per cycle of its source, behind two-flip-flop synchronizers.

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

from amaranth.hdl import Module, Mux, Shape, Signal, unsigned
from amaranth.lib import cdc, data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RingBuffer", "ClaimSignature"]

MIN_DEPTH, MAX_DEPTH = 16, 65536


def _gray(v):
    return v ^ (v >> 1)


class ClaimSignature(wiring.Signature):
    """Claim / publish / abort producer interface of a :class:`RingBuffer` (the producer's view).

    Rules: one claim open at a time (``req`` while a claim is open is ignored); every lane of every
    claimed entry is written before ``publish`` (unwritten lanes would show what the slot held
    before); ``publish`` or ``abort`` once per granted claim.

    Parameters
    ----------
    layout : data.StructLayout
        Entry layout.
    max_claim : int
        Most entries per claim.
    lanes : int
        Write lanes per entry (``layout.size`` divisible by it).

    Members
    -------
    req : Out(1)
        Claim ``count`` slots.
    count : Out(range(max_claim + 1))
        Slots to claim, 1..max_claim (0 is refused).
    grant, refuse : In(1)
        One cycle after ``req``: the slots are claimed, or there is not room for all of them.
    index : Out(range(max_claim))
        Entry of the open claim that ``data`` / ``en`` write (0 = first).
    data : Out(layout)
        Entry data; the ring writes the entry's sequence into its sequence field.
    en : Out(lanes)
        Lanes of ``data`` to write (lane i = bits [i * size / lanes, (i + 1) * size / lanes)).
    publish, abort : Out(1)
        Make the open claim's entries visible (the cursor advances by ``count``), or drop them.
    """

    def __init__(self, layout: data.StructLayout, max_claim: int, lanes: int):
        self.layout, self.max_claim, self.lanes = layout, max_claim, lanes
        super().__init__({
            "req": Out(1), "count": Out(range(max_claim + 1)), "grant": In(1), "refuse": In(1),
            "index": Out(range(max(2, max_claim))), "data": Out(layout), "en": Out(lanes),
            "publish": Out(1), "abort": Out(1),
        })


def _follow(m, domain, gray_in, bits, *, sync):
    """A counter in ``domain`` that steps by one towards the Gray-coded counter ``gray_in`` of the
    other side (seen through a two-flip-flop synchronizer when ``sync``). Returns (step, count,
    gray(count), gray(count + 1))."""
    seen = Signal(bits)
    if sync:
        m.submodules += cdc.FFSynchronizer(gray_in, seen, o_domain=domain)
    else:
        m.d.comb += seen.eq(gray_in)
    count, mine, nxt = Signal(bits), Signal(bits), Signal(bits, init=1)    # nxt = gray(count + 1)
    step = Signal()
    m.d.comb += step.eq(seen != mine)
    with m.If(step):
        m.d[domain] += [count.eq(count + 1), mine.eq(nxt), nxt.eq(_gray((count + 2)[:bits]))]
    return step, count, mine, nxt


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
        Stream producer only. True (default): the read port is write-transparent, so an entry
        written in cycle t is on ``o`` in cycle t + 1. False: 2 cycles, and no write-through path,
        which saves a register and a 2:1 mux per payload bit (for 64-byte entries, ~520 LUTs and
        ~510 flip-flops: see docs/ring.md).
    producer : str
        ``"stream"`` (port ``i``) or ``"claim"`` (port ``claim``, :class:`ClaimSignature`).
    write_domain : str
        Claim producer only: the clock domain of ``claim`` (the consumer side is ``sync``).
    max_claim, lanes : int
        Claim producer only: most entries per claim; write lanes per entry.

    Members
    -------
    i : In(stream.Signature(layout))
        Stream producer: one entry per handshake; ``ready`` drops while the ring is full.
    claim : In(ClaimSignature(layout, max_claim, lanes))
        Claim producer, in ``write_domain``.
    o : Out(stream.Signature(layout))
        Published entries in sequence order (``sync``).
    cursor, consumed : Out(64)
        Sequences published (as the consumer side sees them) and taken by the consumer.
    fill : Out(range(depth + 1))
        Entries held (published, not taken).
    full_cycles : Out(64)
        Stream producer: cycles with an entry offered and refused because the ring is full.
    """

    def __init__(self, depth: int, layout: data.StructLayout, *, seq_field: str = "seq",
                 bypass: bool = True, producer: str = "stream", write_domain: str = "sync",
                 max_claim: int = 32, lanes: int = 8):
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
        if producer not in ("stream", "claim"):
            raise ValueError(f"ring producer must be 'stream' or 'claim', not {producer!r}")
        if producer == "claim":
            if not isinstance(max_claim, int) or not 1 <= max_claim <= depth:
                raise ValueError(f"max_claim must be an integer from 1 to the depth {depth}, not {max_claim!r}")
            if not isinstance(lanes, int) or lanes < 1 or layout.size % lanes:
                raise ValueError(f"lanes must divide the entry's {layout.size} bits, not {lanes!r}")
        elif write_domain != "sync":
            raise ValueError("a stream producer shares the consumer's domain: write_domain must be 'sync'")
        self._depth = depth
        self._layout = layout
        self._seq_field = seq_field
        self._bypass = bool(bypass) and producer == "stream"
        self._producer = producer
        self._wdomain = write_domain
        self._max_claim, self._lanes = max_claim, lanes
        ports = {
            "o": Out(stream.Signature(layout)),
            "cursor": Out(64),
            "consumed": Out(64),
            "fill": Out(range(depth + 1)),
        }
        if producer == "stream":
            ports.update(i=In(stream.Signature(layout)), full_cycles=Out(64))
        else:
            ports.update(claim=In(ClaimSignature(layout, max_claim, lanes)))
        super().__init__(ports)

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def layout(self) -> data.StructLayout:
        return self._layout

    @property
    def producer(self) -> str:
        return self._producer

    @property
    def latency(self) -> int:
        """Idle latency in cycles from producer handshake to consumer ``valid`` (stream producer)."""
        return 1 if self._bypass else 2

    @property
    def addr_bits(self) -> int:
        return self._depth.bit_length() - 1

    def elaborate(self, platform):
        m = Module()
        depth, abits = self._depth, self.addr_bits
        claim = self._producer == "claim"

        if claim:
            m.submodules.mem = mem = memory.Memory(shape=unsigned(self._layout.size), depth=depth, init=[])
            wr = mem.write_port(domain=self._wdomain, granularity=self._layout.size // self._lanes)
            rd = mem.read_port()
        else:
            m.submodules.mem = mem = memory.Memory(shape=self._layout, depth=depth, init=[])
            wr = mem.write_port()
            rd = mem.read_port(transparent_for=(wr,) if self._bypass else ())

        # Consumer-side state: cursor is what the consumer may read; rd_ptr is the slot of the next
        # entry to load into the output register; unread counts published entries not yet loaded.
        cursor = Signal(64)
        consumed = Signal(64)
        rd_ptr = Signal(abits)
        fill = Signal(range(depth + 1))
        unread = Signal(range(depth + 1))
        arrive = Signal()       # one more published entry (this cycle)
        pop = Signal()
        advance = Signal()
        load = Signal()

        if claim:
            w = self._claim_writer(m, wr, consumed, pop)
        else:
            w = self._stream_writer(m, wr, cursor, fill, pop)
        m.d.comb += arrive.eq(w["arrive"])
        with m.If(arrive):
            m.d.sync += cursor.eq(cursor + 1)

        m.d.comb += [
            pop.eq(self.o.valid & self.o.ready),
            # The output register is free, or being emptied in this cycle.
            advance.eq(~self.o.valid | self.o.ready),
            # An arriving entry is readable at once: with the bypass it was written in this very
            # cycle; a claimed entry was written before it was published.
            load.eq(advance & ((unread != 0) | (arrive if self._bypass or claim else 0))),
        ]

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
        m.d.sync += [
            fill.eq(fill + arrive - pop),
            unread.eq(unread + arrive - load),
        ]
        m.d.comb += [
            self.cursor.eq(cursor),
            self.consumed.eq(consumed),
            self.fill.eq(fill),
        ]

        if platform == "formal":
            if claim:
                self._formal_claim(m, mem, w, cursor, consumed, rd_ptr, fill, unread, pop)
            else:
                self._formal(m, mem, cursor, consumed, rd_ptr, fill, unread, w["full"], w["push"], pop, load)
        return m

    def _stream_writer(self, m, wr, wr_seq, fill, pop):
        """Stream producer: claim, stamp, write and publish in the handshake's cycle."""
        full = Signal()
        full_cycles = Signal(64)
        push = Signal()
        entry = Signal(self._layout)
        m.d.comb += [
            self.i.ready.eq(~full),
            push.eq(self.i.valid & ~full),
            entry.eq(self.i.payload),
            getattr(entry, self._seq_field).eq(wr_seq),
            wr.addr.eq(wr_seq[:self.addr_bits]),
            wr.data.eq(entry),
            wr.en.eq(push),
            self.full_cycles.eq(full_cycles),
        ]
        m.d.sync += full.eq(fill + push - pop == self._depth)
        with m.If(self.i.valid & full):
            m.d.sync += full_cycles.eq(full_cycles + 1)
        return {"arrive": push, "push": push, "full": full}

    def _claim_writer(self, m, wr, consumed, pop):
        """Claim producer (in the write domain): grant or refuse, lane writes, publish / abort, and
        the two Gray-coded counters that cross between the domains."""
        wd, c = self._wdomain, self.claim
        depth, abits, pbits = self._depth, self.addr_bits, self.addr_bits + 1
        sync = wd != "sync"

        w_cursor = Signal(64)                       # published, in the write domain
        is_open = Signal()
        n = Signal.like(c.count)
        free = Signal(range(depth + 1), init=depth)  # slots not holding a published, untaken entry (as known here)

        # consumed -> write domain (conservative: a slot is freed later than it was taken)
        c_gray = Signal(pbits)
        m.d.sync += c_gray.eq(_gray((consumed[:pbits] + pop)[:pbits]))
        freed, cons_w, *cons_g = _follow(m, wd, c_gray, pbits, sync=sync)

        # published -> consumer domain, one step per write-domain cycle
        w_vis, w_gray, w_gray_nxt = Signal(pbits), Signal(pbits), Signal(pbits, init=1)
        publish = Signal()
        m.d.comb += publish.eq(is_open & c.publish)
        with m.If(publish | (w_vis != w_cursor[:pbits])):
            m.d[wd] += [w_vis.eq(w_vis + 1), w_gray.eq(w_gray_nxt), w_gray_nxt.eq(_gray((w_vis + 2)[:pbits]))]
        arrive, r_count, *r_g = _follow(m, "sync", w_gray, pbits, sync=sync)

        can = Signal()
        m.d.comb += can.eq((c.count != 0) & (c.count <= free))
        m.d[wd] += [c.grant.eq(0), c.refuse.eq(0),
                    free.eq(free - Mux(publish, n, 0) + freed)]
        with m.If(c.req & ~is_open):
            m.d[wd] += [c.grant.eq(can), c.refuse.eq(~can), is_open.eq(can), n.eq(c.count)]
        with m.If(is_open & (c.publish | c.abort)):
            m.d[wd] += is_open.eq(0)
        with m.If(publish):
            m.d[wd] += w_cursor.eq(w_cursor + n)

        wseq = Signal(64)
        entry = Signal(self._layout)
        m.d.comb += [
            wseq.eq(w_cursor + c.index),
            entry.eq(c.data),
            getattr(entry, self._seq_field).eq(wseq),
            wr.addr.eq(wseq[:abits]),
            wr.data.eq(entry),
            wr.en.eq(Mux(is_open & (c.index < n), c.en, 0)),
        ]
        return {"arrive": arrive, "w_cursor": w_cursor, "is_open": is_open, "n": n, "free": free,
                "wseq": wseq, "entry": entry, "wr": wr, "can": can, "w_vis": w_vis, "cons_w": cons_w,
                "cons_g": cons_g, "c_gray": c_gray, "w_gray": (w_gray, w_gray_nxt), "r_count": r_count, "r_g": r_g}

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

    def _formal_claim(self, m, mem, w, cursor, consumed, rd_ptr, fill, unread, pop):
        """Claim producer, one domain (tests/hw/test_ringbuf_formal.py): the consumer-side
        invariants of the stream ring, plus: writes land only in slots that hold nothing published
        and untaken; ``free`` is exact up to slots freed but not yet seen; and for an arbitrary
        sequence ``s``, the entry that leaves at ``consumed == s`` is exactly what the claim that
        published ``s`` wrote. A claim that covered ``s`` and was aborted wrote into the same slot
        before: since the next claim rewrites every lane (the producer's rule, assumed here), and
        the output must equal that claim's data, nothing written under an aborted claim is ever
        published."""
        from amaranth.asserts import AnyConst
        from amaranth.hdl import Assert, Assume

        if self._wdomain != "sync":
            raise ValueError("the claim ring's formal model runs in one domain (write_domain='sync')")
        depth, abits, pbits, lanes = self._depth, self.addr_bits, self.addr_bits + 1, self._lanes
        c = self.claim
        w_cursor, is_open, n, free, wseq, entry, wr = (w[k] for k in ("w_cursor", "is_open", "n", "free", "wseq",
                                                                       "entry", "wr"))
        lw = self._layout.size // lanes
        m.d.comb += Assume(w_cursor < (1 << 63))                  # sequences never wrap

        m.d.comb += [
            Assert(fill <= depth),
            Assert(unread <= fill),
            Assert((cursor - consumed) == fill),
            Assert(fill == unread + self.o.valid),
            Assert(rd_ptr == (consumed + self.o.valid)[:abits]),
            Assert(cursor <= w_cursor),
            Assert(w_cursor - consumed <= depth),
            Assert(~is_open | ((n != 0) & (n <= free))),
        ]
        # The Gray crossings (here without synchronizer stages): each follower and each source
        # counter keeps its Gray codes, and lags its source by what is in flight.
        cons_w, w_vis, r_count = w["cons_w"], w["w_vis"], w["r_count"]
        w_gray, w_gray_nxt = w["w_gray"]
        lag_c, lag_w, lag_r = Signal(pbits), Signal(pbits), Signal(pbits)
        m.d.comb += [
            lag_c.eq(consumed[:pbits] - cons_w), lag_w.eq(w_cursor[:pbits] - w_vis), lag_r.eq(w_vis - r_count),
            Assert(w["c_gray"] == _gray(consumed[:pbits])),
            Assert(w["cons_g"][0] == _gray(cons_w)), Assert(w["cons_g"][1] == _gray((cons_w + 1)[:pbits])),
            Assert(w_gray == _gray(w_vis)), Assert(w_gray_nxt == _gray((w_vis + 1)[:pbits])),
            Assert(w["r_g"][0] == _gray(r_count)), Assert(w["r_g"][1] == _gray((r_count + 1)[:pbits])),
            Assert(r_count == cursor[:pbits]),
            Assert(lag_w + lag_r == w_cursor - cursor),
            Assert(w_cursor - consumed + lag_c <= depth),
            Assert(free == depth - (w_cursor[:pbits] - cons_w)[:pbits]),
        ]
        with m.If(self.o.valid):
            m.d.comb += Assert(fill != 0)
        with m.If(wr.en.any()):
            m.d.comb += [Assert(is_open), Assert(wseq >= w_cursor), Assert(wseq < w_cursor + n),
                         Assert(wseq - consumed < depth)]

        head = mem.read_port(domain="comb")
        m.d.comb += head.addr.eq(consumed[:abits])
        with m.If(self.o.valid):
            m.d.comb += Assert(self.o.payload.as_value() == head.data)

        s = Signal(64)
        m.d.comb += s.eq(AnyConst(64))
        tracked, written, have = Signal(self._layout.size), Signal(lanes), Signal()
        covers_new = c.req & ~is_open & w["can"] & (s >= w_cursor) & (s < w_cursor + c.count)
        covered = is_open & (s >= w_cursor) & (s < w_cursor + n)
        hit = wseq == s
        with m.If(covers_new):
            m.d.sync += written.eq(0)
        for i in range(lanes):
            with m.If(wr.en[i] & hit):
                m.d.sync += [tracked[i * lw:(i + 1) * lw].eq(wr.data[i * lw:(i + 1) * lw]), written[i].eq(1)]
        # The producer's rule: every lane of a claimed entry is written before publish.
        with m.If(covered & c.publish):
            m.d.comb += Assume((written | Mux(hit, wr.en, 0)).all())
            m.d.sync += have.eq(1)
        m.d.comb += Assert(have == (s < w_cursor))
        peek = mem.read_port(domain="comb")
        m.d.comb += peek.addr.eq(s[:abits])
        with m.If(have & (s >= consumed)):
            m.d.comb += Assert(peek.data == tracked)
        with m.If(covered):
            for i in range(lanes):
                with m.If(written[i]):
                    m.d.comb += Assert(peek.data[i * lw:(i + 1) * lw] == tracked[i * lw:(i + 1) * lw])
        with m.If(self.o.valid & (consumed == s)):
            m.d.comb += [Assert(have), Assert(self.o.payload.as_value() == tracked)]
        # What leaves at ``s`` carries ``s`` in its sequence field (the ring stamped it).
        off = self._layout[self._seq_field].offset
        seqmask = ((1 << 64) - 1) << off
        diff = Signal(self._layout.size)
        m.d.comb += diff.eq((tracked ^ (s << off)) & seqmask)
        with m.If(have):
            m.d.comb += Assert(diff == 0)
        with m.If(covered):
            for i in range(lanes):
                with m.If(written[i]):
                    m.d.comb += Assert(diff[i * lw:(i + 1) * lw] == 0)
        with m.If(self.o.valid & (consumed == s)):
            m.d.comb += Assert(getattr(self.o.payload, self._seq_field) == s)
