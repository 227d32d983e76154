"""BAR0 register block, generated from the register map contract (``ringgate/contracts/regmap.py``).

Nothing here lists registers by hand: the ports (one interface per register group, see
``regs.py``), storage, write strobes, the read multiplexer, the known-offset decode, the lock
rules and where the block's own refusals are reported all come from the map.

Requests come from the hard-block adapter as a vendor-neutral stream of dword accesses
(``REG_REQ``: dword index, write, 1 or 2 dwords, data); reads answer on ``resp``. A request
is latched in one cycle and executed in the next, so requests are at least two cycles apart
(the DMA core's doorbell check relies on it) and the read mux is one register stage.
A group's ``hold`` stops accepting requests while a command's effect is still being computed
(enable validation, doorbell check), so a read that follows a write always sees its outcome.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ringgate.contracts.regmap import Access, BAR0_SIZE, REGMAP, RegisterMap

from .regs import register_signature

__all__ = ["REG_REQ", "REG_RESP", "Bar0"]

DW_BITS = (BAR0_SIZE // 4 - 1).bit_length()
LO = 5                   # dword-index compares are split into a group flag and these low bits

REG_REQ = data.StructLayout({
    "dw": DW_BITS,       # dword index in BAR0 (byte offset / 4)
    "write": 1,
    "two": 1,            # 2-dword access (8-byte aligned: dw even)
    "wdata": 64,         # dword 0 in bits 31:0
})
REG_RESP = data.StructLayout({"rdata": 64})


class _Request:
    """Stage 1: the latched request, and decodes of the incoming request registered at its
    handshake, so in the execution cycle (the one after) they describe the latched one and
    only ANDs of registered flags stay on the write-enable paths."""

    def __init__(self, m: Module, req, regs):
        self.m = m
        self.valid = Signal(name="q_valid")
        self.q = q = Signal(REG_REQ, name="q")
        with m.If(req.valid & req.ready):
            m.d.sync += [self.valid.eq(1), q.eq(req.payload)]
        with m.If(self.valid):
            m.d.sync += self.valid.eq(0)
        self.ip = ip = req.payload
        self.row, self.hi = q.dw[1:], q.dw[0]
        self.wr = Signal(name="wr")
        m.d.comb += self.wr.eq(self.valid & q.write)
        # Each compare with a dword index is split in two registered halves, the index's high
        # bits (one flag per 32-dword group) and its low 5 bits (one 6-input LUT each), ANDed
        # in the execution cycle: one LUT level from registers, whatever the mapper shares.
        self.groups = sorted({(r.offset // 4 + h) >> LO for r in regs for h in range(r.width // 32)})
        self.grp = {g: self.decoded(f"grp{g}", ip.dw[LO:] == g) for g in self.groups}
        self.known = Signal(2)        # dword 0 / dword 1 of the access hits a register
        self.ro_hit = Signal(2)
        for k in range(2):
            self._decode_dword(k, regs)
        self.bad_dw = Signal(name="bad_dw")
        m.d.comb += self.bad_dw.eq(~self.known[0] | (q.two & ~self.known[1]))

    def decoded(self, name, value):
        r = Signal(name=name)
        self.m.d.sync += r.eq(value)
        return r

    def dw_is(self, name, index, lo_value=None):
        """dw == index (or, given ``lo_value``, that expression of the low bits, same group)."""
        lo = self.decoded(f"{name}_lo", self.ip.dw[:LO] == (index & 31) if lo_value is None else lo_value)
        return self.grp[index >> LO] & lo

    def _decode_dword(self, k, regs):
        m, ip = self.m, self.ip
        kn_terms, ro_terms = [], []
        # dword 1 of a 2-dword access: dw is even (8-byte aligned), so dw + 1 is dw | 1
        lo_idx = ip.dw[:LO] if k == 0 else Cat(Const(1, 1), ip.dw[1:LO])
        for g in self.groups:
            kn = Signal(name=f"known{k}_g{g}_c")
            ro = Signal(name=f"ro{k}_g{g}_c")
            with m.Switch(lo_idx):
                for r in regs:
                    for h in range(r.width // 32):
                        i = r.offset // 4 + h
                        if i >> LO == g:
                            with m.Case(i & 31):
                                m.d.comb += kn.eq(1)
                                if r.access is Access.RO:
                                    m.d.comb += ro.eq(1)
            kn_terms.append(self.grp[g] & self.decoded(f"known{k}_g{g}", kn))
            ro_terms.append(self.grp[g] & self.decoded(f"ro{k}_g{g}", ro))
        m.d.comb += [self.known[k].eq(Cat(*kn_terms).any()), self.ro_hit[k].eq(Cat(*ro_terms).any())]


class Bar0(wiring.Component):
    """The BAR0 register block, generated from the register map.

    Parameters
    ----------
    regmap : RegisterMap
        The map (its groups give the ports; its ``bus_errors`` say where refusals go).
    fixed : dict of str to int, optional
        Values of read-only registers that are constants of this build (``CAPS``); they get
        no port. Registers the map marks ``constant`` (``ID``, ``VERSION``) never do.

    Members
    -------
    req : In(stream.Signature(REG_REQ))
        Dword accesses from the hard-block adapter.
    resp : Out(stream.Signature(REG_RESP))
        Read data.
    bad : Out(1)
        Pulse: an access to nothing, or a write to a read-only register.
    bus_bad : In(1)
        Pulse: a request the adapter refused; counted with ``bad`` in the bus-error counter.
    <group> : Out(register_signature(group))
        One interface per register group of the map with registers a consumer serves.
    """

    def __init__(self, regmap: RegisterMap = REGMAP, *, fixed: dict[str, int] | None = None):
        self._map = regmap
        for name in fixed or {}:
            if regmap[name].access is not Access.RO:
                raise ValueError(f"only read-only registers can be build constants, not {name}")
        self._fixed = {**{r.name: r.reset for r in regmap if r.constant}, **(fixed or {})}
        be = regmap.bus_errors
        self._own = {be.counter} if be is not None else set()
        members = {
            "req": In(stream.Signature(REG_REQ)),
            "resp": Out(stream.Signature(REG_RESP)),
            "bad": Out(1),
            "bus_bad": In(1),
        }
        for g in regmap.groups:
            if g.name in members:
                raise ValueError(f"register group name {g.name!r} collides with a BAR0 port")
            sig = register_signature(g, internal=set(self._fixed) | self._own)
            if sig.members:
                members[g.name] = Out(sig)
        super().__init__(members)

    @property
    def regmap(self) -> RegisterMap:
        return self._map

    def _port(self, r, suffix=""):
        return Value.cast(getattr(getattr(self, self._map.group_of[r.name].name), r.attr + suffix))

    def _group_flag(self, name):
        """OR of the ``name`` members (``hold``, ``lock``) of the groups that have one."""
        flags = [getattr(getattr(self, g.name), name) for g in self._map.groups
                 if g.name in self.signature.members and name in getattr(self, g.name).signature.members]
        return Cat(*flags).any() if flags else Const(0, 1)

    def _read_value(self, r, own):
        if r.name in self._fixed:
            return Const(self._fixed[r.name], r.width)
        if r.name in own:
            return own[r.name]
        return self._port(r, "_r" if r.access is Access.CMD else "")

    def elaborate(self, platform):
        m = Module()
        regs = list(self._map)
        rq = _Request(m, self.req, regs)
        q = rq.q

        bad = Signal()
        locked_hit = Signal()
        with m.If(rq.valid & ~q.write):
            m.d.comb += bad.eq(rq.bad_dw)
        with m.If(rq.wr):
            m.d.comb += bad.eq(rq.bad_dw | rq.ro_hit[0] | (q.two & rq.ro_hit[1]))
        m.d.comb += self.bad.eq(bad)

        own = {}
        be = self._map.bus_errors
        if be is not None:
            count = own[be.counter] = Signal(self._map[be.counter].width, name="bad_count")
            with m.If(self._port(self._map[be.register], "_clear")):
                m.d.sync += count.eq(0)
            with m.Elif(bad | self.bus_bad):
                m.d.sync += count.eq(count + 1)

        rd2 = self._read_path(m, rq, own)
        strobes = self._write_path(m, rq, bad, locked_hit)
        m.d.comb += locked_hit.eq(rq.wr & self._locked_decode(m, rq))

        # No new request while a strobe is out: its effect becomes visible (``hold``) first.
        # (any strobe out: registered from the write enables, like the strobes themselves)
        strobe_out = Signal()
        m.d.sync += strobe_out.eq(Cat(*strobes).any())
        m.d.comb += self.req.ready.eq(~rq.valid & ~rd2 & ~self.resp.valid & ~self._group_flag("hold")
                                      & ~strobe_out)
        return m

    def _read_path(self, m, rq, own):
        """The 8-byte row, registered, then the dword selection and the 64-bit high-half latch."""
        q, row, hi = rq.q, rq.row, rq.hi
        regs = list(self._map)
        row_val = Signal(64)
        row_is64 = Signal()
        with m.Switch(row):
            for rw in sorted({r.offset // 8 for r in regs}):
                with m.Case(rw):
                    parts = []
                    for half in range(2):
                        hit = [r for r in regs if r.offset == rw * 8 + 4 * half
                               or (r.width == 64 and half == 1 and r.offset == rw * 8)]
                        if not hit:
                            parts.append(Const(0, 32))
                        elif hit[0].width == 64:
                            parts = [self._read_value(hit[0], own)]
                            m.d.comb += row_is64.eq(1)
                            break
                        else:
                            parts.append(self._read_value(hit[0], own)[:32])
                    m.d.comb += row_val.eq(Cat(*parts))

        shadow = Signal(32)
        shadow_row = Signal(len(row))
        shadow_ok = Signal()
        # Reads answer one cycle after execution: the row multiplexer is registered first.
        rd2 = Signal()
        row_val_r = Signal(64)
        row_is64_r = Signal()
        m.d.sync += [rd2.eq(rq.valid & ~q.write), row_val_r.eq(row_val), row_is64_r.eq(row_is64)]
        rdata = self.resp.payload.rdata
        with m.If(self.resp.ready):
            m.d.sync += self.resp.valid.eq(0)
        with m.If(rd2):
            m.d.sync += self.resp.valid.eq(1)
            with m.If(q.two):
                m.d.sync += rdata.eq(row_val_r)
            with m.Elif(~hi):
                m.d.sync += rdata.eq(row_val_r[:32])
                with m.If(row_is64_r):
                    m.d.sync += [shadow.eq(row_val_r[32:]), shadow_row.eq(row), shadow_ok.eq(1)]
            with m.Else():
                with m.If(row_is64_r & shadow_ok & (shadow_row == row)):
                    m.d.sync += [rdata.eq(shadow), shadow_ok.eq(0)]
                with m.Else():
                    m.d.sync += rdata.eq(row_val_r[32:])
        return rd2

    def _write_path(self, m, rq, bad, locked_hit):
        """Storage and strobes of every writable register; 32-bit staging of 64-bit registers
        (low half first). Returns the RW strobes."""
        q, ip, wr = rq.q, rq.ip, rq.wr
        stage_lo = Signal(32)
        stage_row = Signal(len(rq.row))
        stage_ok = Signal()
        strobes = []
        any_lo_c, any_hit64_c = [], []
        for r in self._map:
            if r.access is Access.RO:
                continue
            a, base_dw = r.attr, r.offset // 4
            target = self._port(r)
            hit = Signal(name=f"{a}_hit")
            if r.width == 32:
                new = Signal(32, name=f"{a}_wdata")
                at = rq.dw_is(f"{a}_at", base_dw)
                if base_dw % 2:      # high dword of its row: also hit by a 2-dword row write
                    lo = ip.dw[:LO]
                    m.d.comb += hit.eq(wr & rq.dw_is(f"{a}_sel", base_dw, (lo == (base_dw & 31))
                                                     | (ip.two & (lo == ((base_dw - 1) & 31)))))
                else:
                    m.d.comb += hit.eq(wr & at)
                m.d.comb += new.eq(Mux(at, q.wdata[:32], q.wdata[32:]))
            else:
                new = Signal(64, name=f"{a}_wdata")
                m.d.comb += hit.eq(wr & rq.dw_is(f"{a}_sel", base_dw, (ip.two & (ip.dw[:LO] == (base_dw & 31)))
                                                 | (~ip.two & (ip.dw[:LO] == ((base_dw + 1) & 31)))))
                # stage_* change in an execution cycle, and the next request is latched a
                # cycle later at the earliest, so this registered match is current.
                staged = rq.decoded(f"{a}_staged", stage_ok & (stage_row == base_dw // 2))
                with m.If(q.two):
                    m.d.comb += new.eq(q.wdata)
                with m.Elif(staged):
                    m.d.comb += new.eq(Cat(stage_lo, q.wdata[:32]))
                with m.Else():
                    m.d.comb += new.eq(Cat(target[:32], q.wdata[:32]))
                any_lo_c.append(~ip.two & (ip.dw == base_dw))
                any_hit64_c.append((ip.two & (ip.dw == base_dw)) | (~ip.two & (ip.dw == base_dw + 1)))
            ok = Signal(name=f"{a}_ok")
            lock = getattr(self, self._map.group_of[r.name].name).lock if r.locked else Const(0, 1)
            m.d.comb += ok.eq(hit & ~lock)
            if r.access is Access.RW:
                # The strobe comes with the new value (the cycle after the write), so
                # hardware that latches on the strobe latches the new value.
                with m.If(ok):
                    m.d.sync += target.eq(new & r.field_mask)
                m.d.sync += self._port(r, "_w").eq(ok)
                strobes.append(ok)
            elif r.access is Access.CMD:
                m.d.comb += [target.eq(new), self._port(r, "_w").eq(ok)]
            elif r.access is Access.W1C:
                clr = Signal(r.width, name=f"{a}_w1c")
                with m.If(ok):
                    m.d.comb += clr.eq(new)
                with m.If(self._port(r, "_clear")):
                    m.d.sync += target.eq(0)
                with m.Else():
                    m.d.sync += target.eq((target & ~clr) | self._port(r, "_set")
                                          | self._bus_error_bits(m, r, bad, locked_hit))

        # 32-bit staging of 64-bit registers, from registered "any register of that kind" decodes.
        any_lo = rq.decoded("any_lo", Cat(*any_lo_c).any())
        any_hit64 = rq.decoded("any_hit64", Cat(*any_hit64_c).any())
        with m.If(wr & any_lo):
            m.d.sync += [stage_lo.eq(q.wdata[:32]), stage_row.eq(rq.row), stage_ok.eq(1)]
        with m.If(wr & any_hit64):
            m.d.sync += stage_ok.eq(0)
        return strobes

    def _bus_error_bits(self, m, r, bad, locked_hit):
        """The bits of W1C register ``r`` this block sets itself (the map's ``bus_errors``)."""
        be = self._map.bus_errors
        if be is None or be.register != r.name:
            return Const(0, r.width)
        # An expression, not a signal with two fields driven: the Verilog of a partly driven
        # signal gives its other bits constant `always @*` blocks, which never run in an
        # event-driven simulator and which Verilator's lint reports as undriven.
        value = Const(0, r.width)
        for name, bit in ((be.bad_access, bad), (be.locked, locked_hit)):
            value = value | (bit << r.field(name).offset)
        return value

    def _locked_decode(self, m, rq):
        """A write to a locked register refused by its group's lock (registered decode per group)."""
        terms = []
        for g in self._map.groups:
            hits = []
            for r in g.regs:
                if not r.locked:
                    continue
                base_dw, ip = r.offset // 4, rq.ip
                if r.width == 32 and base_dw % 2:
                    hits.append((ip.dw == base_dw) | (ip.two & (ip.dw == base_dw - 1)))
                elif r.width == 32:
                    hits.append(ip.dw == base_dw)
                else:
                    hits.append((ip.two & (ip.dw == base_dw)) | (~ip.two & (ip.dw == base_dw + 1)))
            if hits:
                terms.append(rq.decoded(f"any_locked_{g.name}", Cat(*hits).any()) & getattr(self, g.name).lock)
        return Cat(*terms).any() if terms else Const(0, 1)
