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

        # Per-dword decode: which dwords exist, which are read-only.
        known = Signal(2)        # dword 0 / dword 1 of the access hits a register
        ro_hit = Signal(2)
        for k in range(2):
            dw = Signal(DW_BITS, name=f"dw{k}")
            m.d.comb += dw.eq(q.dw + k)
            with m.Switch(dw):
                for r in regs:
                    for h in range(r.width // 32):
                        with m.Case(r.offset // 4 + h):
                            m.d.comb += known[k].eq(1)
                            if r.access is Access.RO:
                                m.d.comb += ro_hit[k].eq(1)
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
        for r in regs:
            if r.access is Access.RO:
                continue
            a = r.attr
            target = getattr(self, a)
            base_dw = r.offset // 4
            if r.width == 32:
                hit = Signal(name=f"{a}_hit")
                data32 = Signal(32, name=f"{a}_wdata")
                if base_dw % 2:      # high dword of its row: also hit by a 2-dword row write
                    m.d.comb += hit.eq(wr & ((q.dw == base_dw) | (q.two & (q.dw == base_dw - 1))))
                else:
                    m.d.comb += hit.eq(wr & (q.dw == base_dw))
                m.d.comb += [
                    data32.eq(Mux(q.dw == base_dw, q.wdata[:32], q.wdata[32:])),
                ]
                new = data32
            else:
                lo_only = Signal(name=f"{a}_lo")
                hit = Signal(name=f"{a}_hit")
                new = Signal(64, name=f"{a}_wdata")
                m.d.comb += [
                    lo_only.eq(wr & ~q.two & (q.dw == base_dw)),
                    hit.eq(wr & ((q.two & (q.dw == base_dw)) | (~q.two & (q.dw == base_dw + 1)))),
                ]
                with m.If(q.two):
                    m.d.comb += new.eq(q.wdata)
                with m.Elif(stage_ok & (stage_row == base_dw // 2)):
                    m.d.comb += new.eq(Cat(stage_lo, q.wdata[:32]))
                with m.Else():
                    m.d.comb += new.eq(Cat(target[:32], q.wdata[:32]))
                with m.If(lo_only):
                    m.d.sync += [stage_lo.eq(q.wdata[:32]), stage_row.eq(base_dw // 2), stage_ok.eq(1)]
                with m.If(hit):
                    m.d.sync += stage_ok.eq(0)
            ok = Signal(name=f"{a}_ok")
            if r.locked:
                m.d.comb += ok.eq(hit & ~self.locked)
                with m.If(hit & self.locked):
                    m.d.comb += locked_hit.eq(1)
            else:
                m.d.comb += ok.eq(hit)
            if r.access is Access.RW:
                # The strobe comes with the new value (the cycle after the write), so
                # hardware that latches on the strobe latches the new value.
                with m.If(ok):
                    m.d.sync += target.eq(new)
                m.d.sync += getattr(self, a + "_w").eq(ok)
                strobes.append(getattr(self, a + "_w"))
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

        m.d.comb += self.bad.eq(bad)
        # No new request while a strobe is out: its effect becomes visible (``hold``) first.
        m.d.comb += self.req.ready.eq(~q_valid & ~rd2 & ~self.resp.valid & ~self.hold & ~Cat(*strobes).any())
        assert Error.CONFIG_LOCKED == 1 << 6 and Error.BAD_ACCESS == 1 << 7
        return m
