"""k-induction harness of the DMA writer (``hw/pcie_dma.py``) for SymbiYosys.

``DmaProof`` wraps a ``DmaWriter`` in a free environment and states, as assertions:

*Properties* (what the host relies on), checked on the request stream the adapter sees:

- every data request is non-empty, at most MPS and ``BATCH_LIMIT`` entries, does not cross
  4 KiB and stays inside the host ring;
- slot address: a data request's first entry is entry ``s`` (``s`` = data lines that left
  before it, since reset) and lands at ``ring_base + (s mod size) * 64``;
- credit rule: at a data header, every entry ``s`` of the TLP has ``s - consumed < size``
  (``consumed`` the doorbell in force);
- cursor after data: a cursor request announces exactly the data lines that left before it
  (never an entry whose data was not issued), at the cursor line's address, 6 dwords;
- lost TLPs: once the adapter gave a TLP up, or bus mastering went off with a request
  issued, held or being formed, no cursor line is pushed until an enable is accepted;
- the request stream holds a beat (valid and payload) until it is taken; the sequencer
  pushes only into a free skid register.

*Invariants* (what makes the properties 1-inductive): one-hot state; ``slot == sent mod
size`` (also while off: the configuration is constant here); ``next_addr`` consistent with
the slot (one cycle late after a header, the writer's own ``adv`` flag equal to the
harness's); ``room + (sent - consumed) + pending credit == size`` and ``sent - consumed <=
size``; the doorbell being checked consistent with ``consumed`` and SENT, never with credit
still pending; the split limits: configuration stages right one to three cycles after a
reset (``age``), the wrap register following the slot, ``fresh`` a shift register of ones
cleared by a header, the cap, whenever ``cap_ok``, non-zero and bounded by room, page /
wrap, MPS and batch; the header's ``n`` within the same bounds and its wrap flag exact; the
skid register only behind a full output register, and every line held there (data header or
cursor line) obeying the properties at the sequence it will leave with; ``sent`` = lines that
left + lines held + lines still to push; the cursor flags (``current`` implies ``written ==
sent``, ``dirty`` iff a data TLP since the last cursor write, the count of those never above
CURSOR_INTERVAL and below it in HEAD, ``under`` exact, IDLE with data uncovered only below
the interval or faulted); the bus-master register and the fault flag against the harness's
own; the validation stages consistent.

The configuration is fixed or an arbitrary constant (64-bit base and cursor address, any
ring size, batch limit, cursor interval and MPS code), clear of two cases the validation
refuses anyway (a ring wrapping past 2**64, a cursor line overlapping the ring). Everything
else is free every cycle: entry arrivals (consistent with the fill count), request
back-pressure, bus master enable, CONTROL and DOORBELL writes (64-bit doorbells), the
adapter's busy and lost-TLP flags, and the synchronous reset. (The proof is run for fixed
configurations; an arbitrary one has not been proved.)

``covers`` adds cover statements (run in sby ``cover`` mode, from reset): a TLP cut at a 4 KiB
boundary inside the ring, a TLP ending at the ring's end followed by one at its base, a
cursor write after the wrap. The cover environment is scripted (one enable, a doorbell every
fourth cycle, no back-pressure): the solver follows one trace, and its witness shows the
state is reachable. ``broken`` names deliberately wrong claims that the solver must refute;
after elaboration ``claim_lines`` gives the source line of each one's assertion.
"""
from __future__ import annotations

from amaranth.hdl import Assert, Assume, Cat, Const, Cover, Fragment, Module, Mux, Signal
from amaranth.hdl import ResetSignal
from amaranth.lib import wiring

from ringgate.contracts.entry import CURSOR_LINE
from ringgate.contracts.pcie import MAX_TLP_ENTRIES
from ringgate.hw.pcie_dma import CURSOR_DWORDS, REQ_LAYOUT, DmaWriter, State

__all__ = ["DmaProof", "internal_signals", "BROKEN", "COVERS"]

RING_DEPTH = 16
CONFIG_WIDTHS = {"ring_base": 64, "ring_size": 32, "cursor_addr": 64, "batch_limit": 32,
                 "cursor_interval": 32, "mps": 2}
BROKEN = ("mps_bound", "credit_rule", "cursor_after_data", "lost_forever")
COVERS = ("cut", "wrap", "cursor")


def internal_signals(fragment: Fragment) -> dict[str, Signal]:
    """Signals of an elaborated design by name: the registers and wires its top module drives
    (``"sent"``), and every signal of each named submodule (``"credit.db_add_v"``).

    The proof reads the writer's internal state without the RTL exposing it; a name that
    goes missing after a change of the RTL fails loudly here (``KeyError``)."""
    def signals(frag, driven_only):
        out = {}
        for stmts in frag.statements.values():
            for stmt in stmts:
                sigs = list(stmt._lhs_signals())
                if not driven_only:
                    sigs += list(stmt._rhs_signals())
                for sig in sigs:
                    if not sig.name.startswith("$"):
                        out.setdefault(sig.name, sig)
        return out
    found = signals(fragment, driven_only=True)
    for sub, name, *_ in fragment.subfragments:
        for key, sig in signals(sub, driven_only=False).items():
            found[f"{name}.{key}"] = sig
    return found


def _unnamed_sibling(fragment: Fragment, named: Signal) -> Signal:
    """The register declared in the same tuple assignment as ``named`` (so it has no name
    of its own): the one other signal the top module drives with ``named``'s source line."""
    found = {id(sig): sig for stmts in fragment.statements.values() for stmt in stmts
             for sig in stmt._lhs_signals() if sig.src_loc == named.src_loc and sig is not named}
    if len(found) != 1:
        raise KeyError(f"no single unnamed signal declared with {named.name}")
    return next(iter(found.values()))


def _sat(value, limit):
    return Mux(value > limit, limit, value)


def _min(*values):
    out = values[0]
    for v in values[1:]:
        out = Mux(v < out, v, out)
    return out


class _ObservedWriter(DmaWriter):
    """The writer, keeping its shared registers (``_Signals``) for the harness: some are
    declared in one tuple assignment and so carry no name to find them by."""

    def _commands(self, m, w):
        self.shared = w
        super()._commands(m, w)


class DmaProof(wiring.Component):
    """The DMA writer in a free environment, with its properties and inductive invariants.

    Parameters
    ----------
    config : dict or None
        Configuration registers as constants (``ring_base``, ``ring_size``, ``cursor_addr``,
        ``batch_limit``, ``cursor_interval``, ``mps``); a key left out (or ``None``) is an
        arbitrary constant the solver picks.
    covers : tuple of str
        Cover statements to add (for sby ``cover`` mode), from ``COVERS``: ``"cut"`` (a TLP
        cut at a 4 KiB boundary inside the ring), ``"wrap"`` (a TLP ending at the ring's end,
        the next at its base), ``"cursor"`` (a cursor write after the wrap).
    broken : tuple of str
        From ``BROKEN``: deliberately wrong claims the solver must refute (each one's
        assertion has a source line of its own: ``claim_lines``).

    Members
    -------
    None: every input of the writer is driven by the harness.
    """

    def __init__(self, config: dict | None = None, *, covers: tuple[str, ...] = (), broken: tuple[str, ...] = ()):
        assert set(broken) <= set(BROKEN), broken
        self.config = dict(config or {})
        unknown = set(self.config) - set(CONFIG_WIDTHS)
        assert not unknown, unknown
        assert set(covers) <= set(COVERS), covers
        self.covers = tuple(covers)
        self.broken = tuple(broken)
        self.claim_lines = {}
        super().__init__({})

    def elaborate(self, platform):
        from amaranth.asserts import AnyConst, AnySeq
        m = Module()
        dma = _ObservedWriter(RING_DEPTH)
        frag = Fragment.get(dma, platform)
        m.submodules.dma = frag
        w = internal_signals(frag)
        sh = dma.shared
        regs = dma.regs

        # -- configuration: arbitrary constants ---------------------------------------------
        cfg = {}
        for key, width in CONFIG_WIDTHS.items():
            cfg[key] = Signal(width, name=f"cfg_{key}")
            value = self.config.get(key)
            m.d.comb += cfg[key].eq(AnyConst(width) if value is None else Const(value, width))
        base, cursor_addr, size = cfg["ring_base"], cfg["cursor_addr"], cfg["ring_size"]
        batch, interval, mps = cfg["batch_limit"], cfg["cursor_interval"], cfg["mps"]
        size_ok = (size != 0) & ((size & (size - 1)) == 0) & (size <= (1 << 26))
        ring_end = Signal(66)
        m.d.comb += ring_end.eq(base + (size[:27] << 6))
        # The validation refuses a ring past 2**64 and a cursor line inside the ring; the
        # environment stays clear of them so the invariants need not restate those checks.
        with m.If(size_ok):
            m.d.comb += [Assume(ring_end[64:] == 0),
                         Assume((cursor_addr + 64 <= base) | (cursor_addr >= ring_end))]
        m.d.comb += [
            regs.ring_base.eq(base), regs.ring_size.eq(size), regs.cursor_addr.eq(cursor_addr),
            regs.batch_limit.eq(batch), regs.cursor_interval.eq(interval), dma.mps.eq(mps),
            dma.req.ready.eq(AnySeq(1)), dma.bus_master.eq(AnySeq(1)),
            regs.control.as_value()[:2].eq(AnySeq(2)), regs.control_w.eq(AnySeq(1)),
            regs.doorbell.eq(AnySeq(64)), regs.doorbell_w.eq(AnySeq(1)),
            dma.downstream_busy.eq(AnySeq(1)), dma.downstream_lost.eq(AnySeq(1)),
            dma.timestamp.eq(AnySeq(64)),
        ]
        if "stop" in dma.signature.members:       # a function-level reset's stop, where there is one
            m.d.comb += dma.stop.eq(AnySeq(1))

        # -- the entry source: any arrival pattern consistent with its fill count ----------
        fill = Signal(range(RING_DEPTH + 1))
        m.d.comb += [dma.entries.valid.eq(AnySeq(1)), fill.eq(AnySeq(len(fill))), dma.fill.eq(fill),
                     Assume(fill <= RING_DEPTH)]
        with m.If(dma.entries.valid):
            m.d.comb += Assume(fill != 0)
        fill_prev = Signal(range(RING_DEPTH + 1))
        valid_prev = Signal()
        m.d.sync += [fill_prev.eq(fill - dma.take), valid_prev.eq(dma.entries.valid & ~dma.take)]
        m.d.comb += Assume(fill >= fill_prev)
        with m.If(valid_prev | (fill_prev > 0)):
            m.d.comb += Assume(dma.entries.valid)

        # -- what the harness observes ------------------------------------------------------
        req, p = dma.req, dma.req.payload
        lines_out = Signal(64)            # data lines taken on the request stream since reset
        with m.If(req.valid & req.ready & ~p.cursor):
            m.d.sync += lines_out.eq(lines_out + 1)
        hdr_prev = Signal()               # a data header went out last cycle (next_addr lags)
        m.d.sync += hdr_prev.eq(w["header"])
        m.d.comb += Assert(_unnamed_sibling(frag, w["adv_wrap"]) == hdr_prev)   # the writer's own flag
        held_valid, held_payload = Signal(), Signal(REQ_LAYOUT)
        m.d.sync += [held_valid.eq(req.valid & ~req.ready), held_payload.eq(p)]

        state = w["state"]
        def is_(*states):
            return Cat(*[state[s.value.bit_length() - 1] for s in states]).any()
        running = is_(State.IDLE, State.HEAD, State.DATA, State.POST)
        checking = is_(State.CHECK1, State.CHECK2, State.CHECK3, State.CHECK4)
        sent, slot, next_addr, n = w["sent"], w["slot"], w["next_addr"], w["n"]
        consumed, room = w["credit.consumed"], w["credit.room"]
        db_add, db_add_v = w["credit.db_add"], w["credit.db_add_v"]
        mask = (size - 1)[:27]
        mps_entries = Const(2, 5) << mps
        to_page = Signal(27)              # entries to the next 4 KiB boundary or the wrap
        m.d.comb += to_page.eq(_min(size[:27] - slot, 64 - slot[:6]))
        inflight = Signal(64)             # sent - lines_out: lines held or still to push
        m.d.comb += inflight.eq(sent - lines_out)

        def data_rules(pl, seq):
            """The properties of a data request whose first entry is ``seq``."""
            nbytes = pl.ndw << 2
            limit = Const(128, 11) << mps
            if "mps_bound" in self.broken:
                limit = limit >> 1            # claims half the MPS: the solver must refute it
            return [nbytes != 0, nbytes <= limit, nbytes <= (batch << 6), pl.ndw[:4] == 0,
                    (pl.addr[:12] + nbytes) <= 4096,
                    pl.addr >= base, pl.addr + nbytes <= ring_end,
                    pl.addr == base + ((seq[:27] & mask) << 6)]

        def cursor_rules(pl, seq):
            announced = CURSOR_LINE.layout()(pl.line).cursor
            want = (seq + 1)[:64] if "cursor_after_data" in self.broken else seq
            return [pl.addr == cursor_addr, pl.ndw == CURSOR_DWORDS, pl.last, announced == want]

        def line_rules(valid, pl, seq):
            out = []
            for rule in data_rules(pl, seq):
                out.append(Assert(~(valid & pl.first & ~pl.cursor) | rule))
            self.claim_lines["mps_bound"] = out[-1].src_loc[1]
            for rule in cursor_rules(pl, seq):
                out.append(Assert(~(valid & pl.cursor) | rule))
            self.claim_lines["cursor_after_data"] = out[-1].src_loc[1]
            out.append(Assert(~(valid & pl.cursor) | pl.first))
            return out

        # -- properties ----------------------------------------------------------------------
        m.d.comb += line_rules(req.valid, p, lines_out)
        # credit rule: the last entry of the TLP, sent + n - 1, is less than consumed + size
        headroom = Signal(66)
        m.d.comb += headroom.eq((sent - consumed)[:64] + n + (1 if "credit_rule" in self.broken else 0))
        credit = Assert(headroom <= size)
        self.claim_lines["credit_rule"] = credit.src_loc[1]
        with m.If(w["header"]):
            m.d.comb += credit
        with m.If(held_valid & ~ResetSignal()):
            m.d.comb += [Assert(req.valid), Assert(p.as_value() == held_payload.as_value())]
        with m.If(w["skid.push"]):
            m.d.comb += Assert(w["skid.free"])
        # lost TLPs: once the adapter gave one up, or bus mastering went off (the writer sees
        # it a cycle late) with a request issued and not returned, held or being formed, no
        # cursor line is pushed until an enable is accepted (it would announce entries the
        # host may never have received)
        bme_r, lost = Signal(), Signal()
        lost_now = dma.downstream_lost | (~bme_r & (dma.downstream_busy | req.valid | is_(State.HEAD, State.DATA)))
        # (the wrong claim: no cursor line even after the next enable)
        restart = 0 if "lost_forever" in self.broken else w["start"]
        m.d.sync += [bme_r.eq(dma.bus_master), lost.eq((lost | lost_now) & ~restart)]
        m.d.comb += Assert(bme_r == sh.bus_master)
        no_cursor = Assert(~w["emit"])
        self.claim_lines["lost_forever"] = no_cursor.src_loc[1]
        with m.If(lost):
            m.d.comb += no_cursor
        if "lost_forever" not in self.broken:
            with m.If(lost & ~sh.fault):
                # the writer's flag follows (a cycle later where its bus-master loss is registered,
                # with no cursor write allowed meanwhile), or was cleared by CONTROL.RESET while off
                m.d.comb += Assert(is_(State.OFF) | checking | (sh.fault_set & ~sh.cursor_ok))

        # -- invariants ------------------------------------------------------------------------
        m.d.comb += Assert(state.any() & ((state & (state - 1)) == 0))
        # (the configuration is constant here, so the slot follows SENT even while off)
        with m.If(size_ok):
            m.d.comb += Assert(slot == (sent[:27] & mask))
        with m.If(hdr_prev):
            m.d.comb += Assert(is_(State.DATA, State.POST))
        with m.If(running):
            m.d.comb += [
                Assert(size_ok), Assert(base[:12] == 0), Assert(batch != 0), Assert(interval != 0),
                Assert(Mux(hdr_prev, Mux(w["adv_wrap"], base, next_addr + (n << 6)), next_addr)
                       == base + (slot << 6)),
                Assert((sent - consumed)[:64] <= size),
                Assert(room + (sent - consumed)[:64] + Mux(db_add_v, db_add, 0) == size),
            ]
        # the doorbell being checked: consumed is unchanged since it was latched, and SENT
        # grew by at most one TLP since
        chk_sent = Signal(64)
        m.d.comb += chk_sent.eq(w["credit.db_cand"] + w["credit.db_ahead"])
        with m.If(w["credit.db_chk"]):
            m.d.comb += [
                Assert(~db_add_v),
                Assert(running | is_(State.OFF)),
                Assert(w["credit.db_delta"] == (w["credit.db_cand"] - consumed)[:64]),
                Assert((chk_sent - consumed)[:64] <= size),
                Assert((sent - chk_sent)[:64] <= MAX_TLP_ENTRIES),
            ]
        # the split limits: configuration stages, then fresh slot / room stages, then the cap
        lim = {k.split(".", 1)[1]: v for k, v in w.items() if k.startswith("limits.")}
        # The configuration stages follow constants: right one, two, three cycles after a reset.
        age = Signal(2)                   # cycles since the last reset, saturated at 3
        m.d.sync += age.eq(Mux(age == 3, 3, age + 1))
        with m.If(age >= 1):
            m.d.comb += [Assert(lim["mps_e"] == mps_entries), Assert(lim["small"] == (size < 64)),
                         Assert(lim["batch_hi"] == batch[4:].any()), Assert(lim["batch_lo"] == batch[:4])]
        with m.If(age >= 2):
            m.d.comb += Assert(lim["batch_e"] == _sat(batch, 16))
        with m.If(age >= 3):
            m.d.comb += Assert(lim["cfg_e"] == _min(mps_entries, _sat(batch, 16)))
        # an enable is validated two cycles after reset at the earliest (CONTROL is registered)
        with m.If(age == 0):
            m.d.comb += [Assert(is_(State.OFF)), Assert(~sh.ctl_w)]
        with m.If(age == 1):
            m.d.comb += Assert(is_(State.OFF))
        with m.If(running | is_(State.CHECK2, State.CHECK3, State.CHECK4)):
            m.d.comb += Assert(age == 3)
        with m.If(running & lim["fresh"][0]):
            m.d.comb += [Assert(lim["bound_e"] == _sat(to_page, 16)), Assert(lim["room_e"] <= _sat(room, 16))]
        # entries to the wrap, registered from the slot every cycle
        with m.If(size_ok & (age != 0) & ~hdr_prev & ~is_(State.CHECK3)):
            m.d.comb += Assert(lim["wrap"] == _sat(size[:28] - slot, 31))
        # freshness: a shift register of ones since the last restart, cap_ok behind it
        fresh = lim["fresh"]
        m.d.comb += [Assert(~fresh[1] | fresh[0]), Assert(~lim["cap_ok"] | fresh[1])]
        with m.If(hdr_prev):
            m.d.comb += [Assert(fresh == 0), Assert(~lim["cap_ok"])]
        m.d.comb += [Assert(n <= MAX_TLP_ENTRIES), Assert(w["remaining"] < MAX_TLP_ENTRIES)]
        for key in ("mps_e", "batch_e", "cfg_e", "bound_e", "room_e", "cap"):
            m.d.comb += Assert(lim[key] <= MAX_TLP_ENTRIES)
        with m.If(running & lim["cap_ok"]):
            cap = lim["cap"]
            m.d.comb += [Assert(lim["fresh"][1]), Assert(cap != 0), Assert(cap <= room), Assert(cap <= to_page),
                         Assert(cap <= mps_entries), Assert(cap <= batch)]
        with m.If(is_(State.HEAD)):
            m.d.comb += [Assert(~hdr_prev), Assert(n != 0), Assert(n <= room), Assert(n <= to_page),
                         Assert(n <= mps_entries), Assert(n <= batch), Assert(w["n_one"] == (n == 1)),
                         Assert(lim["wrap"] == _sat(size[:27] - slot, 31)),
                         Assert(w["n_wrap"] == (slot + n == size[:27]))]
        with m.If(is_(State.DATA)):
            rem = w["remaining"]
            m.d.comb += [Assert(rem != 0), Assert(rem < MAX_TLP_ENTRIES), Assert(w["rem_one"] == (rem == 1))]
        # the request stage: the skid register sits behind a full output register, and each
        # line held leaves with the sequence the lines ahead of it give
        o_valid, o_pl = w["skid.o__valid"], p
        skid_valid = w["skid.skid_valid"]
        skid_pl = REQ_LAYOUT(w["skid.skid"])
        o_data = o_valid & ~o_pl.cursor
        skid_data = skid_valid & ~skid_pl.cursor
        m.d.comb += Assert(~skid_valid | o_valid)
        skid_seq = Signal(64)
        m.d.comb += skid_seq.eq(lines_out + o_data)
        m.d.comb += line_rules(skid_valid, skid_pl, skid_seq)
        m.d.comb += Assert(inflight == o_data + skid_data + Mux(is_(State.DATA), w["remaining"], 0))
        # the cursor line's flags
        cur = {k.split(".", 1)[1]: v for k, v in w.items() if k.startswith("cursor.")}
        # (A stop with bus mastering off, or a lost TLP, leaves the cursor behind on purpose:
        # CURSOR_CURRENT then stays low across the next enable, so it only implies equality.)
        since = cur["tlps_since"]
        m.d.comb += [Assert(cur["dirty"] == (since != 0)), Assert(since <= interval)]
        # a TLP starts only below CURSOR_INTERVAL, so the count never passes it
        with m.If(is_(State.HEAD)):
            m.d.comb += Assert(since < interval)
        with m.If(is_(State.DATA, State.POST)):
            m.d.comb += Assert(cur["dirty"])
        # IDLE with data uncovered: below the interval (else POST wrote the cursor), or faulted
        with m.If(is_(State.IDLE) & cur["dirty"]):
            m.d.comb += Assert(cur["under"] | sh.fault)
        with m.If(cur["current"]):
            m.d.comb += [Assert(cur["written"] == sent), Assert(~cur["dirty"])]
        with m.If(cur["dirty"]):
            m.d.comb += Assert(cur["under"] == (since < interval))
        self._check_stages(m, w, is_, age, sent, size, size_ok, base, cursor_addr, batch, interval)
        if self.covers:
            self._covers(m, dma, w, base, size, ring_end, lines_out, batch, interval, mps)
        return m

    def _check_stages(self, m, w, is_, age, sent, size, size_ok, base, cursor_addr, batch, interval):
        """ConfigCheck's registers, stage by stage (their sources are constant meanwhile)."""
        c = {k.split(".", 1)[1]: v for k, v in w.items() if k.startswith("check.")}
        diff = c["diff"]
        # the flags registered every cycle from the configuration: right once a cycle (two for
        # the power-of-two test) has passed since a reset; an enable is validated later still
        with m.If(age >= 1):
            m.d.comb += [Assert(c["size_zero"] == (size == 0)), Assert(c["batch_zero"] == (batch == 0)),
                         Assert(c["interval_zero"] == (interval == 0)), Assert(c["size_big"] == (size > (1 << 26))),
                         Assert(c["pow2_parts"].any() == ((size & (size - 1)[:27]) != 0))]
        with m.If(age >= 2):
            m.d.comb += Assert((c["size_zero"] | c["size_not_pow2"] | c["size_big"]) == ~size_ok)
        with m.If(is_(State.CHECK2, State.CHECK3, State.CHECK4)):
            m.d.comb += [
                Assert(diff == (sent - c["consumed"])[:64]),
                Assert(c["base_bad"] == (base[:12] != 0)),
                Assert(c["size_bad"] == ~size_ok),
                Assert(c["limit_bad"] == ((batch == 0) | (interval == 0))),
                Assert(c["curs_bad"] == (cursor_addr[:6] != 0)),
            ]
        with m.If(is_(State.CHECK3, State.CHECK4)):
            m.d.comb += Assert(~size_ok | (c["diff_bad"] == (diff > size)))
        with m.If(is_(State.CHECK4) & ~c["fail"]):
            m.d.comb += [Assert(c["room"] + diff == size), Assert(c["next_addr"] == base + (w["slot"] << 6)),
                         Assert(~c["base_bad"] & ~c["size_bad"] & ~c["diff_bad"] & ~c["limit_bad"])]

    def _covers(self, m, dma, w, base, size, ring_end, lines_out, batch, interval, mps):
        req, p, regs = dma.req, dma.req.payload, dma.regs
        # A scripted environment: one enable at reset, a doorbell every fourth cycle that
        # frees every line issued, a full BRAM ring, no back-pressure, bus mastering on. The
        # trace is then fixed and the solver follows it (a free environment made it search
        # 70 steps deep for minutes); a witness shows the state is reachable.
        cycle = Signal(range(256))
        m.d.sync += cycle.eq(Mux(cycle == 255, 255, cycle + 1))
        m.d.comb += [Assume(~ResetSignal()), Assume(req.ready), Assume(dma.bus_master),
                     Assume(~dma.downstream_busy), Assume(~dma.downstream_lost), Assume(dma.timestamp == 0),
                     Assume(dma.entries.valid), Assume(dma.fill == RING_DEPTH),
                     Assume(regs.control_w == (cycle == 0)), Assume(regs.control.enable), Assume(~regs.control.reset),
                     Assume(regs.doorbell_w == ((cycle[:2] == 0) & (cycle != 0))), Assume(regs.doorbell == lines_out)]
        nbytes = p.ndw << 2
        head = req.valid & req.ready & p.first & ~p.cursor
        wrapped = Signal()
        with m.If(head & (p.addr + nbytes == ring_end)):
            m.d.sync += wrapped.eq(1)
        reach = {
            # a TLP started inside a page, shorter than MPS and BATCH_LIMIT allow, ends at the
            # page's 4 KiB boundary, not at the ring's end
            "cut": head & (size >= 128) & (p.addr[:12] != 0) & ((p.addr[:12] + nbytes) == 4096)
                   & (p.addr + nbytes < ring_end) & (nbytes < (batch << 6)) & (nbytes < (Const(128, 11) << mps)),
            # after a TLP that ends at the ring's end (a ring of several TLPs), the next one
            # starts at its base
            "wrap": head & wrapped & (size >= 16) & (p.addr == base),
            # a cursor write announcing the entries after the wrap (a sequence, not a slot)
            "cursor": req.valid & req.ready & p.cursor & wrapped & (p.line[:64] > size),
        }
        m.d.comb += [Cover(reach[name]) for name in self.covers]
