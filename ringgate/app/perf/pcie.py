"""Benchmark of the PCIe DMA writer: exact cycle counts from cocotb + Verilator +
cocotbext-pcie, converted to ns and entries/s at 250 MHz, next to the PCIe link limits.

    ringgate perf pcie [--width 256 --width 512] [--mps 128 ...] [--interval 1 --interval 4]

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

import ast
import tempfile
from pathlib import Path

import click

from ringgate.contracts.pcie import DESCRIPTOR_BYTES, LINKS, TLP_OVERHEAD, USER_CLOCK_HZ

__all__ = ["command", "run", "bounds"]

CURSOR_BYTES = 24               # the part of the cursor line the writer writes


def tlp_beats(payload: int, width: int) -> int:
    return -(-(DESCRIPTOR_BYTES + payload) // (width // 8))


def bounds(width: int, mps: int, interval: int) -> dict:
    per = min(mps, 1024) // 64                          # entries per full TLP
    beats = interval * tlp_beats(per * 64, width) + tlp_beats(CURSOR_BYTES, width)
    entries = interval * per
    wire = interval * (per * 64 + TLP_OVERHEAD) + CURSOR_BYTES + TLP_OVERHEAD
    return {"rq_epc": entries / beats, "raw_epc": (width // 8) / 64,
            "link_eps": LINKS[width].tlp_bps / 8 / (wire / entries)}


def measure(widths, mpss, intervals):
    """``(width, mps, interval, measured, bounds)`` for every combination."""
    from ringgate.sim.builds import pcie_top
    from ringgate.sim.verilator import run as vrun
    rows = []
    for w in widths:
        b = pcie_top(w)
        for mps in mpss:
            for iv in intervals:
                with tempfile.TemporaryDirectory() as d:
                    out = Path(d) / "r.txt"
                    vrun(b, "ringgate.sim.pcie.cocotb_pcie", testcase="latency_and_throughput", test_dir=d,
                         extra_env={"PCIE_MPS": str(mps), "PCIE_RESULTS": str(out), "PCIE_INTERVAL": str(iv)})
                    line = out.read_text().strip().splitlines()[-1]
                r = ast.literal_eval(line.split(" ", 1)[1])
                rows.append((w, mps, iv, r, bounds(w, mps, iv)))
    return rows


@click.command("pcie")
@click.option("--width", "widths", multiple=True, type=click.Choice(["256", "512"]), default=["256", "512"],
              show_default=True, help="Datapath widths (repeatable).")
@click.option("--mps", "mpss", multiple=True, type=click.Choice(["128", "256", "512", "1024"]),
              default=["128", "256", "512", "1024"], show_default=True, help="Max payload sizes (repeatable).")
@click.option("--interval", "intervals", multiple=True, type=click.IntRange(1), default=[1, 4], show_default=True,
              help="Cursor intervals (repeatable).")
def command(widths, mpss, intervals):
    """The PCIe DMA writer on the cocotbext-pcie model: idle latency and backlog throughput against
    the RQ and link bounds (exact cycles)."""
    run([int(w) for w in widths], [int(m) for m in mpss], list(intervals))


def run(widths=(256, 512), mpss=(128, 256, 512, 1024), intervals=(1, 4)) -> list:
    """Measure and print the tables; the rows as returned by :func:`measure`."""
    rows = measure(widths, mpss, intervals)
    ns = 1e9 / USER_CLOCK_HZ
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
        eps = epc * USER_CLOCK_HZ
        print(f"| {w} | {mps} | {iv} | {r['data_tlps']}+{r['cursor_tlps']} | {epc:.3f} "
              f"| {epc / bd['rq_epc']:.0%} | {epc / bd['raw_epc']:.0%} | {eps / 1e6:.1f} "
              f"| {bd['link_eps'] / 1e6:.1f} | {eps / bd['link_eps']:.2f}x |")
    return rows
