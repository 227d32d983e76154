# AMD VCU118 evaluation kit (xcvu9p-flga2104-2L-e): ringgate board constraints
# Written by ringgate.hw.boards.xdc from the board definition ringgate.hw.boards.vcu118:
# edit that, then `ringgate constraints` (a test fails while this file differs from it).
# Port names are the top's (Amaranth: <resource>_<number>__<subsignal>__<p|n|io>).

# Configuration and bitstream
set_property CFGBVS GND [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L5
set_property CONFIG_VOLTAGE 1.8 [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L6
set_property BITSTREAM.GENERAL.COMPRESS true [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L7
set_property BITSTREAM.CONFIG.EXTMASTERCCLK_EN {DIV-1} [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L8
set_property BITSTREAM.CONFIG.SPI_32BIT_ADDR YES [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L9
set_property BITSTREAM.CONFIG.SPI_BUSWIDTH 8 [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L10
set_property BITSTREAM.CONFIG.SPI_FALL_EDGE YES [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L11
set_property BITSTREAM.CONFIG.OVERTEMPSHUTDOWN Enable [current_design] ;# corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L12

# pcie_refclk 0: Xilinx/XilinxBoardStore@20bbb121:boards/Xilinx/vcu118/2.4/part0_pins.xml:L189-190 pcie_mgt_clk; openhwgroup/cva6@f8692af1:fpga/constraints/vcu118.xdc:L1881-1882 PCIE_CLK1 MGTREFCLK0_225; corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L287-288, L293 -period 10
set_property -dict {PACKAGE_PIN AL9} [get_ports {pcie_refclk_0__p}]
set_property -dict {PACKAGE_PIN AL8} [get_ports {pcie_refclk_0__n}]
create_clock -period 10.000 -name pcie_refclk [get_ports {pcie_refclk_0__p}]

# pcie_perst 0: Xilinx/XilinxBoardStore@20bbb121:boards/Xilinx/vcu118/2.4/part0_pins.xml:L192 pcie_perstn_rst LVCMOS18; openhwgroup/cva6@f8692af1:fpga/constraints/vcu118.xdc:L706-707 PCIE_PERST_LS; corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L289 (adds PULLUP)
set_property -dict {PACKAGE_PIN AM17 IOSTANDARD LVCMOS18 PULLUP TRUE} [get_ports {pcie_perst_0__io}]

# pcie_lanes 0: Xilinx/XilinxBoardStore@20bbb121:boards/Xilinx/vcu118/2.4/part0_pins.xml:L314-377 pcie_rx0..15 / pcie_tx0..15; corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L221-284 (GTYE4_CHANNEL sites)
set_property -dict {PACKAGE_PIN Y6} [get_ports {pcie_lanes_0__tx__n[0]}]
set_property -dict {PACKAGE_PIN Y7} [get_ports {pcie_lanes_0__tx__p[0]}]
set_property -dict {PACKAGE_PIN AA3} [get_ports {pcie_lanes_0__rx__n[0]}]
set_property -dict {PACKAGE_PIN AA4} [get_ports {pcie_lanes_0__rx__p[0]}]
set_property -dict {PACKAGE_PIN AB6} [get_ports {pcie_lanes_0__tx__n[1]}]
set_property -dict {PACKAGE_PIN AB7} [get_ports {pcie_lanes_0__tx__p[1]}]
set_property -dict {PACKAGE_PIN AB1} [get_ports {pcie_lanes_0__rx__n[1]}]
set_property -dict {PACKAGE_PIN AB2} [get_ports {pcie_lanes_0__rx__p[1]}]
set_property -dict {PACKAGE_PIN AD6} [get_ports {pcie_lanes_0__tx__n[2]}]
set_property -dict {PACKAGE_PIN AD7} [get_ports {pcie_lanes_0__tx__p[2]}]
set_property -dict {PACKAGE_PIN AC3} [get_ports {pcie_lanes_0__rx__n[2]}]
set_property -dict {PACKAGE_PIN AC4} [get_ports {pcie_lanes_0__rx__p[2]}]
set_property -dict {PACKAGE_PIN AF6} [get_ports {pcie_lanes_0__tx__n[3]}]
set_property -dict {PACKAGE_PIN AF7} [get_ports {pcie_lanes_0__tx__p[3]}]
set_property -dict {PACKAGE_PIN AD1} [get_ports {pcie_lanes_0__rx__n[3]}]
set_property -dict {PACKAGE_PIN AD2} [get_ports {pcie_lanes_0__rx__p[3]}]
set_property -dict {PACKAGE_PIN AH6} [get_ports {pcie_lanes_0__tx__n[4]}]
set_property -dict {PACKAGE_PIN AH7} [get_ports {pcie_lanes_0__tx__p[4]}]
set_property -dict {PACKAGE_PIN AE3} [get_ports {pcie_lanes_0__rx__n[4]}]
set_property -dict {PACKAGE_PIN AE4} [get_ports {pcie_lanes_0__rx__p[4]}]
set_property -dict {PACKAGE_PIN AK6} [get_ports {pcie_lanes_0__tx__n[5]}]
set_property -dict {PACKAGE_PIN AK7} [get_ports {pcie_lanes_0__tx__p[5]}]
set_property -dict {PACKAGE_PIN AF1} [get_ports {pcie_lanes_0__rx__n[5]}]
set_property -dict {PACKAGE_PIN AF2} [get_ports {pcie_lanes_0__rx__p[5]}]
set_property -dict {PACKAGE_PIN AM6} [get_ports {pcie_lanes_0__tx__n[6]}]
set_property -dict {PACKAGE_PIN AM7} [get_ports {pcie_lanes_0__tx__p[6]}]
set_property -dict {PACKAGE_PIN AG3} [get_ports {pcie_lanes_0__rx__n[6]}]
set_property -dict {PACKAGE_PIN AG4} [get_ports {pcie_lanes_0__rx__p[6]}]
set_property -dict {PACKAGE_PIN AN4} [get_ports {pcie_lanes_0__tx__n[7]}]
set_property -dict {PACKAGE_PIN AN5} [get_ports {pcie_lanes_0__tx__p[7]}]
set_property -dict {PACKAGE_PIN AH1} [get_ports {pcie_lanes_0__rx__n[7]}]
set_property -dict {PACKAGE_PIN AH2} [get_ports {pcie_lanes_0__rx__p[7]}]

# sysclk 0: Xilinx/XilinxBoardStore@20bbb121:boards/Xilinx/vcu118/2.4/part0_pins.xml:L193-194 sysclk_125 LVDS; corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L30-32 -period 8.000
set_property -dict {PACKAGE_PIN AY24 IOSTANDARD LVDS} [get_ports {sysclk_0__p}]
set_property -dict {PACKAGE_PIN AY23 IOSTANDARD LVDS} [get_ports {sysclk_0__n}]
create_clock -period 8.000 -name sysclk [get_ports {sysclk_0__p}]

# qsfp_refclk 0: Xilinx/XilinxBoardStore@20bbb121:boards/Xilinx/vcu118/2.4/part0_pins.xml:L396-397 qsfp1_si570_clock, board.xml:L1726-1728 156250000; openhwgroup/cva6@f8692af1:fpga/constraints/vcu118.xdc:L1945-1946 QSFP_SI570_CLOCK_C MGTREFCLK0_231; corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L155-156, L168 -period 6.400
set_property -dict {PACKAGE_PIN W9} [get_ports {qsfp_refclk_0__p}]
set_property -dict {PACKAGE_PIN W8} [get_ports {qsfp_refclk_0__n}]
create_clock -period 6.400 -name qsfp_refclk [get_ports {qsfp_refclk_0__p}]

# qsfp_lane 0: Xilinx/XilinxBoardStore@20bbb121:boards/Xilinx/vcu118/2.4/part0_pins.xml:L380-383 qsfp1_TX/RX 0; openhwgroup/cva6@f8692af1:fpga/constraints/vcu118.xdc:L1947-1950; corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L139-142 (GTYE4_CHANNEL_X1Y48)
set_property -dict {PACKAGE_PIN V7} [get_ports {qsfp_lane_0__tx__p}]
set_property -dict {PACKAGE_PIN V6} [get_ports {qsfp_lane_0__tx__n}]
set_property -dict {PACKAGE_PIN Y2} [get_ports {qsfp_lane_0__rx__p}]
set_property -dict {PACKAGE_PIN Y1} [get_ports {qsfp_lane_0__rx__n}]

# qsfp_ctl 0: openhwgroup/cva6@f8692af1:fpga/constraints/vcu118.xdc:L791-792 QSFP1_MODSELL_LS, L843-844 QSFP1_RESETL_LS, L801-802 QSFP1_LPMODE_LS (LVCMOS18); corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L161-162,165
set_property -dict {PACKAGE_PIN AM21 IOSTANDARD LVCMOS18 SLEW SLOW DRIVE 8} [get_ports {qsfp_ctl_0__modsell__io}]
set_property -dict {PACKAGE_PIN AN21 IOSTANDARD LVCMOS18 SLEW SLOW DRIVE 8} [get_ports {qsfp_ctl_0__lpmode__io}]
set_property -dict {PACKAGE_PIN BA22 IOSTANDARD LVCMOS18 SLEW SLOW DRIVE 8} [get_ports {qsfp_ctl_0__resetl__io}]

# led 0: Xilinx/XilinxBoardStore@20bbb121:boards/Xilinx/vcu118/2.4/part0_pins.xml:L35-37 GPIO_LED_0..2_LS LVCMOS12 DRIVE 8; corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L44-46
set_property -dict {PACKAGE_PIN AT32 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led_0__io}]

# led 1: Xilinx/XilinxBoardStore@20bbb121:boards/Xilinx/vcu118/2.4/part0_pins.xml:L35-37 GPIO_LED_0..2_LS LVCMOS12 DRIVE 8; corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L44-46
set_property -dict {PACKAGE_PIN AV34 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led_1__io}]

# led 2: Xilinx/XilinxBoardStore@20bbb121:boards/Xilinx/vcu118/2.4/part0_pins.xml:L35-37 GPIO_LED_0..2_LS LVCMOS12 DRIVE 8; corundum/corundum@1ca0151b:fpga/mqnic/VCU118/fpga_25g/fpga.xdc:L44-46
set_property -dict {PACKAGE_PIN AY30 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led_2__io}]

# Board I/O is asynchronous to every clock of the design (resets, status, LEDs)
set_input_delay 0 [get_ports {pcie_perst_0__io}]
set_false_path -from [get_ports {pcie_perst_0__io}]
set_output_delay 0 [get_ports {qsfp_ctl_0__modsell__io}]
set_false_path -to [get_ports {qsfp_ctl_0__modsell__io}]
set_output_delay 0 [get_ports {qsfp_ctl_0__lpmode__io}]
set_false_path -to [get_ports {qsfp_ctl_0__lpmode__io}]
set_output_delay 0 [get_ports {qsfp_ctl_0__resetl__io}]
set_false_path -to [get_ports {qsfp_ctl_0__resetl__io}]
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
