"""AMD Alveo U200 (xcu200-fsgd2104-2-e): PCIe Gen3 x16 edge, two QSFP28 cages; we use cage 0.

Sources (every pin below was checked against at least two of them; the XDC cites each):

- XBS: Xilinx/XilinxBoardStore@5052c448:boards/Xilinx/au200/1.3/part0_pins.xml (the board
  file AMD published for this card; the last commit before the U200 files were removed)
- COR: corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc (built and run on
  this card), and .../rtl/fpga_au200.v, .../fpga_AU200/Makefile
- UG1289: Alveo U200 and U250 Data Center Accelerator Cards User Guide, "Miscellaneous I/O"
"""
from __future__ import annotations

from amaranth.build import Attrs, Clock, DiffPairs, Pins, PinsN, Resource, Subsignal

from .platform import Board, Flash, Qsfp

__all__ = ["AU200"]

XBS = "Xilinx/XilinxBoardStore@5052c448:boards/Xilinx/au200/1.3/part0_pins.xml"
COR = "corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc"

_LVCMOS12_OUT = Attrs(IOSTANDARD="LVCMOS12", SLEW="SLOW", DRIVE="8")


class AU200(Board):
    name = "au200"
    title = "AMD Alveo U200"
    device = "xcu200"
    package = "fsgd2104"
    speed = "2-e"

    resources = [
        # MGTREFCLK0_226, 100 MHz from the edge connector
        Resource("pcie_refclk", 0, DiffPairs("AM11", "AM10", dir="i"), Clock(100e6)),
        Resource("pcie_perst", 0, PinsN("BD21", dir="i"),
                 Attrs(IOSTANDARD="LVCMOS12", PULLUP="TRUE")),
        # lanes 0-7: quads 227 (lanes 0-3, GTYE4_CHANNEL_X1Y35..X1Y32) and 226 (X1Y31..X1Y28)
        Resource("pcie_lanes", 0,
                 Subsignal("rx", DiffPairs("AF2 AG4 AH2 AJ4 AK2 AL4 AM2 AN4",
                                           "AF1 AG3 AH1 AJ3 AK1 AL3 AM1 AN3", dir="i")),
                 Subsignal("tx", DiffPairs("AF7 AG9 AH7 AJ9 AK7 AL9 AM7 AN9",
                                           "AF6 AG8 AH6 AJ8 AK6 AL8 AM6 AN8", dir="o"))),
        # lanes 8-15: quads 225 (X1Y27..X1Y24) and 224 (X1Y23..X1Y20)
        Resource("pcie_lanes", 1,
                 Subsignal("rx", DiffPairs("AP2 AR4 AT2 AU4 AV2 AW4 BA2 BC2",
                                           "AP1 AR3 AT1 AU3 AV1 AW3 BA1 BC1", dir="i")),
                 Subsignal("tx", DiffPairs("AP7 AR9 AT7 AU9 AV7 BB5 BD5 BF5",
                                           "AP6 AR8 AT6 AU8 AV6 BB4 BD4 BF4", dir="o"))),
        # 300 MHz oscillator of DDR4 channel 0
        Resource("sysclk", 0, DiffPairs("AY37", "AY38", dir="i"), Clock(300e6),
                 Attrs(IOSTANDARD="LVDS", DQS_BIAS="TRUE")),
        # MGTREFCLK1_231 from the SI5335 (U9), 161.1328125 MHz with FS = 0b10
        Resource("qsfp_refclk", 0, DiffPairs("K11", "K10", dir="i"), Clock(161.1328125e6)),
        # QSFP0 lane 0: MGTY*0_231, GTYE4_CHANNEL_X1Y48
        Resource("qsfp_lane", 0,
                 Subsignal("rx", DiffPairs("N4", "N3", dir="i")),
                 Subsignal("tx", DiffPairs("N9", "N8", dir="o"))),
        Resource("qsfp_ctl", 0,
                 Subsignal("modsell", Pins("BE16", dir="o")),
                 Subsignal("resetl", Pins("BE17", dir="o")),
                 Subsignal("lpmode", Pins("BD18", dir="o")),
                 Subsignal("fs", Pins("AT20 AU22", dir="o")),
                 Subsignal("refclk_reset", Pins("AT22", dir="o")),
                 _LVCMOS12_OUT),
        Resource("led", 0, Pins("BC21", dir="o"), _LVCMOS12_OUT),
        Resource("led", 1, Pins("BB21", dir="o"), _LVCMOS12_OUT),
        Resource("led", 2, Pins("BA20", dir="o"), _LVCMOS12_OUT),
    ]

    sources = {
        "pcie_refclk": f"{XBS}:L679-680 pcie_mgt_clk; {COR}:L262-263 (MGTREFCLK0_226), L267 -period 10",
        "pcie_perst": f"{XBS}:L747 pcie_perstn_rst LVCMOS12; UG1289 Misc I/O PCIE_PERST_LS BD21; "
                      f"{COR}:L264 (adds PULLUP)",
        "pcie_lanes": f"{XBS}:L682-745 pcie_rx0..15 / pcie_tx0..15; {COR}:L198-261 (GTYE4_CHANNEL sites)",
        "sysclk": f"{XBS}:L19-20 default_300mhz_clk0 LVDS DQS_BIAS; {COR}:L23-25 -period 3.333",
        "qsfp_refclk": f"{XBS}:L768-769 qsfp0_161mhz; {COR}:L119-120 (from U9), L137 -period 6.206",
        "qsfp_lane": f"{XBS}:L750-753 qsfp0_TX/RX 0; {COR}:L101-104 (GTYE4_CHANNEL_X1Y48)",
        "qsfp_ctl": f"{XBS}:L793-795 qsfp0_lowspeed_0..2 (BD18 BE17 BE16); UG1289 Misc I/O QSFP0 "
                    f"MODSELL/RESETL/LPMODE; {COR}:L121-122,125 (names), L126-128 refclk_reset AT22, fs AT20 AU22",
        "led": f"{XBS}:L36-38 GPIO_LED_0..2_LS LVCMOS12 DRIVE 8; {COR}:L56-58",
    }

    pcie_block = "X1Y2"
    pcie_quad = "GTY_Quad_227"
    # Xilinx/XilinxBoardStore@5052c448:boards/Xilinx/au200/1.3/preset.xml (block_location X1Y2,
    # select_quad GTY_Quad_227 for x1..x16)
    subsystem_vendor = 0x10EE
    subsystem = 0x90C8          # corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/ip/pcie4_uscale_plus_0.tcl

    # Quad_X1Y12 = bank 231, lane X1Y48 (Xilinx/Vitis-Tutorials@26f42dee:.../gen_ip_x1.tcl, U200);
    # FS = 0b10 selects 161.1328125 MHz on the SI5335 (corundum .../rtl/fpga_au200.v:L1153)
    qsfp = Qsfp(gt_group="Quad_X1Y12", lane_loc="X1Y48", refclk_select=0b10)

    bitstream = tuple((p, v, f"{COR}:L{line}") for p, v, line in (
        ("CFGBVS", "GND", 7),
        ("CONFIG_VOLTAGE", "1.8", 8),
        ("BITSTREAM.GENERAL.COMPRESS", "true", 9),
        ("BITSTREAM.CONFIG.CONFIGFALLBACK", "ENABLE", 10),
        ("BITSTREAM.CONFIG.EXTMASTERCCLK_EN", "DISABLE", 11),
        ("BITSTREAM.CONFIG.CONFIGRATE", "63.8", 12),
        ("BITSTREAM.CONFIG.SPI_32BIT_ADDR", "YES", 13),
        ("BITSTREAM.CONFIG.SPI_BUSWIDTH", "4", 14),
        ("BITSTREAM.CONFIG.SPI_FALL_EDGE", "YES", 15),
        ("BITSTREAM.CONFIG.UNUSEDPIN", "PULLUP", 16),
        ("BITSTREAM.CONFIG.OVERTEMPSHUTDOWN", "Enable", 17),
    ))
    power_budget = 160          # COR:L19; open-nic-shell constr/au200/general.xdc:L28

    # The card's flash holds a write-protected golden image; a user image goes at 0x01002000
    # (Xilinx AR 71915), as corundum's flash target writes it.
    flash = Flash(part="mt25qu01g-spi-x1_x2_x4", size_mb=128, interface="SPIx4", address=0x01002000,
                  source="corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_AU200/Makefile:L175,L193")
