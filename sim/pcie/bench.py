"""Benchmark of the PCIe DMA writer: exact cycle counts from cocotb + Verilator +
cocotbext-pcie, converted to ns and entries/s at 250 MHz, next to the PCIe link limits.

    python -m sim.pcie.bench [--widths 256 512] [--mps 128 256 512 1024] [--intervals 1 4]

Every figure comes from the ``latency_and_throughput`` cocotb test (sim/pcie/cocotb_pcie.py):
- idle latency: cycles from the entry's handshake out of the BRAM ring (and from its push
  into the ring) to the first RQ beat of its data TLP, and to the last RQ beat of the cursor TLP;
- backlog: 256 entries queued while the writer is disabled, then enabled; entries per cycle
  from the first RQ beat to the last one.
Bounds printed next to them:
- RQ interface: beats the TLPs need at this width (descriptor + payload), i.e. the best any
  writer issuing the same TLPs could do, and the raw 64 B/entry datapath bound;
- link: Gen3 x8 / Gen3 x16 TLP-layer rate (57.9 / 115.8 Gb/s, pcie-model, see the anchors
  notes) divided by the wire bytes per entry (payload + 24 B per TLP).
"""
from __future__ import annotations

import argparse
import ast
import tempfile
from pathlib import Path

CLOCK_HZ = 250e6
LINK_BPS = {256: 57.9e9, 512: 115.8e9}      # Gen3 x8 / Gen3 x16 TLP-layer bandwidth
TLP_OVERHEAD = 24
CURSOR_BYTES = 24


def tlp_beats(payload: int, width: int) -> int:
    return -(-(16 + payload) // (width // 8))


def bounds(width: int, mps: int, interval: int) -> dict:
    per = min(mps, 1024) // 64                          # entries per full TLP
    beats = interval * tlp_beats(per * 64, width) + tlp_beats(CURSOR_BYTES, width)
    entries = interval * per
    wire = interval * (per * 64 + TLP_OVERHEAD) + CURSOR_BYTES + TLP_OVERHEAD
    return {"rq_epc": entries / beats, "raw_epc": (width // 8) / 64,
            "link_eps": LINK_BPS[width] / 8 / (wire / entries)}


def run(widths, mpss, intervals):
    from sim.verilator import run as vrun
    from tests.pcie.conftest import pcie_build   # noqa: the one place the builds are defined
    rows = []
    for w in widths:
        b = pcie_build(w)
        for mps in mpss:
            for iv in intervals:
                with tempfile.TemporaryDirectory() as d:
                    out = Path(d) / "r.txt"
                    vrun(b, "sim.pcie.cocotb_pcie", testcase="latency_and_throughput", test_dir=d,
                         extra_env={"PCIE_MPS": str(mps), "PCIE_RESULTS": str(out), "PCIE_INTERVAL": str(iv)})
                    line = out.read_text().strip().splitlines()[-1]
                r = ast.literal_eval(line.split(" ", 1)[1])
                rows.append((w, mps, iv, r, bounds(w, mps, iv)))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--mps", type=int, nargs="+", default=[128, 256, 512, 1024])
    ap.add_argument("--intervals", type=int, nargs="+", default=[1, 4])
    a = ap.parse_args(argv)
    rows = run(a.widths, a.mps, a.intervals)
    ns = 1e9 / CLOCK_HZ
    print("Idle latency (cycles @250 MHz, ns):")
    print("| width | ring handshake -> first RQ beat | -> last beat of cursor TLP | push into ring -> first RQ beat |")
    print("|---|---:|---:|---:|")
    seen = set()
    for w, mps, iv, r, _ in rows:
        if w in seen:
            continue
        seen.add(w)
        print(f"| {w} | {r['take_to_first_beat']} ({r['take_to_first_beat'] * ns:.0f} ns) "
              f"| {r['take_to_cursor_last_beat']} ({r['take_to_cursor_last_beat'] * ns:.0f} ns) "
              f"| {r['push_to_first_beat']} ({r['push_to_first_beat'] * ns:.0f} ns) |")
    print()
    print("Backlog throughput (256 entries):")
    print("| width | MPS | cursor interval | TLPs data+cursor | entries/cycle | vs RQ-beat bound "
          "| vs 64 B/entry datapath | M entries/s @250 MHz | link limit M/s | vs link |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for w, mps, iv, r, bd in rows:
        epc = r["entries_per_cycle"]
        eps = epc * CLOCK_HZ
        print(f"| {w} | {mps} | {iv} | {r['data_tlps']}+{r['cursor_tlps']} | {epc:.3f} "
              f"| {epc / bd['rq_epc']:.0%} | {epc / bd['raw_epc']:.0%} | {eps / 1e6:.1f} "
              f"| {bd['link_eps'] / 1e6:.1f} | {eps / bd['link_eps']:.2f}x |")


if __name__ == "__main__":
    main()
