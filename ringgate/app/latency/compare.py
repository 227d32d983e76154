"""``ringgate report compare OLD NEW``: what a change did to the latency.

Stages are matched by name (and, for the host stages, by poll mode). How a difference is judged
depends on how the stage is known:

- ``exact`` (RTL cycles): every percentile (min, p50, p99, p99.9, max) in cycles; any increase
  beyond ``tolerance`` cycles is a **regression** and makes the command exit with status 1, so a
  benchmark or CI step can flag it. Cycle counts are deterministic for a stimulus: the two runs
  must have the same ``config`` (orders, load, seed, design parameters), else the comparison is
  refused (status 2) unless allowed explicitly;
- ``measured`` (real time on a CPU): p50 and p99 with each run's spread across its repeats
  (``runs``): a change is reported as *slower* or *faster* only when the two spreads do not
  overlap, otherwise *within spread*; never a failure (the machine is shared and noisy);
- ``modelled``, ``projected``, ``wall clock``: the difference in ns, for information;
- the budget's end-to-end totals: their p50 and p99 bands.
"""
from __future__ import annotations

import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from ringgate.app.report import KIND_COLOURS, fmt_band, fmt_ns, load_report

__all__ = ["compare", "Comparison", "write_comparison", "EXIT_REGRESSION", "EXIT_NOT_COMPARABLE"]

EXIT_REGRESSION = 1
EXIT_NOT_COMPARABLE = 2
_EXACT_PCTS = ("min", "p50", "p99", "p99.9", "max")
_HOST_FULL = "host ring full (cycles)"


@dataclass
class Comparison:
    """The result of comparing two reports.

    Members
    -------
    rows : list of dict
        One per matched stage: name, kind, unit, old/new/delta per percentile, verdict.
    regressions : list of str
        Exact stages that got slower (the reason for a non-zero exit).
    config_diff : dict
        Config keys whose values differ: key -> (old, new).
    only_old, only_new : list of str
        Stages present in one report only.
    notes : list of str
        What limits the verdicts (e.g. the host held the device back differently in the two runs).
    """
    old: str
    new: str
    rows: list = field(default_factory=list)
    regressions: list = field(default_factory=list)
    config_diff: dict = field(default_factory=dict)
    only_old: list = field(default_factory=list)
    only_new: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"old": self.old, "new": self.new, "rows": self.rows, "regressions": self.regressions,
                "config_diff": {k: list(v) for k, v in self.config_diff.items()},
                "only_old": self.only_old, "only_new": self.only_new, "notes": self.notes}


def _stages(doc: dict) -> dict[str, dict]:
    out = {s["name"]: s for s in doc["stages"]}
    for mode in (doc.get("host") or {}).get("modes", []):
        for s in mode["stages"]:
            out[f"host [{mode['poll']}]: {s['name']}"] = s
    return out


def _spread(row: dict, label: str) -> tuple[float, float]:
    runs = row.get("runs") or []
    vals = [r[f"{label}_ns"] for r in runs if f"{label}_ns" in r]
    if len(vals) >= 2:
        return min(vals), max(vals)
    v = row[f"{label}_ns"]
    return v, v


def _exact_row(name, o, n, tolerance) -> tuple[dict, bool]:
    row = {"name": name, "kind": "exact", "unit": "cycles", "old": {}, "new": {}, "delta": {}}
    worse = []
    for p in _EXACT_PCTS:
        a, b = o.get(f"{p}_cycles"), n.get(f"{p}_cycles")
        if a is None or b is None:
            continue
        row["old"][p], row["new"][p], row["delta"][p] = a, b, b - a
        if b - a > tolerance:
            worse.append(f"{p} {a} -> {b}")
    better = any(d < 0 for d in row["delta"].values())
    row["verdict"] = ("REGRESSION: " + ", ".join(worse)) if worse else ("faster" if better else "same")
    return row, bool(worse)


def _measured_row(name, kind, o, n) -> dict:
    row = {"name": name, "kind": kind, "unit": "ns", "old": {}, "new": {}, "delta": {}, "spread": {}}
    verdicts = []
    for p in ("p50", "p99"):
        a, b = o[f"{p}_ns"], n[f"{p}_ns"]
        row["old"][p], row["new"][p], row["delta"][p] = a, b, b - a
        (olo, ohi), (nlo, nhi) = _spread(o, p), _spread(n, p)
        row["spread"][p] = {"old": [olo, ohi], "new": [nlo, nhi]}
        if kind != "measured" or (olo == ohi and nlo == nhi):
            continue
        if nlo > ohi:
            verdicts.append(f"{p} slower")
        elif nhi < olo:
            verdicts.append(f"{p} faster")
    if kind == "measured":
        single = not (o.get("runs") and n.get("runs"))
        row["verdict"] = ("single runs: no spread to judge by" if single
                          else ", ".join(verdicts) + " (outside the spread)" if verdicts else "within spread")
    else:
        row["verdict"] = "information"
    return row


def compare(old, new, *, tolerance_cycles: int = 0) -> Comparison:
    """Compare two reports (paths, directories or loaded documents)."""
    a = old if isinstance(old, dict) else load_report(old)
    b = new if isinstance(new, dict) else load_report(new)
    c = Comparison(a.get("path", "old"), b.get("path", "new"))
    ca, cb = a.get("config") or {}, b.get("config") or {}
    c.config_diff = {k: (ca.get(k), cb.get(k)) for k in sorted(set(ca) | set(cb)) if ca.get(k) != cb.get(k)}
    # A full host ring stalls the DMA writer, so the exact stages then count the host's speed too.
    fa, fb = ((d.get("throughput") or {}).get(_HOST_FULL) for d in (a, b))
    if fa != fb and fa is not None and fb is not None:
        c.notes.append(f"the host ring was full for {fa} cycle(s) in the old run and {fb} in the new one: the host "
                       "held the device back differently, so the exact stages also depend on the host's speed "
                       "in these runs")
    sa, sb = _stages(a), _stages(b)
    c.only_old = [k for k in sa if k not in sb]
    c.only_new = [k for k in sb if k not in sa]
    for name, o in sa.items():
        n = sb.get(name)
        if n is None:
            continue
        if o["kind"] == "exact" and n["kind"] == "exact" and "p50_cycles" in o and "p50_cycles" in n:
            row, bad = _exact_row(name, o, n, tolerance_cycles)
            if bad:
                c.regressions.append(f"{name}: {row['verdict'].removeprefix('REGRESSION: ')}")
        else:
            row = _measured_row(name, n["kind"], o, n)
        c.rows.append(row)
    ta = {t["name"]: t for t in (a.get("budget") or {}).get("totals", [])}
    for t in (b.get("budget") or {}).get("totals", []):
        o = ta.get(t["name"])
        if o is None:
            continue
        row = {"name": f"total: {t['name']}", "kind": "total", "unit": "ns", "old": {}, "new": {}, "delta": {}}
        for p in ("p50", "p99"):
            row["old"][p], row["new"][p] = o[f"{p}_ns"], t[f"{p}_ns"]
            row["delta"][p] = [t[f"{p}_ns"][0] - o[f"{p}_ns"][0], t[f"{p}_ns"][1] - o[f"{p}_ns"][1]]
        row["verdict"] = "information"
        c.rows.append(row)
    return c


# -- output ---------------------------------------------------------------------------------

def _val(row, side, p) -> str:
    v = row[side].get(p)
    if v is None:
        return "-"
    if row["unit"] == "cycles":
        return str(v)
    if isinstance(v, list):
        return fmt_band(v)
    return fmt_ns(v)


def _delta(row, p) -> str:
    d = row["delta"].get(p)
    if d is None:
        return "-"
    if row["unit"] == "cycles":
        return f"{d:+d}" if isinstance(d, int) else f"{d:+g}"
    if isinstance(d, list):
        return f"{d[0]:+,.0f}..{d[1]:+,.0f} ns"
    old = row["old"].get(p)
    pct = f" ({d / old:+.0%})" if old else ""
    return f"{d:+,.0f} ns{pct}"


def markdown(c: Comparison) -> str:
    lines = [f"# Latency: {c.old} -> {c.new}", ""]
    if c.config_diff:
        lines += ["Configs differ (exact stages are comparable only for one stimulus): "
                  + ", ".join(f"`{k}` {v[0]!r} -> {v[1]!r}" for k, v in c.config_diff.items()), ""]
    lines += ["| stage | kind | p50 old -> new | delta | p99 old -> new | delta | verdict |",
              "|---|---|---:|---:|---:|---:|---|"]
    for r in c.rows:
        lines.append(f"| {r['name']} | {r['kind']} | {_val(r, 'old', 'p50')} -> {_val(r, 'new', 'p50')} | "
                     f"{_delta(r, 'p50')} | {_val(r, 'old', 'p99')} -> {_val(r, 'new', 'p99')} | {_delta(r, 'p99')} | "
                     f"{r['verdict']} |")
    for label, names in (("only in the old report", c.only_old), ("only in the new report", c.only_new)):
        if names:
            lines += ["", f"Stages {label}: " + "; ".join(names)]
    lines += [x for note in c.notes for x in ("", f"Note: {note}.")]
    lines += ["", ("**Exact-cycle regressions:** " + "; ".join(c.regressions)) if c.regressions
              else "No exact-cycle regression."]
    return "\n".join(lines) + "\n"


def figure_svg(c: Comparison) -> str:
    """Relative change of p50 and p99 per stage (exact, measured with the old/new spreads)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in c.rows if r["kind"] != "total" and r["old"].get("p50")]
    fig, ax = plt.subplots(figsize=(10, 0.42 * max(len(rows), 1) + 1.6), dpi=100)
    for i, r in enumerate(rows):
        y = len(rows) - i
        for off, p in ((0.17, "p50"), (-0.17, "p99")):
            old, new = r["old"].get(p), r["new"].get(p)
            if not old:
                continue
            rel = (new - old) / old * 100
            ax.barh(y + off, rel, height=0.3, color=KIND_COLOURS.get(r["kind"], "#999"),
                    alpha=1.0 if p == "p50" else 0.55)
            sp = r.get("spread", {}).get(p)
            if sp and sp["old"][0] != sp["old"][1]:
                lo, hi = ((x - old) / old * 100 for x in sp["old"])
                ax.plot([lo, hi], [y + off] * 2, color="black", lw=1)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks([len(rows) - i for i in range(len(rows))], [f"{r['name']} [{r['kind']}]" for r in rows], fontsize=7)
    ax.set_xlabel("change, % (upper bar p50, lower bar p99; black: the old run's spread across repeats)")
    ax.set_title("what the change did to the latency", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    s = buf.getvalue()
    return s[s.index("<svg"):]


def write_comparison(c: Comparison, out: Path) -> dict[str, Path]:
    """compare.json, compare.md and a self-contained compare.html (with the figure) in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    md = markdown(c)
    fig = figure_svg(c)
    paths = {"json": out / "compare.json", "markdown": out / "compare.md", "html": out / "compare.html",
             "svg": out / "compare.svg"}
    paths["json"].write_text(json.dumps(c.to_dict(), indent=2))
    paths["markdown"].write_text(md + "\n![change per stage](compare.svg)\n")
    paths["svg"].write_text(fig)
    rows = "".join(
        f"<tr><td>{html.escape(r['name'])}</td><td>{r['kind']}</td><td>{html.escape(_val(r, 'old', 'p50'))} -> "
        f"{html.escape(_val(r, 'new', 'p50'))}</td><td>{html.escape(_delta(r, 'p50'))}</td>"
        f"<td>{html.escape(_val(r, 'old', 'p99'))} -> {html.escape(_val(r, 'new', 'p99'))}</td>"
        f"<td>{html.escape(_delta(r, 'p99'))}</td><td>{html.escape(r['verdict'])}</td></tr>" for r in c.rows)
    verdict = ("<p><b>Exact-cycle regressions:</b> " + html.escape("; ".join(c.regressions)) + "</p>"
               if c.regressions else "<p>No exact-cycle regression.</p>")
    cfg = ("<p>Configs differ: " + html.escape(", ".join(f"{k} {v[0]!r} -> {v[1]!r}" for k, v in c.config_diff.items()))
           + "</p>" if c.config_diff else "")
    cfg += "".join(f"<p>Note: {html.escape(n)}.</p>" for n in c.notes)
    paths["html"].write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>ringgate latency comparison</title><style>"
        "body{font-family:sans-serif;max-width:1150px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}"
        "svg{max-width:100%;height:auto}</style></head><body>"
        f"<h1>Latency: {html.escape(c.old)} &rarr; {html.escape(c.new)}</h1>{cfg}{verdict}"
        "<table><tr><th>stage</th><th>kind</th><th>p50 old -> new</th><th>delta</th><th>p99 old -> new</th>"
        f"<th>delta</th><th>verdict</th></tr>{rows}</table><figure>{fig}</figure></body></html>\n")
    return paths
