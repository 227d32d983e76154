"""The AXI-Stream signature of the UltraScale+ adapters and the IP-named flat ports made from it."""
import pytest
from amaranth.hdl import Module, Shape
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from ringgate.hw.pcie.axis import RQ_SEQ_NUM, AxiStreamSignature, connect_flat, flat_members
from ringgate.hw.pcie.top import PcieTop
from ringgate.hw.pcie.usp import TUSER, UspCompleter, UspRequester


def members(component):
    """The ports of a component built only to read them (never elaborated: no warning)."""
    component._MustUse__silence = True
    return component.signature.members


def test_pcie_axis_signature_members():
    sig = AxiStreamSignature(256, 62)
    assert {n: (m.flow, Shape.cast(m.shape).width) for n, m in sig.members.items()} == {
        "tdata": (Out, 256), "tkeep": (Out, 8), "tlast": (Out, 1), "tuser": (Out, 62),
        "tvalid": (Out, 1), "tready": (In, 1)}
    assert sig == AxiStreamSignature(256, 62) and sig != AxiStreamSignature(512, 62)
    assert Shape.cast(AxiStreamSignature(64, 0, keep_width=8).members["tkeep"].shape).width == 8
    with pytest.raises(TypeError, match="multiple of 32"):
        AxiStreamSignature(100, 1)
    with pytest.raises(TypeError, match="user width"):
        AxiStreamSignature(256, -1)


def test_pcie_flat_members_take_the_port_directions():
    out = flat_members("s_axis_rq", Out(AxiStreamSignature(256, 62)))
    assert out["s_axis_rq_tdata"].flow is Out and out["s_axis_rq_tready"].flow is In
    inp = flat_members("m_axis_cq", In(AxiStreamSignature(256, 88)))
    assert inp["m_axis_cq_tdata"].flow is In and inp["m_axis_cq_tready"].flow is Out
    seq = flat_members("pcie_rq", In(RQ_SEQ_NUM))
    assert set(seq) == {"pcie_rq_seq_num0", "pcie_rq_seq_num_vld0", "pcie_rq_seq_num1", "pcie_rq_seq_num_vld1"}
    assert all(m.flow is In for m in seq.values())


@pytest.mark.parametrize("width", [256, 512])
def test_pcie_top_ports_are_the_adapters_signatures_flattened(width):
    """The top's IP-named ports are exactly the adapters' interfaces, flattened with the IP's
    prefixes (what cocotbext-axi binds by prefix and a board top connects by name)."""
    top = members(PcieTop(width, 64))
    adapters = {"s_axis_rq": members(UspRequester(width))["axis"],
                "pcie_rq": members(UspRequester(width))["seq"],
                "m_axis_cq": members(UspCompleter(width))["cq"],
                "s_axis_cc": members(UspCompleter(width))["cc"]}
    for prefix, member in adapters.items():
        for name, port in flat_members(prefix, member).items():
            assert top[name].flow is port.flow and Shape.cast(top[name].shape) == Shape.cast(port.shape), name
    assert Shape.cast(top["s_axis_rq_tuser"].shape).width == TUSER[width]["rq"]
    assert Shape.cast(top["m_axis_cq_tkeep"].shape).width == width // 32


class Edge(wiring.Component):
    """An inner AXI-Stream receiver behind flat ports, as in the top."""

    def __init__(self):
        self.sig = AxiStreamSignature(64, 4)
        super().__init__({**flat_members("m_axis", In(self.sig)), "seen": Out(64), "ready": In(1)})

    def elaborate(self, platform):
        m = Module()
        inner = self.sig.flip().create()
        connect_flat(m, self, "m_axis", inner)
        m.d.comb += inner.tready.eq(self.ready)
        with m.If(inner.tvalid & inner.tready):
            m.d.sync += self.seen.eq(inner.tdata)
        return m


def test_pcie_connect_flat_joins_both_directions():
    dut = Edge()

    async def bench(ctx):
        ctx.set(dut.m_axis_tdata, 0x1234)
        ctx.set(dut.m_axis_tvalid, 1)
        ctx.set(dut.ready, 1)
        assert ctx.get(dut.m_axis_tready) == 1
        await ctx.tick()
        assert ctx.get(dut.seen) == 0x1234
        ctx.set(dut.ready, 0)
        assert ctx.get(dut.m_axis_tready) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
