"""yosys ``synth_xilinx -family xcup -flatten -abc9`` resource and LUT-level report of the PCIe
path: DMA writer, BAR0 registers, UltraScale+ adapters, and the top with the BRAM ring.

    python -m hw.pcie.synth [--width 256|512] [--depth 1024] [--only dma] [--trace]

Cell counts and LUT levels come from ``ringgate.synth`` (LUT levels register to register on
the JSON netlist; ``--trace`` prints the deepest path with the nets each cell reads).
"""
from __future__ import annotations

import argparse
import sys

from ringgate.synth import deepest_path, synthesize


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=256, choices=(256, 512))
    ap.add_argument("--depth", type=int, default=1024)
    ap.add_argument("--trace", action="store_true", help="print the deepest LUT path to stderr")
    ap.add_argument("--only", default=None, help="only the block whose name starts with this")
    args = ap.parse_args(argv)
    from hw.pcie.bar0 import Bar0
    from hw.pcie.dma import DmaWriter
    from hw.pcie.top import PcieTop
    from hw.pcie.usp import UspCompleter, UspRequester
    rows = [
        ("DMA writer", lambda: DmaWriter(args.depth), "dma"),
        ("BAR0 registers", lambda: Bar0(fixed={"CAPS": 0}), "bar0"),
        (f"RQ adapter {args.width}", lambda: UspRequester(args.width), "rq"),
        (f"CQ/CC adapter {args.width}", lambda: UspCompleter(args.width), "cqcc"),
        (f"top {args.width}-bit, ring {args.depth}", lambda: PcieTop(args.width, args.depth), "top"),
    ]
    print("| block | LUT | FF | CARRY | RAMB | LUTRAM | LUT levels |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, make, name in rows:
        if args.only and not name.startswith(args.only):
            continue
        r = synthesize(make(), name, abc9=True)
        ramb = r.cells.get("RAMB18E2", 0) + r.cells.get("RAMB36E2", 0)
        print(f"| {label} | {r.luts} | {r.ffs} | {r.carry} | {ramb} | {r.lutram} | {r.lut_levels} |",
              flush=True)
        if args.trace:
            print(f"  deepest path of {name}:", file=sys.stderr)
            for t, ins in deepest_path(r.netlist, name):
                print(f"    {t:8} reads {', '.join(ins[:8])}{' ...' if len(ins) > 8 else ''}", file=sys.stderr)


if __name__ == "__main__":
    main()
