"""IP configuration from our parameters, and the IP port tables against the gateware that
connects to them by name."""
from __future__ import annotations

import re

import pytest

from ringgate.contracts.pcie import MAX_PAYLOADS, PCI_IDENTITY, USER_CLOCK_HZ
from ringgate.contracts.regmap import BAR0_SIZE
from ringgate.hw.boards.ip import LINK_WIDTH, MacIp, PcieIp, blackbox_verilog, tcl_value
from ringgate.hw.boards.top import READY_COPIES
from ringgate.hw.pcie.top import PcieTop


def pcie(width=256, **kw):
    return PcieIp(width, block="X1Y2", quad="GTY_Quad_227", subsystem_vendor=0x10EE, subsystem=0x90C8, **kw)


@pytest.mark.parametrize("width", [256, 512])
def test_pcie_config_from_our_parameters(width):
    cfg = pcie(width).config()
    assert cfg["PL_LINK_CAP_MAX_LINK_WIDTH"] == f"X{LINK_WIDTH[width]}"
    assert cfg["PL_LINK_CAP_MAX_LINK_SPEED"] == "8.0_GT/s"
    assert cfg["axisten_if_width"] == f"{width}_bit"
    assert cfg["axisten_freq"] == USER_CLOCK_HZ // 1_000_000 == 250
    assert cfg["pf0_dev_cap_max_payload"] == f"{MAX_PAYLOADS[-1]}_bytes"
    assert (cfg["vendor_id"], cfg["PF0_DEVICE_ID"]) == (f"{PCI_IDENTITY.vendor:04x}", f"{PCI_IDENTITY.device:04x}")
    assert cfg["PF0_CLASS_CODE"] == f"{PCI_IDENTITY.class_code:06x}"
    assert cfg["PF0_Use_Class_Code_Lookup_Assistant"] is False
    assert BAR0_SIZE == 4096 and (cfg["pf0_bar0_scale"], cfg["pf0_bar0_size"]) == ("Kilobytes", 4)
    # registers with read side effects: never prefetchable
    assert cfg["pf0_bar0_prefetchable"] is False and cfg["pf0_bar0_64bit"] is False
    assert (cfg["pcie_blk_locn"], cfg["select_quad"]) == ("X1Y2", "GTY_Quad_227")
    assert ("AXISTEN_IF_EXT_512_RQ_STRADDLE" in cfg) == (width == 512)
    if width == 512:
        assert cfg["AXISTEN_IF_EXT_512_RQ_STRADDLE"] is False and cfg["AXISTEN_IF_EXT_512_CQ_STRADDLE"] is False


def test_pcie_tcl_sets_every_key():
    ip = pcie(512)
    tcl = ip.tcl("ip_gen")
    assert tcl.count("create_ip -name pcie4_uscale_plus -vendor xilinx.com -library ip "
                     "-module_name pcie4_uscale_plus_0 -dir ip_gen") == 1
    for key, value in ip.config().items():
        assert f"CONFIG.{key} {tcl_value(value)} \\" in tcl
    assert tcl.rstrip().endswith("] [get_ips pcie4_uscale_plus_0]")


@pytest.mark.parametrize("size,scale", [(128, ("Bytes", 128)), (1 << 16, ("Kilobytes", 64)),
                                        (1 << 20, ("Megabytes", 1)), (1 << 31, ("Gigabytes", 2))])
def test_bar0_scale(size, scale):
    assert pcie(bar0_bytes=size).bar0_scale() == scale


@pytest.mark.parametrize("bad", [dict(width=128), dict(bar0_bytes=3000), dict(bar0_bytes=64),
                                 dict(max_payload=2048)])
def test_pcie_config_refusals(bad):
    width = bad.pop("width", 256)
    with pytest.raises(ValueError):
        pcie(width, **bad)


def test_tcl_value():
    assert tcl_value(True) == "{true}" and tcl_value(False) == "{false}"
    assert tcl_value("8.0_GT/s") == "{8.0_GT/s}" and tcl_value(4) == "{4}"


@pytest.mark.parametrize("width", [256, 512])
def test_pcie_ports_match_the_gateware(width):
    """Every port of the PCIe top named after the IP exists there, with the IP's width and the
    opposite direction (the ready copies excepted: the gateware takes one of four)."""
    ip = {p.name: p for p in pcie(width).ports}
    top = PcieTop(width, 64)
    named = 0
    for path, member, value in top.signature.flatten(top):
        name = path[0]
        if not name.startswith(("s_axis_", "m_axis_", "pcie_", "cfg_")):
            continue
        assert name in ip, f"{name} looks like a PCIe IP port but the IP has none of that name"
        named += 1
        port = ip[name]
        assert port.dir == ("o" if member.flow.name == "In" else "i"), name
        if name in READY_COPIES:
            assert (len(value), port.width) == (1, 4)
        else:
            assert len(value) == port.width, name
    assert named >= 25
    assert ip["pci_exp_txp"].width == LINK_WIDTH[width] and ip["s_axis_rq_tdata"].width == width
    assert {p.name for p in ip.values() if p.dir == "i" and p.tie is None} >= {"sys_reset", "sys_clk", "sys_clk_gt"}


@pytest.mark.parametrize("rate,clock", [(10, 156_250_000), (25, 390_625_000)])
def test_mac_config(rate, clock):
    mac = MacIp(rate, refclk_hz=161.1328125e6, gt_group="Quad_X1Y12", lane_loc="X1Y48", drp_clk_hz=100e6)
    assert mac.user_clock_hz == clock
    cfg = mac.config()
    assert cfg["LINE_RATE"] == rate and cfg["GT_REF_CLK_FREQ"] == "161.1328125" and cfg["GT_DRP_CLK"] == "100.00"
    assert (cfg["GT_GROUP_SELECT"], cfg["LANE1_GT_LOC"]) == ("Quad_X1Y12", "X1Y48")
    assert cfg["INCLUDE_AXI4_INTERFACE"] == 0 and cfg["GT_LOCATION"] == 1
    assert "create_ip -name xxv_ethernet" in mac.tcl()
    rx = {p.name: p for p in mac.ports if p.name.startswith("rx_axis_")}
    assert {n: p.width for n, p in rx.items()} == {"rx_axis_tvalid_0": 1, "rx_axis_tdata_0": 64, "rx_axis_tlast_0": 1,
                                                   "rx_axis_tkeep_0": 8, "rx_axis_tuser_0": 1}
    assert "rx_axis_tready_0" not in {p.name for p in mac.ports}        # the wire cannot wait


def test_mac_refuses_other_rates():
    with pytest.raises(ValueError, match="10 or 25"):
        MacIp(40, refclk_hz=156.25e6, gt_group="Quad_X1Y12", lane_loc="X1Y48", drp_clk_hz=100e6)


def test_blackbox_verilog():
    text = blackbox_verilog("pcie4_uscale_plus_0", pcie(256).ports)
    assert text.startswith("(* blackbox *)\nmodule pcie4_uscale_plus_0(")
    assert "  output wire [7:0] pci_exp_txp;" in text and "  input wire sys_reset;" in text
    assert "  input wire [61:0] s_axis_rq_tuser;" in text
    assert len(re.findall(r"^  (input|output) ", text, re.M)) == len(pcie(256).ports)
