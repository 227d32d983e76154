"""Formal (bounded) checks of the DMA writer's TLP rules with SymbiYosys (sim/formal.py).

The harness drives the DMA core with free inputs: an entry source with any valid pattern
(consistent with its fill count), request back-pressure, doorbell writes, enable/disable commands, and an arbitrary
(constant) configuration and MPS. Whatever the solver picks, no data request exceeds MPS or
the batch limit, crosses a 4 KiB boundary, or leaves the host ring; the cursor request is
exactly the cursor line.
"""
import pytest
from amaranth.hdl import Assert, Assume, Cat, Const, Elaboratable, Module, Signal
from amaranth.lib import wiring

from ringgate.hw.pcie_dma import CURSOR_DWORDS, DmaWriter
from ringgate.sim.formal import run_sby


class DmaRules(wiring.Component):
    def __init__(self, broken=False):
        self.broken = broken
        super().__init__({})

    def elaborate(self, platform):
        from amaranth.asserts import AnyConst, AnySeq
        m = Module()
        m.submodules.dma = dma = DmaWriter(16)
        # The entry source: any valid pattern, with a fill count consistent with it (an
        # entry on the output counts, and entries counted stay available); payloads zero.
        fill = Signal(range(17))
        took = Signal()
        m.d.comb += [dma.entries.valid.eq(AnySeq(1)), fill.eq(AnySeq(5)), dma.fill.eq(fill),
                     took.eq(dma.take)]
        m.d.comb += Assume(fill <= 16)
        with m.If(dma.entries.valid):
            m.d.comb += Assume(fill != 0)
        fill_prev = Signal(range(17))
        valid_prev = Signal()
        m.d.sync += [fill_prev.eq(fill - took), valid_prev.eq(dma.entries.valid & ~took)]
        m.d.comb += Assume(fill >= fill_prev)
        with m.If(valid_prev):
            m.d.comb += Assume(dma.entries.valid)
        with m.If(fill_prev > 0):
            m.d.comb += Assume(dma.entries.valid)

        base_page = Signal(8)
        size_log2 = Signal(3)
        mps = Signal(2)
        batch = Signal(5)
        interval = Signal(3)
        cursor_line = Signal(8)
        m.d.comb += [base_page.eq(AnyConst(8)), size_log2.eq(AnyConst(3)), mps.eq(AnyConst(2)),
                     batch.eq(AnyConst(5)), interval.eq(AnyConst(3)), cursor_line.eq(AnyConst(8))]
        base = Cat(Const(0, 12), base_page)
        size = Signal(32)
        m.d.comb += size.eq(Const(1, 32) << size_log2)
        regs = dma.regs
        m.d.comb += [
            dma.req.ready.eq(AnySeq(1)),
            regs.ring_base.eq(base),
            regs.ring_size.eq(size),
            regs.cursor_addr.eq(Cat(Const(0, 6), cursor_line, Const(1, 1))),  # above every ring here
            regs.batch_limit.eq(batch),
            regs.cursor_interval.eq(interval),
            dma.mps.eq(mps),
            dma.bus_master.eq(AnySeq(1)),
            regs.control.as_value()[:2].eq(AnySeq(2)),
            regs.control_w.eq(AnySeq(1)),
            regs.doorbell.eq(Cat(AnySeq(10), Const(0, 54))),
            regs.doorbell_w.eq(AnySeq(1)),
            dma.downstream_busy.eq(0),
        ]
        p = dma.req.payload
        nbytes = Signal(14)
        m.d.comb += nbytes.eq(p.ndw << 2)
        with m.If(dma.req.valid & p.first & ~p.cursor):
            limit = (Const(128, 11) << mps)
            if self.broken:
                limit = limit << 1         # a wrong MPS bound the solver must refute
                m.d.comb += Assert(nbytes <= limit // 4)
            m.d.comb += [
                Assert(nbytes != 0),
                Assert(nbytes <= limit),
                Assert(nbytes <= (batch << 6)),
                Assert((p.addr[:12] + nbytes) <= 4096),
                Assert(p.addr >= base),
                Assert(p.addr + nbytes <= base + (size << 6)),
            ]
        with m.If(dma.req.valid & p.first & p.cursor):
            m.d.comb += [Assert(p.addr == regs.cursor_addr), Assert(p.ndw == CURSOR_DWORDS), Assert(p.last)]
        return m


def test_pcie_formal_tlp_rules(tmp_path):
    r = run_sby(DmaRules(), "dma_rules", mode="bmc", depth=18, workdir=tmp_path, timeout_s=300)
    assert r.passed, r.log[-3000:]


def test_pcie_formal_catches_a_wrong_bound(tmp_path):
    r = run_sby(DmaRules(broken=True), "dma_rules_broken", mode="bmc", depth=18, workdir=tmp_path, timeout_s=300)
    assert not r.passed
    assert r.counterexample() is not None
