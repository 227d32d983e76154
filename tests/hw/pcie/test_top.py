"""PcieTop composed from its blocks: a register group added to the map reaches a port of the
top without editing it, and an interface that does not match the map fails at elaboration."""
import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from ringgate.contracts.regmap import DMA, REGMAP, Access, BitField, Reg, RegGroup, RegisterMap
from ringgate.hw.pcie.bar0 import Bar0
from ringgate.hw.pcie.regs import register_signature
from ringgate.hw.pcie.top import INNER_GROUPS, PcieTop
from ringgate.hw.pcie_dma import DmaWriter

FEED = RegGroup("feed", (
    Reg(0x100, "DST_PORT", 32, Access.RW, 0, "UDP port", locked=True, fields=(BitField("PORT", 0, 16),)),
    Reg(0x108, "DROPS", 64, Access.RO, 0, "frames dropped"),
), "a block outside the PCIe core")


def test_pcie_top_exposes_groups_it_does_not_consume():
    top = PcieTop(256, 64, regmap=REGMAP.with_groups(FEED))
    assert top.signature.members["feed"].signature == register_signature(FEED)
    assert top.signature.members["ingress"].signature == register_signature(REGMAP.group("ingress"))
    assert not set(INNER_GROUPS) & set(top.signature.members)
    text = rtlil.convert(top)                        # every wiring.connect inside must match
    assert "feed__dst_port" in text and "feed__drops" in text and "ingress__mac_addr" in text
    bare = PcieTop(256, 64, regmap=RegisterMap.compose(*(REGMAP.group(g) for g in INNER_GROUPS),
                                                        bus_errors=REGMAP.bus_errors))
    bare._MustUse__silence = True
    assert "ingress" not in bare.signature.members and "feed" not in bare.signature.members


class WrongWriter(wiring.Component):
    """A consumer built against a different idea of the dma group (SENT as 32 bits)."""

    def __init__(self):
        regs = tuple(Reg(r.offset, r.name, 32, r.access, r.reset, r.doc) if r.name == "SENT" else r
                     for r in DMA.regs)
        super().__init__({"regs": In(register_signature(RegGroup("dma", regs, DMA.doc, hold=True)))})

    def elaborate(self, platform):
        return Module()


def test_pcie_a_mismatched_register_interface_is_an_elaboration_error():
    m = Module()
    m.submodules.bar = bar = Bar0(fixed={"CAPS": 0})
    m.submodules.dma = wrong = WrongWriter()
    with pytest.raises(wiring.ConnectionError, match="sent"):
        wiring.connect(m, bar.dma, wrong.regs)
    m2 = Module()
    m2.submodules.bar = bar2 = Bar0(fixed={"CAPS": 0})
    m2.submodules.dma = dma = DmaWriter(64)
    wiring.connect(m2, bar2.dma, dma.regs)
    for c in (m, bar, wrong, m2, bar2, dma):
        c._MustUse__silence = True              # built to be connected, never elaborated
