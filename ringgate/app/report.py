"""Latency reports: one self-contained HTML page (pictures embedded), ``report.json`` (a versioned,
documented schema: :mod:`ringgate.app.report_schema`) and ``summary.md``.

Every number carries its kind, because a performance engineer must know what to trust:

- ``exact``: counted in RTL simulation cycles (deterministic for the given stimulus);
- ``modelled``: from a model of something we do not simulate at RTL (the cocotbext-pcie link);
- ``projected``: documented allowances for what cannot be simulated here (hard IP, root complex),
  with public sources and a range;
- ``measured``: wall clock on this CPU in a real-time measurement (``ringgate latency``);
- ``wall clock``: depends on wall-clock timing inside a co-simulation (describes the simulator as much
  as the host; differs from run to run, also when counted in device cycles).

Percentiles are *observed* values (``inverted_cdf``): a p99 of 7 cycles means some entry took 7.

A report may carry, besides its stages: the run's latency **budget** from the first byte on the
wire to the WebSocket frame (:mod:`ringgate.app.latency.budget`: waterfall and like-for-like
figures), the **host** stages measured in real time (:mod:`ringgate.app.latency.replay`), and one
order's **timing** diagram (:mod:`ringgate.app.latency.timing`).
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .report_schema import SCHEMA_NAME, SCHEMA_VERSION

__all__ = ["Stage", "KINDS", "KIND_MEANING", "KIND_COLOURS", "PERCENTILES", "SEED_LATENCY_TABLE", "summarize",
           "write_report", "load_report", "fmt_ns", "fmt_band", "ReportError"]

KINDS = ("exact", "modelled", "projected", "measured", "wall clock")
KIND_MEANING = {
    "exact": "RTL simulation cycles, deterministic for the stimulus",
    "modelled": "a simulated model of what the RTL does not contain (cocotbext-pcie link)",
    "projected": "not simulated or measurable here: a range from published measurements",
    "measured": "wall clock on this CPU, real time (ringgate latency)",
    "wall clock": "depends on wall-clock timing inside the co-simulation (the simulator shares the CPU): "
                  "differs from run to run",
    "gap": "not covered by this run: its projected range",
}
KIND_COLOURS = {"exact": "#1e7b34", "modelled": "#b7791f", "projected": "#8250df", "measured": "#1f6feb",
                "wall clock": "#6e7781", "gap": "#9e9e9e"}
PERCENTILES = (("min", 0.0), ("p50", 50.0), ("p99", 99.0), ("p99.9", 99.9), ("max", 100.0))

# The technology-selection note's one-way "packet received -> in the ring buffer" latencies
# (seeds/000_22bf1ff623891f48.txt, section 6.0): typical and best-case ranges in ns.
SEED_LATENCY_TABLE = (
    ("epoll", (10_000, 50_000), (5_000, 20_000), "kernel stack, syscalls, context switches, scheduling jitter"),
    ("io_uring", (3_000, 15_000), (2_000, 8_000), "kernel-side work, copies"),
    ("DPDK", (500, 5_000), (300, 2_000), "PCIe DMA, user-space instructions"),
    ("FPGA", (20, 500), (20, 100), "clock cycles, PCIe link (on-chip 20-100 ns, PCIe DMA 100-300 ns)"),
)


class ReportError(ValueError):
    """A report file that cannot be read (the message says why)."""


@dataclass
class Stage:
    """One stage's per-entry latencies.

    Members
    -------
    name : str
    samples : numpy.ndarray
        One value per entry, in ``unit``.
    unit : str
        ``cycles`` or ``ns``.
    kind : str
        One of :data:`KINDS`.
    source : str
        How the samples were obtained; public sources for projected numbers.
    extra : dict
        More fields for the JSON row (e.g. an allowance's range, per-run percentiles).
    """
    name: str
    samples: np.ndarray
    unit: str = "cycles"            # "cycles" or "ns"
    kind: str = "exact"
    source: str = ""
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


def fmt_ns(ns: float, micro: str = "us") -> str:
    """A latency with a readable unit (``micro``: "us" for plain text, "µs" for figures)."""
    if ns >= 1_000_000:
        return f"{ns / 1e6:.3g} ms"
    if ns >= 1_000:
        return f"{ns / 1e3:.3g} {micro}"
    return f"{ns:.4g} ns"


def _cell(row: dict, label: str) -> str:
    if f"{label}_cycles" in row:
        return f"{row[f'{label}_cycles']} ({fmt_ns(row[f'{label}_ns'])})"
    return fmt_ns(row[f"{label}_ns"])


def fmt_band(pair, micro: str = "us") -> str:
    """A (low, high) band of latencies; one value when both print the same."""
    lo, hi = (fmt_ns(x, micro) for x in pair)
    return lo if lo == hi else f"{lo} - {hi}"


# -- the sections, as (markdown lines, html fragments) -------------------------------------

def _stage_table(rows: list[dict]) -> tuple[list[str], list[str]]:
    md = ["| stage | kind | n | " + " | ".join(l for l, _ in PERCENTILES) + " |",
          "|---|---|---:|" + "---:|" * len(PERCENTILES)]
    hx = ["<table><tr><th>stage</th><th>kind</th><th>n</th>" + "".join(f"<th>{l}</th>" for l, _ in PERCENTILES)
          + "</tr>"]
    for r in rows:
        md.append(f"| {r['name']} | {r['kind']} | {r['count']} | " + " | ".join(_cell(r, l) for l, _ in PERCENTILES)
                  + " |")
        hx.append(f"<tr><td>{html.escape(r['name'])}</td><td class='{r['kind'].replace(' ', '-')}'>{r['kind']}</td>"
                  f"<td>{r['count']}</td>" + "".join(f"<td>{html.escape(_cell(r, l))}</td>" for l, _ in PERCENTILES)
                  + "</tr>")
    hx.append("</table>")
    return md, hx


def _budget_section(b: dict) -> tuple[list[str], list[str]]:
    md = [f"From **{b['start']}** to the WebSocket frame. {b['method']}.", "",
          "| stage | kind | p50 | p99 | how |", "|---|---|---:|---:|---|"]
    hx = [f"<p>From <b>{html.escape(b['start'])}</b> to the WebSocket frame. {html.escape(b['method'])}.</p>",
          "<table><tr><th>stage</th><th>kind</th><th>p50</th><th>p99</th><th>how</th></tr>"]
    for s in b["segments"]:
        if "range_ns" in s:
            p50 = p99 = f"{fmt_band(s['range_ns'])} (typ. {fmt_ns(s['typical_ns'])})"
            how = s["how"].rstrip(".") + ". Sources: " + "; ".join(s["sources"])
        else:
            cyc = (lambda lbl: f" = {s[f'{lbl}_cycles']} cycles") if "p50_cycles" in s else (lambda lbl: "")
            p50, p99 = fmt_ns(s["p50_ns"]) + cyc("p50"), fmt_ns(s["p99_ns"]) + cyc("p99")
            how = s["how"]
        md.append(f"| {s['name']} | {s['kind']} | {p50} | {p99} | {how} |")
        hx.append(f"<tr><td>{html.escape(s['name'])}</td><td class='{s['kind']}'>{s['kind']}</td>"
                  f"<td>{html.escape(p50)}</td><td>{html.escape(p99)}</td><td class='how'>{html.escape(how)}</td></tr>")
    hx.append("</table>")
    md += ["", "| end to end | p50 | p99 | p99.9 | kinds | goal |", "|---|---:|---:|---:|---|---|"]
    hx.append("<table><tr><th>end to end</th><th>p50</th><th>p99</th><th>p99.9</th><th>kinds</th><th>goal</th></tr>")
    for t in b["totals"]:
        goal = ""
        if "goal_ns" in t:
            goal = ", ".join(f"{k} <= {fmt_ns(v)}" for k, v in t["goal_ns"].items())
            goal += ": met" if t["meets_goal"] else ": **not met**"
        cells = [fmt_band(t["p50_ns"]), fmt_band(t["p99_ns"]), fmt_band(t.get("p99.9_ns", t["p99_ns"]))]
        md.append(f"| {t['name']} | " + " | ".join(cells) + f" | {' + '.join(t['kinds'])} | {goal} |")
        hx.append(f"<tr><td>{html.escape(t['name'])}</td>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
                  + f"<td>{html.escape(' + '.join(t['kinds']))}</td><td>{html.escape(goal.replace('**', ''))}</td></tr>")
    hx.append("</table>")
    if b.get("notes"):
        md += [""] + [f"- {n}" for n in b["notes"]]
        hx.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in b["notes"]) + "</ul>")
    return md, hx


def _note_table(e2e: dict | None, budget: dict | None) -> tuple[list[str], list[str]]:
    md = ["| path | typical | best case | bottleneck |", "|---|---|---|---|"]
    hx = ["<table><tr><th>path</th><th>typical</th><th>best case</th><th>bottleneck</th></tr>"]
    for name, typ, best, why in SEED_LATENCY_TABLE:
        md.append(f"| {name} | {fmt_ns(typ[0])} - {fmt_ns(typ[1])} | {fmt_ns(best[0])} - {fmt_ns(best[1])} | {why} |")
        hx.append(f"<tr><td>{name}</td><td>{fmt_ns(typ[0])} - {fmt_ns(typ[1])}</td>"
                  f"<td>{fmt_ns(best[0])} - {fmt_ns(best[1])}</td><td>{html.escape(why)}</td></tr>")
    for t in (budget or {}).get("totals", []):
        cells = (f"p50 {fmt_band(t['p50_ns'])}, p99 {fmt_band(t['p99_ns'])}", " + ".join(t["kinds"]))
        md.append(f"| **ringgate (this run)**: {t['name']} | {cells[0]} | | {cells[1]} |")
        hx.append(f"<tr><td><b>ringgate: {html.escape(t['name'])}</b></td><td>{html.escape(cells[0])}</td><td></td>"
                  f"<td>{html.escape(cells[1])}</td></tr>")
    if e2e and not budget:
        md.append(f"| **ringgate (this run)**: {e2e['name']} | p50 {fmt_ns(e2e['p50_ns'])}, "
                  f"p99 {fmt_ns(e2e['p99_ns'])} | min {fmt_ns(e2e['min_ns'])} | {e2e['kind']} |")
        hx.append(f"<tr><td><b>ringgate: {html.escape(e2e['name'])}</b> ({e2e['kind']})</td>"
                  f"<td>p50 {fmt_ns(e2e['p50_ns'])}, p99 {fmt_ns(e2e['p99_ns'])}</td><td>min {fmt_ns(e2e['min_ns'])}</td>"
                  "<td></td></tr>")
    hx.append("</table>")
    return md, hx


def _host_section(host: dict) -> tuple[list[str], list[str]]:
    c, m = host["config"], host["machine"]
    head = (f"{c.get('orders', '?')} entries of exchange-core's mix per run at {c.get('rate', 0):,.0f} entries/s"
            f"{', bursts of ' + str(c['burst']) if c.get('burst', 1) > 1 else ''}; host on CPU {c.get('host_core')}, "
            f"device and client on CPU {c.get('device_core')}{', nice ' + str(c['nice']) if c.get('nice') else ''}; "
            f"machine: {m.get('cpu_model')}, {m.get('cpus')} CPUs, load average {m.get('loadavg')}"
            + (f" (at the end {m['loadavg_end']})" if m.get("loadavg_end") else ""))
    modes = host["modes"]
    names = [s["name"] for s in modes[0]["stages"]]
    md = [head, "", "| stage | " + " | ".join(f"{x['poll']} p50 / p99 / p99.9 / max" for x in modes) + " |",
          "|---|" + "---:|" * len(modes)]
    hx = [f"<p>{html.escape(head)}</p><table><tr><th>stage</th>"
          + "".join(f"<th>{html.escape(x['poll'])}: p50 / p99 / p99.9 / max</th>" for x in modes) + "</tr>"]
    for name in names:
        cells = []
        for x in modes:
            r = next((s for s in x["stages"] if s["name"] == name), None)
            cells.append(" / ".join(fmt_ns(r[f"{p}_ns"]) for p in ("p50", "p99", "p99.9", "max")) if r else "-")
        md.append(f"| {name} | " + " | ".join(cells) + " |")
        hx.append(f"<tr><td>{html.escape(name)}</td>" + "".join(f"<td>{html.escape(x)}</td>" for x in cells) + "</tr>")
    cpu = [f"{x['cpu_us_per_entry']:.1f} us (" + ", ".join(f"{k} {v:.1f}" for k, v in
                                                       x.get("thread_cpu_us_per_entry", {}).items()) + ")"
           for x in modes]
    md.append("| host CPU time per entry (threads) | " + " | ".join(cpu) + " |")
    other = [f"{x.get('other_processes_busy', float('nan')):.0%}" for x in modes]
    md.append("| CPU used by other processes during the run | " + " | ".join(other) + " |")
    hx.append("<tr><td>host CPU time per entry (threads)</td>" + "".join(f"<td>{html.escape(x)}</td>" for x in cpu)
              + "</tr><tr><td>CPU used by other processes during the run</td>"
              + "".join(f"<td>{x}</td>" for x in other) + "</tr></table>")
    return md, hx


def _png_hist(st: Stage, r: dict) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    s = st.samples
    if st.unit == "cycles" and np.all(s == np.round(s)) and s.max() - s.min() <= 200:
        lo, hi = int(s.min()), int(s.max())
        ax.bar(np.arange(lo, hi + 1), np.bincount((s - lo).astype(np.int64), minlength=hi - lo + 1),
               width=0.9, color=KIND_COLOURS[st.kind])
    else:
        ax.hist(s, bins=min(100, max(10, int(math.sqrt(s.size)))), color=KIND_COLOURS[st.kind])
    ax.set_yscale("log")
    ax.set_xlabel(st.unit)
    ax.set_ylabel("entries")
    ax.set_title(f"{st.name} [{st.kind}]", fontsize=9)
    for label in ("p50", "p99"):
        v = r.get(f"{label}_cycles", r.get(f"{label}_ns"))
        ax.axvline(v, color="#c0392b" if label == "p99" else "#27ae60", lw=1, label=f"{label} = {v:g}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


_STYLE = ("body{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#222}table{border-collapse:collapse;"
          "margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;vertical-align:top}"
          "td:first-child{text-align:left}td.how{text-align:left;font-size:85%;max-width:420px}"
          "figure{margin:1em 0}svg{max-width:100%;height:auto}details pre{font-size:80%;overflow-x:auto}"
          + "".join(f".{k.replace(' ', '-')}{{color:{c}}}" for k, c in KIND_COLOURS.items()))


def write_report(out_dir: Path | str, stages: Sequence[Stage], *, clock_mhz: float = 250.0,
                 throughput: dict | None = None, meta: dict | None = None, end_to_end: str | None = None,
                 config: dict | None = None, budget=None, host: dict | None = None,
                 timing: dict | None = None) -> dict[str, Path]:
    """Write ``report.json``, ``summary.md``, the self-contained ``report.html`` and, for the
    markdown, the figures (``stage<i>.png``, ``budget.svg``, ``comparison.svg``, ``timing.svg``).

    ``budget``: a :class:`ringgate.app.latency.budget.Budget`; ``host``: the real-time host
    measurement (``ringgate latency``'s JSON); ``timing``: a trace for
    :mod:`ringgate.app.latency.timing`."""
    if not stages:
        raise ValueError("a report needs at least one stage")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"created": _dt.datetime.now().isoformat(timespec="seconds"), **dict(meta or {})}
    throughput = dict(throughput or {})
    rows = [summarize(s, clock_mhz) for s in stages]
    e2e = next((r for r in rows if r["name"] == end_to_end), None) if end_to_end else None
    if end_to_end and e2e is None:
        raise ValueError(f"end-to-end stage {end_to_end!r} is not among the stages")
    title = meta.get("title", "ringgate latency report")
    doc = {"schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION, "meta": meta, "config": dict(config or {}),
           "clock_mhz": clock_mhz, "stages": rows, "end_to_end": end_to_end, "throughput": throughput,
           "budget": None, "host": host, "timing": None,
           "seed_latency_table_ns": [{"path": n, "typical": list(t), "best": list(b), "bottleneck": w}
                                     for n, t, b, w in SEED_LATENCY_TABLE]}
    paths = {"json": out / "report.json", "markdown": out / "summary.md", "html": out / "report.html"}
    figs_html: dict[str, str] = {}
    if budget is not None:
        from ringgate.app.latency.budget import comparison_svg, waterfall_svg
        doc["budget"] = budget.to_dict()
        for key, draw in (("budget", waterfall_svg), ("comparison", comparison_svg)):
            text = draw(budget)
            paths[key] = out / f"{key}.svg"
            paths[key].write_text(text)
            figs_html[key] = text
    if timing is not None:
        from ringgate.app.latency import timing as tm
        doc["timing"] = {"trace": timing, "wavejson": tm.wavejson(timing)}
        text = tm.svg(timing)
        paths["timing"] = out / "timing.svg"
        paths["timing"].write_text(text)
        figs_html["timing"] = text
    pngs = []
    for i, (st, r) in enumerate(zip(stages, rows)):
        data = _png_hist(st, r)
        paths[f"png{i}"] = out / f"stage{i}.png"
        paths[f"png{i}"].write_bytes(data)
        pngs.append(data)

    md = [f"# {title}", ""] + [f"- {k}: {v}" for k, v in meta.items() if k != "title"]
    md += [f"- clock: {clock_mhz:g} MHz ({1000 / clock_mhz:g} ns per cycle)",
           f"- report.json: schema {SCHEMA_NAME} version {SCHEMA_VERSION}", ""]
    hx = [f"<h1>{html.escape(title)}</h1><ul>"]
    hx += [f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in meta.items() if k != "title"]
    hx.append(f"<li>clock {clock_mhz:g} MHz; report.json: schema {SCHEMA_NAME} version {SCHEMA_VERSION}</li></ul>"
              "<p>Kinds: " + "; ".join(f"<span class='{k.replace(' ', '-')}'>{k}</span>: {html.escape(v)}"
                                      for k, v in KIND_MEANING.items()) + "</p>")

    def figure(key, caption):
        if key in figs_html:
            md.extend([f"![{caption}]({key}.svg)", ""])
            hx.append(f"<figure>{figs_html[key]}<figcaption>{html.escape(caption)}</figcaption></figure>")

    if doc["budget"]:
        bm, bh = _budget_section(doc["budget"])
        md += ["## Latency budget", ""] + bm + [""]
        hx += ["<h2>Latency budget</h2>"] + bh
        figure("budget", "waterfall: each stage from where the one before ended")
    md += ["## Against the technology-selection note (one way, packet received -> ring buffer)", ""]
    nm, nh = _note_table(e2e, doc["budget"])
    md += nm + [""]
    hx += ["<h2>Against the technology-selection note</h2>"] + nh
    figure("comparison", "like for like, log scale")
    if timing is not None:
        md += ["## One order, cycle by cycle", ""]
        hx.append("<h2>One order, cycle by cycle</h2>")
        figure("timing", "from the co-simulation's per-cycle trace (WaveJSON in report.json)")
        hx.append("<details><summary>WaveJSON (paste into WaveDrom)</summary><pre>"
                  + html.escape(json.dumps(doc["timing"]["wavejson"])) + "</pre></details>")
    if host:
        hm, hh = _host_section(host)
        md += ["## Host stages in real time (ringgate latency)", ""] + hm + [""]
        hx += ["<h2>Host stages in real time</h2>"] + hh
    sm, sh = _stage_table(rows)
    md += ["## Per stage (cycles, with ns in brackets)", ""] + sm
    hx += ["<h2>Per stage</h2>"] + sh
    sources = [r for r in rows if r["source"]]
    if sources:
        md += ["", "Sources:", ""] + [f"- {r['name']}: {r['source']}" for r in sources]
        hx.append("<details><summary>sources</summary><ul>" + "".join(
            f"<li>{html.escape(r['name'])}: {html.escape(r['source'])}</li>" for r in sources) + "</ul></details>")
    if throughput:
        md += ["", "## Throughput", "", "| measure | value |", "|---|---|"]
        md += [f"| {k} | {v} |" for k, v in throughput.items()]
        hx.append("<h2>Throughput</h2><table>" + "".join(
            f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in throughput.items())
            + "</table>")
    md += ["", "## Histograms", ""] + [f"![{r['name']}](stage{i}.png)" for i, r in enumerate(rows)]
    hx.append("<h2>Histograms</h2>")
    hx += [f"<img src='data:image/png;base64,{base64.b64encode(p).decode()}' alt='{html.escape(r['name'])}'>"
           for p, r in zip(pngs, rows)]
    paths["markdown"].write_text("\n".join(md) + "\n")
    paths["json"].write_text(json.dumps(doc, indent=2, default=_json_default))
    paths["html"].write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                             f"<style>{_STYLE}</style></head><body>{''.join(hx)}</body></html>\n")
    return paths


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def load_report(path: Path | str) -> dict:
    """A report.json (or the directory holding it), any schema version, as a version-2 document:
    a version-1 report (no ``schema`` field) gains empty ``config``, ``budget``, ``host``, ``timing``."""
    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise ReportError(f"{p}: no such report (give a report directory or its report.json)") from None
    except json.JSONDecodeError as e:
        raise ReportError(f"{p}: not JSON ({e})") from None
    if not isinstance(doc, dict) or "stages" not in doc:
        raise ReportError(f"{p}: not a ringgate latency report (no stages)")
    name, version = doc.get("schema", SCHEMA_NAME), doc.get("schema_version", 1)
    if name != SCHEMA_NAME:
        raise ReportError(f"{p}: schema {name!r}, expected {SCHEMA_NAME!r}")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ReportError(f"{p}: schema version {version!r} is newer than this ringgate reads ({SCHEMA_VERSION})")
    for key in ("config", "throughput", "meta"):
        doc.setdefault(key, {})
    for key in ("budget", "host", "timing", "end_to_end"):
        doc.setdefault(key, None)
    doc["schema_version_read"] = version
    doc["path"] = str(p)
    return doc
