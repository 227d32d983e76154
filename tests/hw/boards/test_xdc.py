# amaranth: UnusedElaboratable=no
"""The XDC writer and checker on a small board design with two clock domains: a reset
synchroniser, a level synchroniser, an unsynchronised crossing, board I/O. The checker must
accept what the writer writes for the synchronisers and report everything else."""
from __future__ import annotations

import json

import pytest
from amaranth.build import Attrs, Clock, DiffPairs, Pins, PinsN, Resource
from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import FFSynchronizer, ResetSynchronizer

from ringgate.app.synth import synthesize
from ringgate.hw.boards.netlist import Netlist, glob_match
from ringgate.hw.boards.platform import Board, Flash, Qsfp
from ringgate.hw.boards.xdc import XdcError, board_xdc, check, parse

SRC = "example/board@0123456:board.xml:L1"


class Tiny(Board):
    name, title = "tiny", "a two-clock test board"
    device, package, speed = "xcu200", "fsgd2104", "2-e"
    resources = [
        Resource("clk_a", 0, DiffPairs("AY37", "AY38", dir="i"), Clock(300e6), Attrs(IOSTANDARD="LVDS")),
        Resource("clk_b", 0, Pins("AU19", dir="i"), Clock(125e6), Attrs(IOSTANDARD="LVCMOS18")),
        Resource("button", 0, PinsN("AL20", dir="i"), Attrs(IOSTANDARD="LVCMOS12")),
        Resource("led", 0, Pins("BC21", dir="o"), Attrs(IOSTANDARD="LVCMOS12")),
        Resource("led", 1, Pins("BB21", dir="o"), Attrs(IOSTANDARD="LVCMOS12")),
    ]
    sources = {name: SRC for name in ("clk_a", "clk_b", "button", "led")}
    bitstream = (("CFGBVS", "GND", SRC),)
    qsfp = Qsfp("Quad_X1Y12", "X1Y48")
    flash = Flash("mt25qu01g-spi-x1_x2_x4", 128, "SPIx4", 0, SRC)


class TwoDomains(Elaboratable):
    def elaborate(self, platform):
        m = Module()
        m.domains.a = ClockDomain("a")
        m.domains.b = ClockDomain("b")
        m.submodules.clk_a = a = io.Buffer("i", platform.request("clk_a", 0, dir="-"))
        m.submodules.clk_b = b = io.Buffer("i", platform.request("clk_b", 0, dir="-"))
        m.submodules.button = button = io.Buffer("i", platform.request("button", 0, dir="-"))
        m.d.comb += [ClockSignal("a").eq(a.i), ClockSignal("b").eq(b.i)]
        count = Signal(8)
        m.d.a += count.eq(count + 1)
        m.submodules.a_rst_sync = ResetSynchronizer(button.i, domain="a")
        m.submodules.b_rst_sync = ResetSynchronizer(count[5], domain="b")   # reset from another domain
        level = Signal()
        m.submodules.level_sync = FFSynchronizer(count[7], level, o_domain="b")
        raw = Signal(name="raw")
        shown = Signal()
        m.d.b += [raw.eq(count[6] ^ level),                # a crossing with no synchroniser
                  shown.eq(raw)]
        m.submodules.led0 = led0 = io.Buffer("o", platform.request("led", 0, dir="-"))
        m.submodules.led1 = led1 = io.Buffer("o", platform.request("led", 1, dir="-"))
        m.d.comb += [led0.o.eq(shown), led1.o.eq(count[0])]
        return m


CLOCKS = {"a_clk": "a", "b_clk": "b"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    platform = Tiny()
    plan = platform.prepare(TwoDomains(), name="tiny")
    report = synthesize(plan.files["tiny.v"], "tiny", abc9=True, register_names=True,
                        workdir=tmp_path_factory.mktemp("tiny"))
    net = Netlist(report.netlist, "tiny", registers=report.registers)
    refclks = {port.name: hz for port, hz in platform.iter_port_clock_constraints()}
    return platform, board_xdc(platform), net, refclks


def run(tiny, text):
    _, _, net, refclks = tiny
    return check([text], net, clock_names=CLOCKS, reference_clocks=refclks)


def test_written_xdc_covers_the_synchronisers_and_catches_the_raw_crossing(tiny):
    platform, xdc, net, _ = tiny
    assert platform.synchronisers() == {"ff": 1, "async_ff": 2}
    assert "amaranth.vivado.false_path_pre" in xdc and 'amaranth.vivado.false_path == "TRUE"' in xdc
    problems = run(tiny, xdc)
    assert len(problems) == 1, problems
    assert problems[0].startswith("unconstrained crossing into ff raw_reg/D (b) from a:")


def test_an_explicit_constraint_by_vivado_name_covers_it(tiny):
    assert run(tiny, tiny[1] + "\nset_false_path -to [get_cells raw_reg]\n") == []


def test_without_the_reset_synchroniser_constraint_its_pre_pins_are_reported(tiny):
    xdc = "\n".join(line for line in tiny[1].splitlines() if "false_path_pre" not in line)
    problems = run(tiny, xdc)
    pre = [p for p in problems if "ff_async" in p]
    # the button's synchroniser stays covered by the board input's false path
    assert len(pre) == 2 and all(p.startswith("unconstrained crossing into ff_async b_rst_sync/stage")
                                 and "/PRE (b) from a:" in p for p in pre), problems


def test_without_the_level_synchroniser_constraint_its_first_stage_is_reported(tiny):
    xdc = "\n".join(line for line in tiny[1].splitlines() if 'false_path == "TRUE"' not in line)
    assert any("level_sync/stage0_reg/D" in p for p in run(tiny, xdc))


def test_board_io_without_false_path_is_reported(tiny):
    xdc = "\n".join(line for line in tiny[1].splitlines() if "led_1__io" not in line or "PACKAGE_PIN" in line)
    problems = run(tiny, xdc + "\nset_false_path -to [get_cells raw_reg]\n")
    assert len(problems) == 1 and problems[0].startswith("unconstrained crossing into output led_1__io (async) from a: FDRE")


@pytest.mark.parametrize("edit,message", [
    (lambda x: x.replace("PACKAGE_PIN BB21 ", ""), "port led_1__io has no PACKAGE_PIN"),
    (lambda x: x.replace("PACKAGE_PIN BB21", "PACKAGE_PIN BC21"), "ports led_0__io and led_1__io are both on pin BC21"),
    (lambda x: x.replace("IOSTANDARD LVCMOS12} [get_ports {button", "} [get_ports {button"),
     "port button_0__io has no IOSTANDARD"),
    (lambda x: x.replace("-period 8.000", "-period 8.100"), "create_clock -period 8.1 but 125 MHz is 8.0000 ns"),
    (lambda x: x.replace("create_clock -period 3.333", "#"), "reference clock clk_a_0__p has no create_clock"),
    (lambda x: x + "\ncreate_clock -period 5 -name x [get_ports {button_0__io}]\n",
     "create_clock on button_0__io, which is not a reference clock"),
    (lambda x: x + "\nset_false_path -to [get_ports {nothing}]\n", "get_ports nothing matches no port"),
    (lambda x: x + "\nset_false_path -to [get_cells {count_reg[9]}]\n", "matches no cell of the netlist"),
    (lambda x: x + "\nset_false_path -to [get_pins {raw_reg/Q9}]\n", "matches no pin of the netlist"),
    (lambda x: x + "\nset_max_delay -datapath_only -to [get_cells raw_reg] 2\n", "-datapath_only needs -from"),
    (lambda x: x + "\nset_multicycle_path 2 -to [get_cells raw_reg]\n", "unsupported command set_multicycle_path"),
])
def test_checker_reports(tiny, edit, message):
    problems = run(tiny, edit(tiny[1] + "\nset_false_path -to [get_cells raw_reg]\n"))
    assert any(message in p for p in problems), problems


def test_a_board_input_needs_a_false_path_or_an_input_delay(tiny):
    xdc = "\n".join(line for line in tiny[1].splitlines() if "[get_ports {button_0__io}]" not in line
                    or "PACKAGE_PIN" in line) + "\nset_false_path -to [get_cells raw_reg]\n"
    problems = run(tiny, xdc)
    assert "board input button_0__io has neither a false path from it nor an input delay" in problems
    assert "board input button_0__io" not in "".join(run(tiny, xdc + "set_input_delay 0 [get_ports {button_0__io}]\n"
                                                          "set_false_path -to [get_pins {a_rst_sync/*/PRE}]\n"))


def test_from_a_port_covers_what_only_that_port_drives(tiny):
    xdc = "\n".join(line for line in tiny[1].splitlines()
                    if "false_path_pre" not in line and "-from [get_ports {button" not in line)
    xdc += "\nset_false_path -to [get_cells raw_reg]\nset_false_path -to [get_pins {b_rst_sync/*/PRE}]\n"
    problems = run(tiny, xdc)
    assert len(problems) == 2 and all("a_rst_sync/stage" in p and "input button_0__io" in p for p in problems)
    assert run(tiny, xdc + "set_false_path -from [get_ports {button_0__io}]\n") == []


def test_parse_and_glob():
    cmds = parse("# c\nset_property -dict {PACKAGE_PIN A1 IOSTANDARD LVDS} [get_ports {a b}] ;# why\n"
                 "set_false_path -to [get_pins -of_objects [get_cells -hier -filter {X == \"1\"}] -filter {REF_PIN_NAME == PRE}]\n")
    assert [c.line for c in cmds] == [2, 3]
    assert cmds[0].words[:3] == ["set_property", "-dict", "PACKAGE_PIN A1 IOSTANDARD LVDS"]
    assert cmds[0].words[3].words == ["get_ports", "a b"]
    inner = cmds[1].words[2].words
    assert inner[0] == "get_pins" and inner[2].words[:2] == ["get_cells", "-hier"]
    with pytest.raises(XdcError, match="unbalanced"):
        parse("set_false_path -to [get_ports x\n")
    assert glob_match("a/*_reg", "a/b_reg") and not glob_match("a/*_reg", "a/b/c_reg")
    assert glob_match("x_reg[*]", "x_reg[3]")


def test_netlist_names_follow_vivado(tiny):
    net = tiny[2]
    names = {n for c in net.cells for n in net.vivado_cell_names(c)}
    assert {"raw_reg", "level_sync/stage0_reg", "level_sync/stage1_reg", "a_rst_sync/stage0"} <= names
    assert {f"count_reg[{i}]" for i in range(8)} <= names
    # the counter is declared in the top; the reset synchroniser only sees it through a port
    assert not {n for n in names if n.startswith("b_rst_sync/count")}
    json.dumps(net.json)            # the netlist stays plain data
