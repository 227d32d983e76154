"""The complete board tops without Vivado: yosys synth_xilinx -family xcup with the IPs (and the
ingress slot) as black boxes, the XDC checker against that netlist, Verilator lint; resource and
LUT-level budgets per clock domain; the reset and clock requirements of the top, read off the
mapped netlist. One configuration per board (U200 at 256 bits, VCU118 at 512 bits)."""
from __future__ import annotations

import pytest

from ringgate.hw.boards.netlist import ASYNC
from ringgate.hw.boards.xdc import check

from .conftest import checked, prepared

CONFIGS = [("au200", 256), ("vcu118", 512)]

# Budgets per clock domain (measured figures in docs/boards.md). sync: ring + DMA writer + BAR0
# + adapters (the ingress is a black box until it exists); mgmt: MMCM reset synchroniser and the
# bring-up sequencer; mac_rx: its reset synchroniser.
BUDGETS = {
    ("au200", 256): {"sync": dict(luts=3600, ffs=5300, bram18=29, lut_levels=6, carry_chain=16),
                     "mgmt": dict(luts=20, ffs=50, bram18=0, lut_levels=3, carry_chain=8),
                     "mac_rx": dict(luts=0, ffs=2, bram18=0, lut_levels=0, carry_chain=0)},
    ("vcu118", 512): {"sync": dict(luts=3850, ffs=5200, bram18=29, lut_levels=6, carry_chain=16),
                      "mgmt": dict(luts=20, ffs=50, bram18=0, lut_levels=3, carry_chain=8),
                      "mac_rx": dict(luts=0, ffs=2, bram18=0, lut_levels=0, carry_chain=0)},
}

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("board,width", CONFIGS)
def test_complete_top_passes_the_checks(board, width):
    r = checked(board, width)
    assert r.xdc_problems == [], "\n".join(r.xdc_problems)
    assert r.lint_problems == [], "\n".join(r.lint_problems)
    cells = r.synth.report.cells
    for bb in ("pcie4_uscale_plus_0", "xxv_ethernet_0", "ringgate_ingress", "IBUFDS_GTE4", "MMCME4_BASE"):
        assert cells[bb] == 1, bb


@pytest.mark.parametrize("board,width", CONFIGS)
def test_domain_budgets(board, width):
    figs = checked(board, width).synth.domains
    assert set(figs) == {"sync", "mgmt", "mac_rx"}, figs
    for domain, budget in BUDGETS[(board, width)].items():
        f = figs[domain]
        for what, limit in budget.items():
            value = getattr(f, what)
            if what == "bram18":
                assert value == limit, (domain, what, value)
            else:
                assert value <= limit, f"{board} {width} {domain}: {what} {value} > {limit}"


def _sources(net, cell, pin, domains=None):
    """(domain, source) of what reaches a pin through logic."""
    bits = [b for p, bs in net.pins(cell, "input") if p == pin for b in bs if isinstance(b, int)]
    domains = domains if domains is not None else net.domains({"clk": "sync"})
    return {net.source_domain(s, domains) for b in bits for s in net.fanin(b)} - {None}


@pytest.mark.parametrize("board,width", CONFIGS)
def test_reset_and_clock_requirements(board, width):
    net = checked(board, width).synth.net
    # PERST# reaches the hard block's sys_reset, from the pin and nothing else
    assert _sources(net, "pcie_ip", "sys_reset") == {(ASYNC, "input pcie_perst_0__io")}
    # the gateware's reset is user_reset: the synchroniser's PRE pins see only it, and user_reset
    # drives nothing but those pins
    for stage in ("pcie_rst_sync.stage0", "pcie_rst_sync.stage1"):
        assert _sources(net, stage, "PRE") == {(ASYNC, "pcie_ip.user_reset")}
    user_reset = next(b for b, (c, p) in net.driver.items() if (c, p) == ("pcie_ip", "user_reset"))
    assert {(c, p) for c, p in net.sinks[user_reset]} <= {("pcie_rst_sync.stage0", "PRE"),
                                                          ("pcie_rst_sync.stage1", "PRE")}
    # every register clocked by user_clk is reset (synchronously) from that synchroniser only
    domains = net.domains({"clk": "sync"})
    sync = [c for c, d in domains.items() if d == "sync" and net.is_ff(c)]
    assert len(sync) > 4000
    resets = set()
    for c in sync:
        for pin in ("R", "S"):
            resets |= _sources(net, c, pin, domains)
    assert resets and all(dom == "sync" for dom, _ in resets), resets
    assert ("sync", "FDPE pcie_rst_sync.stage1") in resets
    # reference clock buffer: O to sys_clk_gt, ODIV2 to sys_clk
    for out, pin in (("O", "sys_clk_gt"), ("ODIV2", "sys_clk")):
        bit = net.cells["pcie_refclk_buf"]["connections"][out][0]
        assert ("pcie_ip", pin) in net.sinks[bit]
    # the MAC's free-running DRP clock is the management clock; its reset a bring-up register
    assert net.driver[net.cells["mac_ip"]["connections"]["dclk"][0]] == ("mgmt_bufg", "O")
    mac_reset = net.driver[net.cells["mac_ip"]["connections"]["sys_reset"][0]]
    assert net.is_ff(mac_reset[0]) and "bringup/mac_reset_reg" in net.vivado_cell_names(mac_reset[0])


@pytest.mark.parametrize("drop,expect", [
    ("false_path_pre", "unconstrained crossing into ff_async pcie_rst_sync/stage"),
    ("pcie_perst_0__io}]", "board input pcie_perst_0__io has neither a false path from it nor an input delay"),
    ("set_false_path -to [get_ports {led_0__io}]", "unconstrained crossing into output led_0__io"),
    ("create_clock -period 10.000", "reference clock pcie_refclk_0__p has no create_clock"),
    ("PACKAGE_PIN BD21", "port pcie_perst_0__io has no PACKAGE_PIN"),
])
def test_checker_catches_a_broken_board_xdc(drop, expect):
    p = prepared("au200", 256)
    r = checked("au200", 256)
    text = "\n".join(line for line in p.xdc["au200.xdc"].splitlines() if drop not in line)
    problems = check([text], r.synth.net, clock_names=p.clock_names, reference_clocks=p.reference_clocks)
    assert any(expect in line for line in problems), problems
