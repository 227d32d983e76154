"""``ringgate build``: the Vivado flow it writes, run as far as it goes without Vivado. The build
script is executed by a real Tcl interpreter with Vivado's commands stubbed: the order of the
steps, the timing gate (negative slack or no timed path stops before the bitstream) and the
flash image arguments are checked by running it."""
from __future__ import annotations

import json
import os
import stat

import pytest
from click.testing import CliRunner

from ringgate.app.cli import main

tkinter = pytest.importorskip("tkinter", reason="needs Tcl (tkinter) to run the build script")

VIVADO_COMMANDS = ("create_project create_ip set_property get_ips generate_target synth_ip read_verilog "
                   "read_xdc synth_design write_checkpoint report_utilization report_timing_summary opt_design "
                   "place_design phys_opt_design route_design report_clock_interaction report_cdc "
                   "report_methodology report_drc report_route_status get_timing_paths write_bitstream "
                   "write_cfgmem").split()


@pytest.fixture(scope="module")
def flows(tmp_path_factory):
    out = {}
    for board, width in (("au200", "256"), ("vcu118", "512")):
        d = tmp_path_factory.mktemp(f"{board}{width}")
        r = CliRunner().invoke(main, ["build", "--board", board, "--width", width, "--out", str(d), "--no-vivado"])
        assert r.exit_code == 0, r.output
        out[board] = (d, r.output)
    return out


def run_tcl(directory, wns="0.123", whs="0.045"):
    """Source build.tcl with Vivado's commands recording their arguments."""
    tcl = tkinter.Tcl()
    tcl.eval("set ::calls {}")
    for cmd in VIVADO_COMMANDS:
        tcl.eval(f"proc {cmd} {{args}} {{ lappend ::calls [list {cmd} {{*}}$args]; return {{}} }}")
    tcl.eval("rename get_timing_paths {}\n"
             "proc get_timing_paths {args} {\n"
             "    lappend ::calls [list get_timing_paths {*}$args]\n"
             "    return path_[lindex $args [expr {[lsearch $args -delay_type] + 1}]]\n"
             "}")
    tcl.eval(f"proc get_property {{name obj}} {{\n"
             f"    if {{$obj eq \"path_max\"}} {{ return {{{wns}}} }}\n"
             f"    if {{$obj eq \"path_min\"}} {{ return {{{whs}}} }}\n"
             f"    error \"get_property $name $obj\"\n"
             f"}}")
    tcl.eval(f"cd {{{directory}}}")
    error = None
    try:
        tcl.eval("source build.tcl")
    except tkinter.TclError as e:
        error = str(e)
    calls = [tcl.splitlist(c) for c in tcl.splitlist(tcl.eval("set ::calls"))]
    return calls, error


def test_build_writes_the_flow(flows):
    d, output = flows["au200"]
    names = sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())
    assert names == sorted(["ringgate_au200.v", "au200.xdc", "ip/pcie4_uscale_plus_0.tcl", "ip/xxv_ethernet_0.tcl",
                            "build.tcl", "build.sh", "program.tcl", "flash.tcl", "manifest.json"])
    assert os.stat(d / "build.sh").st_mode & stat.S_IXUSR
    assert "not running Vivado (--no-vivado)" in output
    m = json.loads((d / "manifest.json").read_text())
    assert m["part"] == "xcu200-fsgd2104-2-e" and m["pcie"]["link"] == "Gen3 x8" and m["pcie"]["bar0_bytes"] == 4096
    assert m["pcie"]["vendor_id"] == "10ee" and m["pcie"]["device_id"] == "5247"
    assert m["clocks_hz"] == {"sync": 250_000_000, "mgmt": 100_000_000, "mac_rx": 156_250_000}
    v = (d / "ringgate_au200.v").read_text()
    assert "module ringgate_au200(" in v and "pcie4_uscale_plus_0 pcie_ip (" in v


def test_x16_build_reads_both_constraint_files(flows):
    d, _ = flows["vcu118"]
    assert (d / "vcu118_x16.xdc").exists()
    calls, error = run_tcl(d)
    assert error is None, error
    assert [c[1] for c in calls if c[0] == "read_xdc"] == ["vcu118.xdc", "vcu118_x16.xdc"]


def test_build_script_runs_every_step_in_order(flows):
    d, _ = flows["au200"]
    calls, error = run_tcl(d)
    assert error is None, error
    order = [c[0] for c in calls]
    steps = ["create_project", "create_ip", "generate_target", "synth_ip", "read_verilog", "read_xdc",
             "synth_design", "opt_design", "place_design", "phys_opt_design", "route_design",
             "report_timing_summary", "get_timing_paths", "write_bitstream", "write_cfgmem"]
    at = -1
    for step in steps:                        # each step after the one before it
        assert step in order[at + 1:], (step, order)
        at = order.index(step, at + 1)
    assert order.count("create_ip") == 2
    synth = next(c for c in calls if c[0] == "synth_design")
    assert synth[1:] == ("-top", "ringgate_au200", "-part", "xcu200-fsgd2104-2-e")
    cfgmem = next(c for c in calls if c[0] == "write_cfgmem")
    assert " ".join(cfgmem[1:]) == ("-force -format mcs -size 128 -interface SPIx4 -loadbit "
                                    "up 0x01002000 ringgate_au200.bit -checksum -file ringgate_au200.mcs")
    assert (d / "reports").is_dir() and (d / "ip_gen").is_dir()


@pytest.mark.parametrize("wns,whs,message", [("-0.012", "0.050", "timing not met (WNS -0.012 ns, WHS 0.050 ns)"),
                                             ("0.300", "-0.001", "timing not met"),
                                             ("", "", "no timed path")])
def test_build_script_stops_before_the_bitstream_on_timing(flows, wns, whs, message):
    d, _ = flows["au200"]
    calls, error = run_tcl(d, wns=wns, whs=whs)
    assert error is not None and message in error
    assert "write_bitstream" not in [c[0] for c in calls]


def test_vcu118_flash_is_dual_qspi(flows):
    d, _ = flows["vcu118"]
    calls, error = run_tcl(d)
    cfgmem = " ".join(next(c for c in calls if c[0] == "write_cfgmem")[1:])
    assert "-size 256 -interface SPIx8 -loadbit up 0x00000000 ringgate_vcu118.bit" in cfgmem
    flash = (d / "flash.tcl").read_text()
    assert "mt25qu01g-spi-x1_x2_x4_x8" in flash
    assert "PROGRAM.FILES [list ringgate_vcu118_primary.mcs ringgate_vcu118_secondary.mcs]" in flash
    assert "get_hw_devices xcvu9p*" in (d / "program.tcl").read_text()


def test_ip_tcl_in_the_flow_is_generated_into_ip_gen(flows):
    d, _ = flows["vcu118"]
    pcie = (d / "ip/pcie4_uscale_plus_0.tcl").read_text()
    assert "-dir ip_gen" in pcie and "CONFIG.PL_LINK_CAP_MAX_LINK_WIDTH {X16}" in pcie
    assert "CONFIG.PF0_SUBSYSTEM_ID {9076}" in pcie
    mac = (d / "ip/xxv_ethernet_0.tcl").read_text()
    assert "CONFIG.GT_REF_CLK_FREQ {156.25}" in mac and "CONFIG.LANE1_GT_LOC {X1Y48}" in mac


def fake_vivado(tmp_path, rc):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "vivado"
    script.write_text(f"#!/bin/sh\necho \"$PWD $*\" > vivado.args\nexit {rc}\n")
    script.chmod(0o755)
    return bindir


@pytest.mark.parametrize("rc", [0, 3])
def test_build_runs_vivado_when_on_path(tmp_path, monkeypatch, rc):
    monkeypatch.setenv("PATH", f"{fake_vivado(tmp_path, rc)}:{os.environ['PATH']}")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["build", "--board", "au200", "--out", str(out)])
    assert r.exit_code == rc, r.output
    args = (out / "vivado.args").read_text().split()
    assert args[0] == str(out) and args[1:] == ["-mode", "batch", "-nojournal", "-log", "build.log",
                                                "-source", "build.tcl"]
    assert ("Vivado failed (exit 3)" in r.output) == bool(rc)


def test_build_without_vivado_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    r = CliRunner().invoke(main, ["build", "--board", "au200", "--out", str(tmp_path / "o")])
    assert r.exit_code == 0 and "vivado is not on PATH: stopping after writing the files" in r.output


@pytest.mark.parametrize("args,message", [(["--board", "kc705"], "Invalid value for '--board'"),
                                          (["--board", "au200", "--width", "128"], "Invalid value for '--width'"),
                                          (["--board", "au200", "--depth", "1000"], "--depth")])
def test_build_refuses_bad_parameters(tmp_path, args, message):
    r = CliRunner().invoke(main, ["build", *args, "--out", str(tmp_path), "--no-vivado"])
    assert r.exit_code == 2 and message in r.output


def test_the_ingress_black_box_is_not_buildable():
    from ringgate.app.build import flow_files, prepare
    from ringgate.hw.boards import BOARDS
    from ringgate.hw.boards.top import BoardDesign, IngressBlackBox
    with pytest.raises(ValueError, match="ingress black box has no netlist"):
        flow_files(prepare(BoardDesign(BOARDS["au200"], ingress=IngressBlackBox)))


def test_build_check_prints_the_domains_and_fails_on_problems(tmp_path, monkeypatch):
    """--check: the per-domain table, each finding listed, exit 1 when there is one."""
    from types import SimpleNamespace

    from ringgate.app import build
    from ringgate.app.synth import DomainFigures

    report = SimpleNamespace(luts=10, ffs=20, carry=1, bram18_equivalent=0, lut_levels=2, carry_chain=1)
    domains = {"sync": DomainFigures("sync", luts=9, ffs=18, lut_levels=2), "mgmt": DomainFigures("mgmt", luts=1)}
    for problems, code in (([], 0), (["port x has no PACKAGE_PIN"], 1)):
        fake = build.BoardCheck(SimpleNamespace(report=report, domains=domains), problems, [])
        monkeypatch.setattr(build, "check_board", lambda design, fake=fake: fake)
        r = CliRunner().invoke(main, ["build", "--board", "au200", "--out", str(tmp_path), "--no-vivado", "--check"])
        assert r.exit_code == code, r.output
        assert "clock domain" in r.output and "whole top" in r.output and "sync" in r.output
        assert ("XDC: 1 problem(s)" in r.output and "port x has no PACKAGE_PIN" in r.output) == bool(problems)
        assert "lint: clean" in r.output


def test_docs_list_every_ip_key():
    from pathlib import Path

    from ringgate.hw.boards.top import BoardDesign
    from ringgate.hw.boards import BOARDS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "boards.md").read_text()
    for width in (256, 512):
        design = BoardDesign(BOARDS["au200"], width=width)
        for key in [*design.pcie_ip.config(), *design.mac_ip.config()]:
            assert f"`{key}`" in doc, f"docs/boards.md does not list {key}"
