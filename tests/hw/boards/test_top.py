# amaranth: UnusedElaboratable=no
"""The board top: bring-up sequence (amaranth.sim, exact cycles), IP instances refused when
miswired, and what the elaborated tops of both boards and widths contain."""
from __future__ import annotations

import re

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from ringgate.contracts.entry import ENTRY
from ringgate.hw.boards import BOARDS
from ringgate.hw.boards.ip import Port
from ringgate.hw.boards.top import MAC_RX, BoardDesign, BringUp, connect_ip

from .conftest import prepared


def test_bringup_sequence_cycle_exact():
    dut = BringUp(hold=5, heartbeat_bit=2)
    trace = []

    async def bench(ctx):
        for _ in range(16):
            await ctx.tick("mgmt")
            trace.append((ctx.get(dut.refclk_reset), ctx.get(dut.qsfp_resetl), ctx.get(dut.mac_reset),
                          ctx.get(dut.heartbeat)))

    sim = Simulator(dut)
    sim.add_clock(1e-8, domain="mgmt")
    sim.add_testbench(bench)
    sim.run()
    # registered outputs: the first phase lasts `hold` cycles after the first edge, then the
    # clock generator and the module come out of reset, `hold` cycles later the MAC
    refclk = [t[0] for t in trace]
    resetl = [t[1] for t in trace]
    mac = [t[2] for t in trace]
    assert refclk == [1] * 5 + [0] * 11
    assert resetl == [0] * 5 + [1] * 11
    assert mac == [1] * 10 + [0] * 6
    beat = [t[3] for t in trace]
    assert beat == [0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0]   # toggles every 2**2 cycles


def test_bringup_outputs_start_in_reset():
    """Before the management clock runs (MMCM not locked) the pins are already safe."""
    dut = BringUp(hold=3)
    assert (dut.refclk_reset.init, dut.qsfp_resetl.init, dut.mac_reset.init) == (1, 0, 1)
    with pytest.raises(ValueError, match="at least one cycle"):
        BringUp(hold=0)


PORTS = (Port("a", "i", 4, "x"), Port("b", "i", 1, "x", tie=1), Port("c", "o", 2, "x"))


def test_connect_ip_ties_and_connects():
    inst = connect_ip("ip", PORTS, drive={"a": Signal(4)}, used_outputs={"c": Signal(2)})
    assert set(inst.ports) >= {"a", "b", "c"}


@pytest.mark.parametrize("drive,outputs,message", [
    ({"a": Signal(4), "zz": Signal()}, {}, "has no port 'zz'"),
    ({"a": Signal(3)}, {}, "ip.a is 4 bits, driven by 3"),
    ({}, {}, "ip.a is an input with no driver and no tie-off"),
    ({"a": Signal(4)}, {"c": Signal(3)}, "ip.c is 2 bits, connected to 3"),
])
def test_connect_ip_refuses_miswiring(drive, outputs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        connect_ip("ip", PORTS, drive=drive, used_outputs=outputs)


@pytest.mark.parametrize("board,width", [("au200", 256), ("vcu118", 512)])
def test_elaborated_top(board, width):
    p = prepared(board, width)
    v = p.verilog
    lanes = width // 32
    assert re.search(rf"output \[{lanes // 2 - 1 if lanes == 16 else 7}:0\] pcie_lanes_0__tx__p;", v)
    assert ("pcie_lanes_1__tx__p" in v) == (width == 512)
    body = re.search(r"pcie4_uscale_plus_0 pcie_ip \((.*?)\);", v, re.S).group(1)
    assert re.search(r"\.sys_clk\(pcie_sys_clk\)", body) and re.search(r"\.sys_clk_gt\(pcie_sys_clk_gt\)", body)
    assert re.search(r"\.user_clk\(clk\)", body)
    buf = re.search(r"IBUFDS_GTE4 #\((.*?)\) pcie_refclk_buf \((.*?)\);", v, re.S)
    assert "REFCLK_HROW_CK_SEL(32'd0)" in buf.group(1)
    assert ".O(pcie_sys_clk_gt)" in buf.group(2) and ".ODIV2(pcie_sys_clk)" in buf.group(2)
    mac = re.search(r"xxv_ethernet_0 mac_ip \((.*?)\);", v, re.S).group(1)
    assert ".dclk(mgmt_clk)" in mac and ".rx_core_clk_0(mac_rx_clk)" in mac and ".rx_clk_out_0(mac_rx_clk)" in mac
    assert ("qsfp_ctl_0__fs__io" in v) == (board == "au200")
    mmcm = re.search(r"MMCME4_BASE #\((.*?)\) mgmt_mmcm", v, re.S).group(1)
    assert ("3.333" if board == "au200" else "8.0") in mmcm


def test_top_refuses_another_board():
    from ringgate.app.build import prepare
    top = BoardDesign(BOARDS["au200"]).top()
    top.core._MustUse__silence = True           # never elaborated: refused first
    with pytest.raises(TypeError, match="built for AU200, not VCU118"):
        BOARDS["vcu118"]().prepare(top, name="x")
    with pytest.raises(ValueError, match="256 or 512"):
        prepare(BoardDesign(BOARDS["au200"], width=128))


class CountingIngress(wiring.Component):
    """A stand-in ingress: one entry per good frame, its CDC through a register-only handshake
    (enough to see the slot connect both sides)."""

    def __init__(self):
        super().__init__({"mac": In(MAC_RX), "o": Out(stream.Signature(ENTRY.layout()))})

    def elaborate(self, platform):
        m = Module()
        frames = Signal(32)
        with m.If(self.mac.tvalid & self.mac.tlast & ~self.mac.tuser):
            m.d.mac_rx += frames.eq(frames + 1)
        m.d.sync += self.o.valid.eq(frames[0])
        return m


def test_ingress_slot_connects_both_domains():
    from ringgate.app.build import prepare
    p = prepare(BoardDesign(BOARDS["au200"], ingress=CountingIngress))
    ingress = re.search(r"\\ringgate_au200\.ingress\s+ingress \((.*?)\);", p.verilog, re.S).group(1)
    mac = re.search(r"xxv_ethernet_0 mac_ip \((.*?)\);", p.verilog, re.S).group(1)
    conn = lambda body, port: re.search(rf"\.{port}\((\w+)\)", body).group(1)      # noqa: E731
    for ip_port, ingress_port in (("rx_axis_tvalid_0", "mac__tvalid"), ("rx_axis_tlast_0", "mac__tlast"),
                                  ("rx_axis_tuser_0", "mac__tuser"), ("rx_clk_out_0", "mac_rx_clk")):
        assert conn(mac, ip_port) == conn(ingress, ingress_port), ip_port
    assert conn(ingress, "clk") == "clk"                      # the PCIe user clock
    core = re.search(r"\\ringgate_au200\.core\s+core \((.*?)\);", p.verilog, re.S).group(1)
    assert conn(core, "i__valid") == conn(ingress, "o__valid")


@pytest.mark.parametrize("kw,message", [(dict(width=128), "256 or 512"), (dict(ring_depth=1000), "power of two"),
                                        (dict(ring_depth=8), "power of two"), (dict(line_rate=40), "10 or 25")])
def test_design_refuses_bad_parameters_before_elaborating(kw, message):
    with pytest.raises(ValueError, match=message):
        BoardDesign(BOARDS["au200"], **kw)
