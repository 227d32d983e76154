"""AMD VCU118 (xcvu9p-flga2104-2L-e): PCIe Gen3 x16 edge, two QSFP28 cages; we use QSFP1.

The second board proves the board abstraction: another part and package, other pins for the
same functions (U200's AL9 is a PCIe TX lane, here it is the PCIe reference clock), a 125 MHz
board oscillator instead of 300 MHz, 1.8 V control I/O, a 156.25 MHz QSFP reference clock
from an Si570 the FPGA does not program (no frequency-select pins), dual-QSPI flash.

Sources:

- XBS: Xilinx/XilinxBoardStore@20bbb121:boards/Xilinx/vcu118/2.4/part0_pins.xml, board.xml
- MASTER: openhwgroup/cva6@f8692af1:fpga/constraints/vcu118.xdc (carries AMD's "VCU118 Rev2.0
  XDC 12/08/2017" master pin list below its own lines)
- COR: corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc (built and run on
  this board), and .../fpga/Makefile

The PCIe reference clock is AL9/AL8 (MGTREFCLK0_225), not AC9/AC8 (MGTREFCLK0_227): a x16 link
spans quads 224-227 and a reference clock reaches two quads up and down (UG949, "Single Quad
vs. Multi-Quad Interface"), which only quad 225 does; XBS's single ``pcie_refclk`` and COR use it.
"""
from __future__ import annotations

from amaranth.build import Attrs, Clock, DiffPairs, Pins, PinsN, Resource, Subsignal

from .platform import Board, Flash, Qsfp

__all__ = ["VCU118"]

XBS = "Xilinx/XilinxBoardStore@20bbb121:boards/Xilinx/vcu118/2.4/part0_pins.xml"
MASTER = "openhwgroup/cva6@f8692af1:fpga/constraints/vcu118.xdc"
COR = "corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc"

_LVCMOS12_OUT = Attrs(IOSTANDARD="LVCMOS12", SLEW="SLOW", DRIVE="8")
_LVCMOS18_OUT = Attrs(IOSTANDARD="LVCMOS18", SLEW="SLOW", DRIVE="8")


class VCU118(Board):
    name = "vcu118"
    title = "AMD VCU118 evaluation kit"
    device = "xcvu9p"
    package = "flga2104"
    speed = "2L-e"

    resources = [
        Resource("pcie_refclk", 0, DiffPairs("AL9", "AL8", dir="i"), Clock(100e6)),
        Resource("pcie_perst", 0, PinsN("AM17", dir="i"),
                 Attrs(IOSTANDARD="LVCMOS18", PULLUP="TRUE")),
        # lanes 0-7: quads 227 and 226 (GTYE4_CHANNEL_X1Y35..X1Y28)
        Resource("pcie_lanes", 0,
                 Subsignal("rx", DiffPairs("AA4 AB2 AC4 AD2 AE4 AF2 AG4 AH2",
                                           "AA3 AB1 AC3 AD1 AE3 AF1 AG3 AH1", dir="i")),
                 Subsignal("tx", DiffPairs("Y7 AB7 AD7 AF7 AH7 AK7 AM7 AN5",
                                           "Y6 AB6 AD6 AF6 AH6 AK6 AM6 AN4", dir="o"))),
        # lanes 8-15: quads 225 and 224 (X1Y27..X1Y20)
        Resource("pcie_lanes", 1,
                 Subsignal("rx", DiffPairs("AJ4 AK2 AM2 AP2 AT2 AV2 AY2 BB2",
                                           "AJ3 AK1 AM1 AP1 AT1 AV1 AY1 BB1", dir="i")),
                 Subsignal("tx", DiffPairs("AP7 AR5 AT7 AU5 AW5 BA5 BC5 BE5",
                                           "AP6 AR4 AT6 AU4 AW4 BA4 BC4 BE4", dir="o"))),
        Resource("sysclk", 0, DiffPairs("AY24", "AY23", dir="i"), Clock(125e6),
                 Attrs(IOSTANDARD="LVDS")),
        # MGTREFCLK0_231 from the Si570 (U38), 156.25 MHz at power-up
        Resource("qsfp_refclk", 0, DiffPairs("W9", "W8", dir="i"), Clock(156.25e6)),
        # QSFP1 lane 0: MGTY*0_231, GTYE4_CHANNEL_X1Y48
        Resource("qsfp_lane", 0,
                 Subsignal("rx", DiffPairs("Y2", "Y1", dir="i")),
                 Subsignal("tx", DiffPairs("V7", "V6", dir="o"))),
        Resource("qsfp_ctl", 0,
                 Subsignal("modsell", Pins("AM21", dir="o")),
                 Subsignal("resetl", Pins("BA22", dir="o")),
                 Subsignal("lpmode", Pins("AN21", dir="o")),
                 _LVCMOS18_OUT),
        Resource("led", 0, Pins("AT32", dir="o"), _LVCMOS12_OUT),
        Resource("led", 1, Pins("AV34", dir="o"), _LVCMOS12_OUT),
        Resource("led", 2, Pins("AY30", dir="o"), _LVCMOS12_OUT),
    ]

    sources = {
        "pcie_refclk": f"{XBS}:L189-190 pcie_mgt_clk; {MASTER}:L1881-1882 PCIE_CLK1 MGTREFCLK0_225; "
                       f"{COR}:L287-288, L293 -period 10",
        "pcie_perst": f"{XBS}:L192 pcie_perstn_rst LVCMOS18; {MASTER}:L706-707 PCIE_PERST_LS; {COR}:L289 (adds PULLUP)",
        "pcie_lanes": f"{XBS}:L314-377 pcie_rx0..15 / pcie_tx0..15; {COR}:L221-284 (GTYE4_CHANNEL sites)",
        "sysclk": f"{XBS}:L193-194 sysclk_125 LVDS; {COR}:L30-32 -period 8.000",
        "qsfp_refclk": f"{XBS}:L396-397 qsfp1_si570_clock, board.xml:L1726-1728 156250000; "
                       f"{MASTER}:L1945-1946 QSFP_SI570_CLOCK_C MGTREFCLK0_231; {COR}:L155-156, L168 -period 6.400",
        "qsfp_lane": f"{XBS}:L380-383 qsfp1_TX/RX 0; {MASTER}:L1947-1950; {COR}:L139-142 (GTYE4_CHANNEL_X1Y48)",
        "qsfp_ctl": f"{MASTER}:L791-792 QSFP1_MODSELL_LS, L843-844 QSFP1_RESETL_LS, L801-802 "
                    f"QSFP1_LPMODE_LS (LVCMOS18); {COR}:L161-162,165",
        "led": f"{XBS}:L35-37 GPIO_LED_0..2_LS LVCMOS12 DRIVE 8; {COR}:L44-46",
    }

    pcie_block = "X1Y2"          # XBS board.xml:L1035 block_location (every width)
    pcie_quad = "GTY_Quad_227"   # XBS preset.xml:L595 select_quad
    subsystem_vendor = 0x10EE
    subsystem = 0x9076           # alexforencich/verilog-pcie@25156a9a:example/VCU118/fpga/ip/pcie4_uscale_plus_0.tcl

    # bank 231 = Quad_X1Y12, lane 0 = X1Y48 (COR:L139 comment); the Si570 is not programmed
    qsfp = Qsfp(gt_group="Quad_X1Y12", lane_loc="X1Y48", refclk_select=None)

    bitstream = tuple((p, v, f"{COR}:L{line}") for p, v, line in (
        ("CFGBVS", "GND", 5),
        ("CONFIG_VOLTAGE", "1.8", 6),
        ("BITSTREAM.GENERAL.COMPRESS", "true", 7),
        ("BITSTREAM.CONFIG.EXTMASTERCCLK_EN", "{DIV-1}", 8),
        ("BITSTREAM.CONFIG.SPI_32BIT_ADDR", "YES", 9),
        ("BITSTREAM.CONFIG.SPI_BUSWIDTH", "8", 10),
        ("BITSTREAM.CONFIG.SPI_FALL_EDGE", "YES", 11),
        ("BITSTREAM.CONFIG.OVERTEMPSHUTDOWN", "Enable", 12),
    ))
    power_budget = None

    # Dual QSPI (x8): write_cfgmem writes a primary and a secondary image; ours starts at 0.
    flash = Flash(part="mt25qu01g-spi-x1_x2_x4_x8", size_mb=256, interface="SPIx8", address=0x0,
                  source="corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga/Makefile:L203,L234-247")
