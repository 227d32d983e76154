"""BAR0 register block, generated from the register map contract (``ringgate/contracts/regmap.py``).

Nothing here lists registers by hand: ports, storage, write strobes, the read multiplexer,
the known-offset decode and the lock rules all come from iterating over ``REGMAP``.
Ports per register (``<n>`` is the register name in lower case):

- RO:  ``<n>`` In -- the value hardware presents.
- RW:  ``<n>`` Out (the stored value) and ``<n>_w`` Out (one-cycle strobe in the first cycle
  the new value is out; for 64-bit registers, after the high half or the whole register is written).
- CMD: ``<n>`` Out (the written value) and ``<n>_w`` Out (strobe); ``<n>_r`` In (read value).
- W1C: ``<n>`` Out (the sticky bits), ``<n>_set`` In (bits to set), ``<n>_clear`` In (clear all).

Requests come from the hard-block adapter as a vendor-neutral stream of dword accesses
(``REG_REQ``: dword index, write, 1 or 2 dwords, data); reads answer on ``resp``. A request
is latched in one cycle and executed in the next, so requests are at least two cycles apart
(the DMA core's doorbell check relies on it) and the read mux is one register stage.
``hold`` stops accepting requests while a command's effect is still being computed (enable
validation, doorbell check), so a read that follows a write always sees its outcome.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ringgate.contracts.regmap import Access, BAR0_SIZE, Error, REGMAP, RegisterMap

__all__ = ["REG_REQ", "REG_RESP", "Bar0"]

DW_BITS = (BAR0_SIZE // 4 - 1).bit_length()

REG_REQ = data.StructLayout({
    "dw": DW_BITS,       # dword index in BAR0 (byte offset / 4)
    "write": 1,
    "two": 1,            # 2-dword access (8-byte aligned: dw even)
    "wdata": 64,         # dword 0 in bits 31:0
})
REG_RESP = data.StructLayout({"rdata": 64})


class Bar0(wiring.Component):
    """The BAR0 register block, generated from the register map: storage, strobes, read mux, locks."""

    def __init__(self, regmap: RegisterMap = REGMAP, *, fixed: dict[str, int] | None = None):
        """``fixed``: values of RO registers that are constants of this build (ID, VERSION,
        CAPS); they get no port."""
        self._map = regmap
        self._fixed = {"ID": regmap["ID"].reset, "VERSION": regmap["VERSION"].reset, **(fixed or {})}
        members = {
            "req": In(stream.Signature(REG_REQ)),
            "resp": Out(stream.Signature(REG_RESP)),
            "locked": In(1),       # configuration writes refused (DMA busy)
            "hold": In(1),         # accept no request: a command's effect is not visible yet
            "bad": Out(1),         # pulse: an access to nothing, or a write to a read-only register
        }
        for r in regmap:
            a = r.attr
            if r.access is Access.RO:
                if r.name not in self._fixed:
                    members[a] = In(r.width)
            elif r.access is Access.RW:
                members[a] = Out(r.width, init=r.reset)
                members[a + "_w"] = Out(1)
            elif r.access is Access.CMD:
                members[a] = Out(r.width)
                members[a + "_w"] = Out(1)
                members[a + "_r"] = In(r.width)
            elif r.access is Access.W1C:
                members[a] = Out(r.width)
                members[a + "_set"] = In(r.width)
                members[a + "_clear"] = In(1)
        super().__init__(members)

    @property
    def regmap(self) -> RegisterMap:
        return self._map

    def _read_value(self, r):
        if r.name in self._fixed:
            return Const(self._fixed[r.name], r.width)
        if r.access is Access.CMD:
            return getattr(self, r.attr + "_r")
        return getattr(self, r.attr)

    def elaborate(self, platform):
        m = Module()
        regs = list(self._map)
        rows = sorted({r.offset // 8 for r in regs})

        # Stage 1: latch the request.
        q_valid = Signal()
        q = Signal(REG_REQ)
        with m.If(self.req.valid & self.req.ready):
            m.d.sync += [q_valid.eq(1), q.eq(self.req.payload)]
        with m.If(q_valid):
            m.d.sync += q_valid.eq(0)
        with m.If(self.resp.ready):
            m.d.sync += self.resp.valid.eq(0)

        row = q.dw[1:]
        hi = q.dw[0]

        # Address decode, registered: computed every cycle from the incoming request, so in
        # the execution cycle (the one after the handshake) it describes ``q``. Nothing but
        # ``*_r`` flags and an AND with ``wr`` stays on the write-enable paths.
        ip = self.req.payload

        def decoded(name, value):
            r_ = Signal(name=name)
            m.d.sync += r_.eq(value)
            return r_

        # Each compare with a dword index is split in two registered halves, the index's
        # high bits (one flag per 32-dword group) and its low 5 bits (one 6-input LUT each),
        # ANDed in the execution cycle: one LUT level from registers, whatever the mapper shares.
        LO = 5
        groups = sorted({(r.offset // 4 + h) >> LO for r in regs for h in range(r.width // 32)})
        grp = {g: decoded(f"grp{g}", ip.dw[LO:] == g) for g in groups}

        def dw_is(name, index, lo_value=None):
            """dw == index (or, given ``lo_value``, that expression of the low bits, same group)."""
            lo = decoded(f"{name}_lo", ip.dw[:LO] == (index & 31) if lo_value is None else lo_value)
            return grp[index >> LO] & lo

        # Per-dword decode: which dwords exist, which are read-only.
        known = Signal(2)        # dword 0 / dword 1 of the access hits a register
        ro_hit = Signal(2)
        for k in range(2):
            kn_terms, ro_terms = [], []
            # dword 1 of a 2-dword access: dw is even (8-byte aligned), so dw + 1 is dw | 1
            lo_idx = ip.dw[:LO] if k == 0 else Cat(Const(1, 1), ip.dw[1:LO])
            for g in groups:
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
                kn_r = decoded(f"known{k}_g{g}", kn)
                ro_r = decoded(f"ro{k}_g{g}", ro)
                kn_terms.append(grp[g] & kn_r)
                ro_terms.append(grp[g] & ro_r)
            m.d.comb += [known[k].eq(Cat(*kn_terms).any()), ro_hit[k].eq(Cat(*ro_terms).any())]
        bad_dw = Signal()
        m.d.comb += bad_dw.eq(~known[0] | (q.two & ~known[1]))

        # Read: the 8-byte row, then the dword selection and the 64-bit high-half latch.
        row_val = Signal(64)
        row_is64 = Signal()
        with m.Switch(row):
            for rw in rows:
                with m.Case(rw):
                    parts = []
                    for half in range(2):
                        hit = [r for r in regs if r.offset == rw * 8 + 4 * half
                               or (r.width == 64 and half == 1 and r.offset == rw * 8)]
                        if not hit:
                            parts.append(Const(0, 32))
                        elif hit[0].width == 64:
                            parts = [self._read_value(hit[0])]
                            m.d.comb += row_is64.eq(1)
                            break
                        else:
                            parts.append(self._read_value(hit[0])[:32])
                    m.d.comb += row_val.eq(Cat(*parts))

        shadow = Signal(32)
        shadow_row = Signal(len(row))
        shadow_ok = Signal()
        stage_lo = Signal(32)
        stage_row = Signal(len(row))
        stage_ok = Signal()

        # Reads answer one cycle after execution: the row multiplexer is registered first.
        rd2 = Signal()
        row_val_r = Signal(64)
        row_is64_r = Signal()
        m.d.sync += [rd2.eq(q_valid & ~q.write), row_val_r.eq(row_val), row_is64_r.eq(row_is64)]

        bad = Signal()
        err = Signal(32)
        with m.If(q_valid & ~q.write):
            m.d.comb += bad.eq(bad_dw)
        with m.If(rd2):
            m.d.sync += self.resp.valid.eq(1)
            with m.If(q.two):
                m.d.sync += self.resp.payload.rdata.eq(row_val_r)
            with m.Elif(~hi):
                m.d.sync += self.resp.payload.rdata.eq(row_val_r[:32])
                with m.If(row_is64_r):
                    m.d.sync += [shadow.eq(row_val_r[32:]), shadow_row.eq(row), shadow_ok.eq(1)]
            with m.Else():
                with m.If(row_is64_r & shadow_ok & (shadow_row == row)):
                    m.d.sync += [self.resp.payload.rdata.eq(shadow), shadow_ok.eq(0)]
                with m.Else():
                    m.d.sync += self.resp.payload.rdata.eq(row_val_r[32:])

        # Write.
        wr = Signal()
        m.d.comb += wr.eq(q_valid & q.write)
        with m.If(wr):
            m.d.comb += bad.eq(bad_dw | ro_hit[0] | (q.two & ro_hit[1]))
        locked_hit = Signal()
        strobes = []
        # Decodes over several registers, registered as single flags (stage and lock logic).
        any_lo_c, any_hit64_c, any_locked_c = [], [], []
        for r in regs:
            if r.access is Access.RO:
                continue
            a = r.attr
            target = getattr(self, a)
            base_dw = r.offset // 4
            if r.width == 32:
                hit = Signal(name=f"{a}_hit")
                data32 = Signal(32, name=f"{a}_wdata")
                at = dw_is(f"{a}_at", base_dw)
                if base_dw % 2:      # high dword of its row: also hit by a 2-dword row write
                    lo = ip.dw[:LO]
                    m.d.comb += hit.eq(wr & dw_is(f"{a}_sel", base_dw, (lo == (base_dw & 31))
                                                  | (ip.two & (lo == ((base_dw - 1) & 31)))))
                else:
                    m.d.comb += hit.eq(wr & at)
                m.d.comb += [
                    data32.eq(Mux(at, q.wdata[:32], q.wdata[32:])),
                ]
                new = data32
            else:
                lo_only = Signal(name=f"{a}_lo")
                hit = Signal(name=f"{a}_hit")
                new = Signal(64, name=f"{a}_wdata")
                m.d.comb += [
                    lo_only.eq(wr & ~q.two & dw_is(f"{a}_lo_only", base_dw)),
                    hit.eq(wr & dw_is(f"{a}_sel", base_dw, (ip.two & (ip.dw[:LO] == (base_dw & 31)))
                                      | (~ip.two & (ip.dw[:LO] == ((base_dw + 1) & 31))))),
                ]
                # stage_* change in an execution cycle, and the next request is latched a
                # cycle later at the earliest, so this registered match is current.
                staged = decoded(f"{a}_staged", stage_ok & (stage_row == base_dw // 2))
                with m.If(q.two):
                    m.d.comb += new.eq(q.wdata)
                with m.Elif(staged):
                    m.d.comb += new.eq(Cat(stage_lo, q.wdata[:32]))
                with m.Else():
                    m.d.comb += new.eq(Cat(target[:32], q.wdata[:32]))
                any_lo_c.append(~ip.two & (ip.dw == base_dw))
                any_hit64_c.append((ip.two & (ip.dw == base_dw)) | (~ip.two & (ip.dw == base_dw + 1)))
            ok = Signal(name=f"{a}_ok")
            if r.locked:
                m.d.comb += ok.eq(hit & ~self.locked)
                if r.width == 32 and base_dw % 2:
                    any_locked_c.append((ip.dw == base_dw) | (ip.two & (ip.dw == base_dw - 1)))
                elif r.width == 32:
                    any_locked_c.append(ip.dw == base_dw)
                else:
                    any_locked_c.append((ip.two & (ip.dw == base_dw)) | (~ip.two & (ip.dw == base_dw + 1)))
            else:
                m.d.comb += ok.eq(hit)
            if r.access is Access.RW:
                # The strobe comes with the new value (the cycle after the write), so
                # hardware that latches on the strobe latches the new value.
                with m.If(ok):
                    m.d.sync += target.eq(new)
                m.d.sync += getattr(self, a + "_w").eq(ok)
                strobes.append(ok)
            elif r.access is Access.CMD:
                m.d.comb += [target.eq(new), getattr(self, a + "_w").eq(ok)]
            elif r.access is Access.W1C:
                clr = Signal(r.width, name=f"{a}_w1c")
                with m.If(ok):
                    m.d.comb += clr.eq(new)
                extra = 0
                if r.name == "ERROR":
                    extra = Cat(Const(0, 6), locked_hit, bad)
                with m.If(getattr(self, a + "_clear")):
                    m.d.sync += target.eq(0)
                with m.Else():
                    m.d.sync += target.eq((target & ~clr) | getattr(self, a + "_set") | extra)

        # 32-bit staging of 64-bit registers (low half first) and the lock refusal, from
        # registered "any register of that kind" decodes.
        any_lo = decoded("any_lo", Cat(*any_lo_c).any())
        any_hit64 = decoded("any_hit64", Cat(*any_hit64_c).any())
        any_locked = decoded("any_locked", Cat(*any_locked_c).any())
        with m.If(wr & any_lo):
            m.d.sync += [stage_lo.eq(q.wdata[:32]), stage_row.eq(row), stage_ok.eq(1)]
        with m.If(wr & any_hit64):
            m.d.sync += stage_ok.eq(0)
        m.d.comb += locked_hit.eq(wr & any_locked & self.locked)
        m.d.comb += self.bad.eq(bad)
        # No new request while a strobe is out: its effect becomes visible (``hold``) first.
        # (any strobe out: registered from the write enables, like the strobes themselves)
        strobe_out = Signal()
        m.d.sync += strobe_out.eq(Cat(*strobes).any())
        m.d.comb += self.req.ready.eq(~q_valid & ~rd2 & ~self.resp.valid & ~self.hold & ~strobe_out)
        assert Error.CONFIG_LOCKED == 1 << 6 and Error.BAD_ACCESS == 1 << 7
        return m
