"""The board definitions: every function the top needs, pins cited, pins checked against a
second transcription of the published sources, and two boards that really differ."""
from __future__ import annotations

import re

import pytest

from ringgate.hw.boards import BOARDS
from ringgate.hw.boards.platform import RESOURCE_NAMES, VCO_HZ, mmcm_params

# A second transcription of the PCIe lanes (rx_p, tx_p per lane 0..15) from the Corundum XDCs'
# GTYE4_CHANNEL comments (corundum/corundum@1ca0151b: fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc
# L198-261, fpga/mqnic/VCU118/fpga_25g/fpga.xdc L221-284), independent of the board modules.
LANES = {
    "au200": ("AF2 AG4 AH2 AJ4 AK2 AL4 AM2 AN4 AP2 AR4 AT2 AU4 AV2 AW4 BA2 BC2",
              "AF7 AG9 AH7 AJ9 AK7 AL9 AM7 AN9 AP7 AR9 AT7 AU9 AV7 BB5 BD5 BF5"),
    "vcu118": ("AA4 AB2 AC4 AD2 AE4 AF2 AG4 AH2 AJ4 AK2 AM2 AP2 AT2 AV2 AY2 BB2",
               "Y7 AB7 AD7 AF7 AH7 AK7 AM7 AN5 AP7 AR5 AT7 AU5 AW5 BA5 BC5 BE5"),
}
FACTS = {   # (PCIe refclk p, PERST#, sysclk p @ MHz, QSFP refclk p @ MHz, QSFP lane 0 rx p, part)
    "au200": ("AM11", "BD21", ("AY37", 300), ("K11", 161.1328125), "N4", "xcu200-fsgd2104-2-e"),
    "vcu118": ("AL9", "AM17", ("AY24", 125), ("W9", 156.25), "Y2", "xcvu9p-flga2104-2L-e"),
}
CITATION = re.compile(r"[\w.-]+/[\w.-]+@[0-9a-f]{7,40}:[\w./-]+:L\d+")


def pins(platform, name, number=0, sub=None, pol="p"):
    r = platform.lookup(name, number)
    ios = r.ios
    if sub:
        ios = next(s for s in ios if s.name == sub).ios
    io = ios[0]
    return getattr(io, pol).names if hasattr(io, "p") else io.names


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_board_has_every_resource_cited(board):
    b = BOARDS[board]()
    names = {name for name, _ in b.resources}
    assert names == set(RESOURCE_NAMES)
    assert {n for name, n in b.resources if name == "led"} == {0, 1, 2}
    assert set(b.sources) == set(RESOURCE_NAMES)
    for name, cite in b.sources.items():
        assert CITATION.search(cite), f"{board} {name}: no repository@commit:path:line in {cite!r}"
    for prop, value, src in b.bitstream:
        assert CITATION.search(src), (prop, src)
    assert CITATION.search(b.flash.source), b.flash.source


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_pins_match_a_second_transcription(board):
    b = BOARDS[board]()
    rx = pins(b, "pcie_lanes", 0, "rx") + pins(b, "pcie_lanes", 1, "rx")
    tx = pins(b, "pcie_lanes", 0, "tx") + pins(b, "pcie_lanes", 1, "tx")
    assert rx == LANES[board][0].split() and tx == LANES[board][1].split()
    refclk, perst, (sysclk, sys_mhz), (qsfp, qsfp_mhz), lane_rx, part = FACTS[board]
    assert pins(b, "pcie_refclk") == [refclk] and pins(b, "pcie_perst") == [perst]
    assert pins(b, "sysclk") == [sysclk] and b.clock_hz("sysclk") == sys_mhz * 1e6
    assert pins(b, "qsfp_refclk") == [qsfp] and b.clock_hz("qsfp_refclk") == qsfp_mhz * 1e6
    assert b.clock_hz("pcie_refclk") == 100e6
    assert pins(b, "qsfp_lane", 0, "rx") == [lane_rx]
    assert b.part == part


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_no_pin_is_used_twice(board):
    b = BOARDS[board]()
    seen = {}
    for (name, number), r in b.resources.items():
        for io in _leaves(r.ios):
            for pin in (io.p.names + io.n.names) if hasattr(io, "p") else io.names:
                assert pin not in seen, f"{pin}: {seen[pin]} and {name} {number}"
                seen[pin] = (name, number)


def _leaves(ios):
    for io in ios:
        if hasattr(io, "ios"):
            yield from _leaves(io.ios)
        elif hasattr(io, "names") or hasattr(io, "p"):
            yield io


def test_the_two_boards_differ_where_boards_differ():
    """Same functions, other pins, clocks, voltages and clock-generator control."""
    u, v = BOARDS["au200"](), BOARDS["vcu118"]()
    for name, sub in (("pcie_refclk", None), ("pcie_perst", None), ("sysclk", None), ("qsfp_refclk", None)):
        assert pins(u, name, 0, sub) != pins(v, name, 0, sub), name
    assert pins(u, "pcie_lanes", 0, "tx")[5] == "AL9" == pins(v, "pcie_refclk")[0]   # same ball, other job
    assert u.qsfp.refclk_select == 0b10 and v.qsfp.refclk_select is None
    assert {s.name for s in u.lookup("qsfp_ctl", 0).ios} > {s.name for s in v.lookup("qsfp_ctl", 0).ios}
    assert u.lookup("pcie_perst", 0).attrs["IOSTANDARD"] == "LVCMOS12"
    assert v.lookup("pcie_perst", 0).attrs["IOSTANDARD"] == "LVCMOS18"
    assert (u.flash.interface, v.flash.interface) == ("SPIx4", "SPIx8")


@pytest.mark.parametrize("f_in,f_out", [(300e6, 100e6), (125e6, 100e6), (156.25e6, 100e6), (100e6, 250e6)])
def test_mmcm_params_are_exact_and_in_range(f_in, f_out):
    p = mmcm_params(f_in, f_out)
    vco = f_in / p["DIVCLK_DIVIDE"] * p["CLKFBOUT_MULT_F"]
    assert VCO_HZ[0] <= vco <= VCO_HZ[1] and p["vco_hz"] == vco
    assert vco / p["CLKOUT0_DIVIDE_F"] == pytest.approx(f_out, abs=1e-3)
    assert p["CLKIN1_PERIOD"] == round(1e9 / f_in, 3)


def test_mmcm_params_refuse_what_integer_dividers_cannot_make():
    with pytest.raises(ValueError, match="no integer MMCM setting"):
        mmcm_params(300e6, 99.999e6)
