"""Latency reports: per-stage histograms and percentiles, as JSON, markdown, PNG and HTML.

Every number carries its kind, because a performance engineer must know what to trust:

- ``exact``: counted in RTL simulation cycles (deterministic for the given stimulus);
- ``modelled``: from a model of something we do not simulate at RTL (the cocotbext-pcie link);
- ``projected``: documented allowances for hard IP and root complex, with public sources;
- ``wall clock``: measured on this host (noisy, machine dependent).

Percentiles are *observed* values (``inverted_cdf``): a p99 of 7 cycles means some entry took 7.
"""
from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["Stage", "KINDS", "PERCENTILES", "SEED_LATENCY_TABLE", "summarize", "write_report"]

KINDS = ("exact", "modelled", "projected", "wall clock")
PERCENTILES = (("min", 0.0), ("p50", 50.0), ("p99", 99.0), ("p99.9", 99.9), ("max", 100.0))

# The technology-selection note's one-way "packet received -> in the ring buffer" latencies
# (seeds/000_22bf1ff623891f48.txt, section 6.0): typical and best-case ranges in ns.
SEED_LATENCY_TABLE = (
    ("epoll", (10_000, 50_000), (5_000, 20_000), "kernel stack, syscalls, context switches, scheduling jitter"),
    ("io_uring", (3_000, 15_000), (2_000, 8_000), "kernel-side work, copies"),
    ("DPDK", (500, 5_000), (300, 2_000), "PCIe DMA, user-space instructions"),
    ("FPGA", (20, 500), (20, 100), "clock cycles, PCIe link (on-chip 20-100 ns, PCIe DMA 100-300 ns)"),
)


@dataclass
class Stage:
    name: str
    samples: np.ndarray
    unit: str = "cycles"            # "cycles" or "ns"
    kind: str = "exact"
    source: str = ""                # how it was obtained; public source for projected numbers
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"stage {self.name!r}: kind must be one of {KINDS}, not {self.kind!r}")
        if self.unit not in ("cycles", "ns"):
            raise ValueError(f"stage {self.name!r}: unit must be 'cycles' or 'ns', not {self.unit!r}")
        self.samples = np.asarray(self.samples)
        if self.samples.ndim != 1 or self.samples.size == 0:
            raise ValueError(f"stage {self.name!r}: need a non-empty 1-D array of samples")
        if not np.all(np.isfinite(self.samples)) or np.any(self.samples < 0):
            raise ValueError(f"stage {self.name!r}: latencies must be finite and >= 0")


def summarize(stage: Stage, clock_mhz: float) -> dict:
    """Percentiles in both units: cycles (when the stage is in cycles) and ns."""
    if not clock_mhz > 0:
        raise ValueError(f"clock must be positive, not {clock_mhz} MHz")
    ns_per_cycle = 1000.0 / clock_mhz
    s = stage.samples
    out = {"name": stage.name, "kind": stage.kind, "unit": stage.unit, "source": stage.source,
           "count": int(s.size), **stage.extra}
    for label, q in PERCENTILES:
        v = np.percentile(s, q, method="inverted_cdf").item()
        if stage.unit == "cycles":
            out[f"{label}_cycles"] = int(v) if float(v).is_integer() else v
            out[f"{label}_ns"] = v * ns_per_cycle
        else:
            out[f"{label}_ns"] = float(v)
    out["mean_ns"] = float(s.mean()) * (ns_per_cycle if stage.unit == "cycles" else 1.0)
    return out


def _fmt_ns(ns: float) -> str:
    if ns >= 1_000_000:
        return f"{ns / 1e6:.3g} ms"
    if ns >= 1_000:
        return f"{ns / 1e3:.3g} us"
    return f"{ns:.4g} ns"


def _cell(row: dict, label: str) -> str:
    if f"{label}_cycles" in row:
        return f"{row[f'{label}_cycles']} ({_fmt_ns(row[f'{label}_ns'])})"
    return _fmt_ns(row[f"{label}_ns"])


def _markdown(rows: list[dict], clock_mhz: float, throughput: dict, meta: dict, end_to_end: dict | None) -> str:
    lines = [f"# {meta.get('title', 'ringgate latency report')}", ""]
    for k, v in meta.items():
        if k != "title":
            lines.append(f"- {k}: {v}")
    lines += [f"- clock: {clock_mhz:g} MHz ({1000 / clock_mhz:g} ns per cycle)", "",
              "## Per stage (cycles, with ns in brackets)", "",
              "| stage | kind | n | " + " | ".join(l for l, _ in PERCENTILES) + " |",
              "|---|---|---:|" + "---:|" * len(PERCENTILES)]
    for r in rows:
        lines.append(f"| {r['name']} | {r['kind']} | {r['count']} | "
                     + " | ".join(_cell(r, l) for l, _ in PERCENTILES) + " |")
    sources = [r for r in rows if r["source"]]
    if sources:
        lines += ["", "Sources:", ""] + [f"- {r['name']}: {r['source']}" for r in sources]
    if throughput:
        lines += ["", "## Throughput", "", "| measure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in throughput.items()]
    lines += ["", "## Against the technology-selection note (one-way, packet -> ring buffer)", "",
              "| path | typical | best case | bottleneck |", "|---|---|---|---|"]
    for name, typ, best, why in SEED_LATENCY_TABLE:
        lines.append(f"| {name} | {_fmt_ns(typ[0])} - {_fmt_ns(typ[1])} | {_fmt_ns(best[0])} - {_fmt_ns(best[1])} | {why} |")
    if end_to_end:
        lines.append(f"| **ringgate (this run)**: {end_to_end['name']} | p50 {_fmt_ns(end_to_end['p50_ns'])}, "
                     f"p99 {_fmt_ns(end_to_end['p99_ns'])} | min {_fmt_ns(end_to_end['min_ns'])} | "
                     f"{end_to_end['kind']} |")
    return "\n".join(lines) + "\n"


def _plots(stages: Sequence[Stage], rows: list[dict], out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    for i, (st, r) in enumerate(zip(stages, rows)):
        fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
        s = st.samples
        if st.unit == "cycles" and np.all(s == np.round(s)) and s.max() - s.min() <= 200:
            lo, hi = int(s.min()), int(s.max())
            ax.bar(np.arange(lo, hi + 1), np.bincount((s - lo).astype(np.int64), minlength=hi - lo + 1),
                   width=0.9, color="#3b6ea5")
        else:
            ax.hist(s, bins=min(100, max(10, int(math.sqrt(s.size)))), color="#3b6ea5")
        ax.set_yscale("log")
        ax.set_xlabel(st.unit)
        ax.set_ylabel("entries")
        ax.set_title(f"{st.name} [{st.kind}]", fontsize=9)
        for label in ("p50", "p99"):
            v = r.get(f"{label}_cycles", r.get(f"{label}_ns"))
            ax.axvline(v, color="#c0392b" if label == "p99" else "#27ae60", lw=1, label=f"{label} = {v:g}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        name = f"stage{i}.png"
        fig.savefig(out / name)
        plt.close(fig)
        names.append(name)
    return names


def write_report(out_dir: Path | str, stages: Sequence[Stage], *, clock_mhz: float = 250.0,
                 throughput: dict | None = None, meta: dict | None = None,
                 end_to_end: str | None = None) -> dict[str, Path]:
    """Write report.json, summary.md, one PNG per stage and report.html into ``out_dir``."""
    if not stages:
        raise ValueError("a report needs at least one stage")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(meta or {})
    throughput = dict(throughput or {})
    rows = [summarize(s, clock_mhz) for s in stages]
    e2e = next((r for r in rows if r["name"] == end_to_end), None) if end_to_end else None
    if end_to_end and e2e is None:
        raise ValueError(f"end-to-end stage {end_to_end!r} is not among the stages")
    md = _markdown(rows, clock_mhz, throughput, meta, e2e)
    pngs = _plots(stages, rows, out)
    (out / "summary.md").write_text(md)
    (out / "report.json").write_text(json.dumps(
        {"meta": meta, "clock_mhz": clock_mhz, "stages": rows, "throughput": throughput,
         "seed_latency_table_ns": [{"path": n, "typical": t, "best": b, "bottleneck": w}
                                   for n, t, b, w in SEED_LATENCY_TABLE]}, indent=2))
    body = [f"<h1>{html.escape(meta.get('title', 'ringgate latency report'))}</h1>", "<ul>"]
    body += [f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in meta.items() if k != "title"]
    body += [f"<li>clock {clock_mhz:g} MHz</li></ul>", "<h2>Per stage</h2><table>",
             "<tr><th>stage</th><th>kind</th><th>n</th>" + "".join(f"<th>{l}</th>" for l, _ in PERCENTILES) + "</tr>"]
    for r in rows:
        body.append(f"<tr><td>{html.escape(r['name'])}</td><td class='{r['kind'].replace(' ', '-')}'>{r['kind']}</td>"
                    f"<td>{r['count']}</td>" + "".join(f"<td>{html.escape(_cell(r, l))}</td>" for l, _ in PERCENTILES) + "</tr>")
    body.append("</table>")
    if throughput:
        body.append("<h2>Throughput</h2><table>" + "".join(
            f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in throughput.items()) + "</table>")
    body.append("<h2>Against the technology-selection note</h2><table><tr><th>path</th><th>typical</th><th>best case</th></tr>")
    for name, typ, best, _ in SEED_LATENCY_TABLE:
        body.append(f"<tr><td>{name}</td><td>{_fmt_ns(typ[0])} - {_fmt_ns(typ[1])}</td><td>{_fmt_ns(best[0])} - {_fmt_ns(best[1])}</td></tr>")
    if e2e:
        body.append(f"<tr><td><b>ringgate: {html.escape(e2e['name'])}</b> ({e2e['kind']})</td>"
                    f"<td>p50 {_fmt_ns(e2e['p50_ns'])}, p99 {_fmt_ns(e2e['p99_ns'])}</td><td>min {_fmt_ns(e2e['min_ns'])}</td></tr>")
    body.append("</table><h2>Histograms</h2>")
    body += [f"<img src='{p}' alt='{html.escape(s.name)}'>" for p, s in zip(pngs, stages)]
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}"
             ".exact{color:#1e7b34}.modelled{color:#9a6700}.projected{color:#8250df}.wall-clock{color:#555}")
    (out / "report.html").write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>ringgate report</title>"
                                     f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")
    paths = {"json": out / "report.json", "markdown": out / "summary.md", "html": out / "report.html"}
    paths.update({f"png{i}": out / p for i, p in enumerate(pngs)})
    return paths
