# AMD Alveo U200 (xcu200-fsgd2104-2-e): ringgate board constraints
# Written by ringgate.hw.boards.xdc from the board definition ringgate.hw.boards.au200:
# edit that, then `ringgate constraints` (a test fails while this file differs from it).
# Port names are the top's (Amaranth: <resource>_<number>__<subsignal>__<p|n|io>).

# Configuration and bitstream
set_property CFGBVS GND [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L7
set_property CONFIG_VOLTAGE 1.8 [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L8
set_property BITSTREAM.GENERAL.COMPRESS true [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L9
set_property BITSTREAM.CONFIG.CONFIGFALLBACK ENABLE [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L10
set_property BITSTREAM.CONFIG.EXTMASTERCCLK_EN DISABLE [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L11
set_property BITSTREAM.CONFIG.CONFIGRATE 63.8 [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L12
set_property BITSTREAM.CONFIG.SPI_32BIT_ADDR YES [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L13
set_property BITSTREAM.CONFIG.SPI_BUSWIDTH 4 [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L14
set_property BITSTREAM.CONFIG.SPI_FALL_EDGE YES [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L15
set_property BITSTREAM.CONFIG.UNUSEDPIN PULLUP [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L16
set_property BITSTREAM.CONFIG.OVERTEMPSHUTDOWN Enable [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L17
set_operating_conditions -design_power_budget 160

# pcie_refclk 0: Xilinx/XilinxBoardStore@5052c448:boards/Xilinx/au200/1.3/part0_pins.xml:L679-680 pcie_mgt_clk; corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L262-263 (MGTREFCLK0_226), L267 -period 10
set_property -dict {PACKAGE_PIN AM11} [get_ports {pcie_refclk_0__p}]
set_property -dict {PACKAGE_PIN AM10} [get_ports {pcie_refclk_0__n}]
create_clock -period 10.000 -name pcie_refclk [get_ports {pcie_refclk_0__p}]

# pcie_perst 0: Xilinx/XilinxBoardStore@5052c448:boards/Xilinx/au200/1.3/part0_pins.xml:L747 pcie_perstn_rst LVCMOS12; UG1289 Misc I/O PCIE_PERST_LS BD21; corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L264 (adds PULLUP)
set_property -dict {PACKAGE_PIN BD21 IOSTANDARD LVCMOS12 PULLUP TRUE} [get_ports {pcie_perst_0__io}]

# pcie_lanes 0: Xilinx/XilinxBoardStore@5052c448:boards/Xilinx/au200/1.3/part0_pins.xml:L682-745 pcie_rx0..15 / pcie_tx0..15; corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L198-261 (GTYE4_CHANNEL sites)
set_property -dict {PACKAGE_PIN AF6} [get_ports {pcie_lanes_0__tx__n[0]}]
set_property -dict {PACKAGE_PIN AF7} [get_ports {pcie_lanes_0__tx__p[0]}]
set_property -dict {PACKAGE_PIN AF1} [get_ports {pcie_lanes_0__rx__n[0]}]
set_property -dict {PACKAGE_PIN AF2} [get_ports {pcie_lanes_0__rx__p[0]}]
set_property -dict {PACKAGE_PIN AG8} [get_ports {pcie_lanes_0__tx__n[1]}]
set_property -dict {PACKAGE_PIN AG9} [get_ports {pcie_lanes_0__tx__p[1]}]
set_property -dict {PACKAGE_PIN AG3} [get_ports {pcie_lanes_0__rx__n[1]}]
set_property -dict {PACKAGE_PIN AG4} [get_ports {pcie_lanes_0__rx__p[1]}]
set_property -dict {PACKAGE_PIN AH6} [get_ports {pcie_lanes_0__tx__n[2]}]
set_property -dict {PACKAGE_PIN AH7} [get_ports {pcie_lanes_0__tx__p[2]}]
set_property -dict {PACKAGE_PIN AH1} [get_ports {pcie_lanes_0__rx__n[2]}]
set_property -dict {PACKAGE_PIN AH2} [get_ports {pcie_lanes_0__rx__p[2]}]
set_property -dict {PACKAGE_PIN AJ8} [get_ports {pcie_lanes_0__tx__n[3]}]
set_property -dict {PACKAGE_PIN AJ9} [get_ports {pcie_lanes_0__tx__p[3]}]
set_property -dict {PACKAGE_PIN AJ3} [get_ports {pcie_lanes_0__rx__n[3]}]
set_property -dict {PACKAGE_PIN AJ4} [get_ports {pcie_lanes_0__rx__p[3]}]
set_property -dict {PACKAGE_PIN AK6} [get_ports {pcie_lanes_0__tx__n[4]}]
set_property -dict {PACKAGE_PIN AK7} [get_ports {pcie_lanes_0__tx__p[4]}]
set_property -dict {PACKAGE_PIN AK1} [get_ports {pcie_lanes_0__rx__n[4]}]
set_property -dict {PACKAGE_PIN AK2} [get_ports {pcie_lanes_0__rx__p[4]}]
set_property -dict {PACKAGE_PIN AL8} [get_ports {pcie_lanes_0__tx__n[5]}]
set_property -dict {PACKAGE_PIN AL9} [get_ports {pcie_lanes_0__tx__p[5]}]
set_property -dict {PACKAGE_PIN AL3} [get_ports {pcie_lanes_0__rx__n[5]}]
set_property -dict {PACKAGE_PIN AL4} [get_ports {pcie_lanes_0__rx__p[5]}]
set_property -dict {PACKAGE_PIN AM6} [get_ports {pcie_lanes_0__tx__n[6]}]
set_property -dict {PACKAGE_PIN AM7} [get_ports {pcie_lanes_0__tx__p[6]}]
set_property -dict {PACKAGE_PIN AM1} [get_ports {pcie_lanes_0__rx__n[6]}]
set_property -dict {PACKAGE_PIN AM2} [get_ports {pcie_lanes_0__rx__p[6]}]
set_property -dict {PACKAGE_PIN AN8} [get_ports {pcie_lanes_0__tx__n[7]}]
set_property -dict {PACKAGE_PIN AN9} [get_ports {pcie_lanes_0__tx__p[7]}]
set_property -dict {PACKAGE_PIN AN3} [get_ports {pcie_lanes_0__rx__n[7]}]
set_property -dict {PACKAGE_PIN AN4} [get_ports {pcie_lanes_0__rx__p[7]}]

# sysclk 0: Xilinx/XilinxBoardStore@5052c448:boards/Xilinx/au200/1.3/part0_pins.xml:L19-20 default_300mhz_clk0 LVDS DQS_BIAS; corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L23-25 -period 3.333
set_property -dict {PACKAGE_PIN AY37 IOSTANDARD LVDS DQS_BIAS TRUE} [get_ports {sysclk_0__p}]
set_property -dict {PACKAGE_PIN AY38 IOSTANDARD LVDS DQS_BIAS TRUE} [get_ports {sysclk_0__n}]
create_clock -period 3.333 -name sysclk [get_ports {sysclk_0__p}]

# qsfp_refclk 0: Xilinx/XilinxBoardStore@5052c448:boards/Xilinx/au200/1.3/part0_pins.xml:L768-769 qsfp0_161mhz; corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L119-120 (from U9), L137 -period 6.206
set_property -dict {PACKAGE_PIN K11} [get_ports {qsfp_refclk_0__p}]
set_property -dict {PACKAGE_PIN K10} [get_ports {qsfp_refclk_0__n}]
create_clock -period 6.206 -name qsfp_refclk [get_ports {qsfp_refclk_0__p}]

# qsfp_lane 0: Xilinx/XilinxBoardStore@5052c448:boards/Xilinx/au200/1.3/part0_pins.xml:L750-753 qsfp0_TX/RX 0; corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L101-104 (GTYE4_CHANNEL_X1Y48)
set_property -dict {PACKAGE_PIN N9} [get_ports {qsfp_lane_0__tx__p}]
set_property -dict {PACKAGE_PIN N8} [get_ports {qsfp_lane_0__tx__n}]
set_property -dict {PACKAGE_PIN N4} [get_ports {qsfp_lane_0__rx__p}]
set_property -dict {PACKAGE_PIN N3} [get_ports {qsfp_lane_0__rx__n}]

# qsfp_ctl 0: Xilinx/XilinxBoardStore@5052c448:boards/Xilinx/au200/1.3/part0_pins.xml:L793-795 qsfp0_lowspeed_0..2 (BD18 BE17 BE16); UG1289 Misc I/O QSFP0 MODSELL/RESETL/LPMODE; corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L121-122,125 (names), L126-128 refclk_reset AT22, fs AT20 AU22
set_property -dict {PACKAGE_PIN BE16 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {qsfp_ctl_0__modsell__io}]
set_property -dict {PACKAGE_PIN BD18 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {qsfp_ctl_0__lpmode__io}]
set_property -dict {PACKAGE_PIN BE17 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {qsfp_ctl_0__resetl__io}]
set_property -dict {PACKAGE_PIN AT20 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {qsfp_ctl_0__fs__io[0]}]
set_property -dict {PACKAGE_PIN AT22 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {qsfp_ctl_0__refclk_reset__io}]
set_property -dict {PACKAGE_PIN AU22 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {qsfp_ctl_0__fs__io[1]}]

# led 0: Xilinx/XilinxBoardStore@5052c448:boards/Xilinx/au200/1.3/part0_pins.xml:L36-38 GPIO_LED_0..2_LS LVCMOS12 DRIVE 8; corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L56-58
set_property -dict {PACKAGE_PIN BC21 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led_0__io}]

# led 1: Xilinx/XilinxBoardStore@5052c448:boards/Xilinx/au200/1.3/part0_pins.xml:L36-38 GPIO_LED_0..2_LS LVCMOS12 DRIVE 8; corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L56-58
set_property -dict {PACKAGE_PIN BB21 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led_1__io}]

# led 2: Xilinx/XilinxBoardStore@5052c448:boards/Xilinx/au200/1.3/part0_pins.xml:L36-38 GPIO_LED_0..2_LS LVCMOS12 DRIVE 8; corundum/corundum@1ca0151b:fpga/mqnic/Alveo/fpga_25g/fpga_au200.xdc:L56-58
set_property -dict {PACKAGE_PIN BA20 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led_2__io}]

# Board I/O is asynchronous to every clock of the design (resets, status, LEDs)
set_input_delay 0 [get_ports {pcie_perst_0__io}]
set_false_path -from [get_ports {pcie_perst_0__io}]
set_output_delay 0 [get_ports {qsfp_ctl_0__modsell__io}]
set_false_path -to [get_ports {qsfp_ctl_0__modsell__io}]
set_output_delay 0 [get_ports {qsfp_ctl_0__lpmode__io}]
set_false_path -to [get_ports {qsfp_ctl_0__lpmode__io}]
set_output_delay 0 [get_ports {qsfp_ctl_0__resetl__io}]
set_false_path -to [get_ports {qsfp_ctl_0__resetl__io}]
set_output_delay 0 [get_ports {qsfp_ctl_0__fs__io[0]}]
set_false_path -to [get_ports {qsfp_ctl_0__fs__io[0]}]
set_output_delay 0 [get_ports {qsfp_ctl_0__refclk_reset__io}]
set_false_path -to [get_ports {qsfp_ctl_0__refclk_reset__io}]
set_output_delay 0 [get_ports {qsfp_ctl_0__fs__io[1]}]
set_false_path -to [get_ports {qsfp_ctl_0__fs__io[1]}]
set_output_delay 0 [get_ports {led_0__io}]
set_false_path -to [get_ports {led_0__io}]
set_output_delay 0 [get_ports {led_1__io}]
set_false_path -to [get_ports {led_1__io}]
set_output_delay 0 [get_ports {led_2__io}]
set_false_path -to [get_ports {led_2__io}]

# Clock-domain crossings: the synchronisers of the design (amaranth.lib.cdc, lowered by
# the board platform, which tags their stages with these properties).
# Reset synchronisers (asserted asynchronously on PRE, released through two stages):
set_false_path -to [get_pins -of_objects [get_cells -hierarchical -filter {amaranth.vivado.false_path_pre == "TRUE"}] -filter {REF_PIN_NAME == PRE}]
