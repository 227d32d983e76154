"""The latency budget of one run: first byte on the wire to the WebSocket frame, stage by stage,
each labelled by how it is known, and the two figures drawn from it.

A budget is a list of :class:`Segment` s that follow each other in time. A segment is known as

- ``exact``: RTL cycles from the simulation, per entry (deterministic for the stimulus);
- ``modelled``: from a model we simulate (the cocotbext-pcie link), per entry;
- ``projected``: not simulated and not measurable here (the PCIe hard block, link and root
  complex): a range from published measurements, with the sources;
- ``measured``: wall clock on this CPU (the real-time replay of :mod:`.replay`), per entry;
- ``gap``: a stage the run does not cover yet, shown with its projected range.

Per segment the budget gives p50 and p99 (a projected one: its range). End-to-end figures
(:func:`composite`) combine segments as independent random variables: per-entry samples are
drawn at random from each sampled segment and added, once with every projected segment at the
low end of its range and once at the high end; the percentiles of those sums are the band.
Independence is an assumption (the FPGA part is nearly constant at the loads measured, so it
hardly matters); summing per-stage p99s instead would overstate the tail.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from ringgate.app.report import KIND_COLOURS, SEED_LATENCY_TABLE, fmt_band, fmt_ns

__all__ = ["Projection", "PCIE_ONE_WAY", "WIRE_TO_RING", "Segment", "Budget", "composite", "build_budget",
           "waterfall_svg", "comparison_svg", "GOALS"]


@dataclass(frozen=True)
class Projection:
    """A stage we cannot simulate or measure here: a range (ns) and where it comes from."""
    name: str
    range_ns: tuple[float, float]
    typical_ns: float
    sources: tuple[str, ...]

    def __post_init__(self):
        lo, hi = self.range_ns
        if not 0 <= lo <= self.typical_ns <= hi:
            raise ValueError(f"{self.name}: need 0 <= low <= typical <= high, not {lo}, {self.typical_ns}, {hi}")


# One-way "last RQ beat leaves the fabric -> cursor line visible to the CPU": the hard block's TX
# pipeline, PHY, link, root complex and the write into the cache hierarchy. No public source
# measures exactly this; the published round trips bracket it.
PCIE_ONE_WAY = Projection(
    "PCIe: hard block + link + root complex (one way, posted write)", (273.0, 600.0), 425.0, (
        "pcie-bench (Neugebauer et al., 'Understanding PCIe performance for end host networking', "
        "SIGCOMM 2018): 64-byte DMA read 546 ns median on a Xeon E5 (a round trip: half of it, 273 ns, "
        "is the low end for one direction), a write followed by a read 773 ns",
        "hackingnasdaq.blogspot.com/2014/05/pcie-latency.html: ~850 ns FPGA -> host -> FPGA on a Virtex-7 "
        "Gen3 x8 with an i7-4771 (425 ns each way: the typical value)",
        "Algo-Logic FPGA-host data mover (algo-logic.com/ull-framework-intel-pac-d5005): ~600 ns in each "
        "direction (the high end)",
    ))

# First byte on the wire (the MAC's receive AXI-Stream) -> entry published in the BRAM ring, for a
# run that starts at ring accept: the ingress parser's design goal and the measured chain it is
# held against, plus the crossing into the 250 MHz domain.
WIRE_TO_RING = Projection(
    "wire: first byte on the MAC's AXI-Stream -> published in the BRAM ring", (115.2, 252.8), 163.2, (
        "ingress design goal: <= 18 cycles at the 10G MAC clock (156.25 MHz, 6.4 ns) from the first "
        "byte to published, + <= 4 user-clock cycles (250 MHz) of clock crossing: 115-131 ns",
        "verilog-ethernet UDP receive chain, measured: 23 cycles cut-through (147 ns), 37 store-and-"
        "forward (237 ns); + 4 user-clock cycles: up to 253 ns (the high end)",
    ))

# The goals for the host stages (quiet core, busy polling) and for wire -> engine result.
GOALS = {
    "cursor visible -> consumer callback": {"p50": 2_000.0, "p99": 10_000.0},
    "cursor visible -> engine result": {"p50": 5_000.0, "p99": 20_000.0},
    "cursor visible -> WebSocket frame written": {"p99": 100_000.0},
    "wire -> engine result": {"p99": 10_000.0},
}


@dataclass
class Segment:
    """One stage of the budget.

    Members
    -------
    name : str
    kind : str
        ``exact``, ``modelled``, ``projected``, ``measured`` or ``gap``.
    how : str
        How it is known (one line).
    samples_ns : numpy.ndarray or None
        Per-entry values for sampled kinds.
    projection : Projection or None
        The range of a ``projected`` or ``gap`` segment.
    cycles : numpy.ndarray or None
        The exact cycle counts behind ``samples_ns`` (shown next to the ns).
    group, entries : str and numpy.ndarray, or None
        Segments of one group measured the same entries (``entries``: the entry of each
        sample): an end-to-end figure adds them entry by entry instead of as independent draws.
    """
    name: str
    kind: str
    how: str
    samples_ns: np.ndarray | None = None
    projection: Projection | None = None
    cycles: np.ndarray | None = None
    group: str | None = None
    entries: np.ndarray | None = None

    def __post_init__(self):
        if self.kind not in ("exact", "modelled", "projected", "measured", "gap"):
            raise ValueError(f"segment {self.name!r}: unknown kind {self.kind!r}")
        ranged = self.kind in ("projected", "gap")
        if ranged != (self.projection is not None) or ranged == (self.samples_ns is not None):
            raise ValueError(f"segment {self.name!r}: a {self.kind} segment needs "
                             f"{'a projection' if ranged else 'samples'} and nothing else")
        if self.samples_ns is not None:
            s = np.asarray(self.samples_ns, np.float64)
            if s.ndim != 1 or not s.size or not np.isfinite(s).all() or (s < 0).any():
                raise ValueError(f"segment {self.name!r}: need finite non-negative samples")
            self.samples_ns = s
            if self.group is not None:
                if self.entries is None:
                    self.entries = np.arange(s.size)
                if len(self.entries) != s.size:
                    raise ValueError(f"segment {self.name!r}: one entry id per sample")

    def percentile(self, q: float) -> tuple[float, float]:
        """(low, high) of the q-th percentile: equal for sampled segments, the range otherwise."""
        if self.samples_ns is None:
            return self.projection.range_ns
        v = float(np.percentile(self.samples_ns, q, method="inverted_cdf"))
        return v, v

    def row(self) -> dict:
        r = {"name": self.name, "kind": self.kind, "how": self.how}
        if self.samples_ns is not None:
            r["count"] = int(self.samples_ns.size)
            for label, q in (("p50", 50), ("p99", 99)):
                r[f"{label}_ns"] = self.percentile(q)[0]
            if self.cycles is not None:
                for label, q in (("p50", 50), ("p99", 99)):
                    r[f"{label}_cycles"] = int(np.percentile(self.cycles, q, method="inverted_cdf"))
        else:
            p = self.projection
            r["range_ns"] = list(p.range_ns)
            r["typical_ns"] = p.typical_ns
            r["sources"] = list(p.sources)
        return r


def _variables(segments: list[Segment]) -> list[np.ndarray]:
    """The independent random variables of a sum: one per ungrouped sampled segment, one per
    group (its segments added entry by entry, over the entries all of them measured)."""
    out, groups = [], {}
    for s in segments:
        if s.samples_ns is None:
            continue
        if s.group is None:
            out.append(s.samples_ns)
        else:
            groups.setdefault(s.group, []).append(s)
    for segs in groups.values():
        common = segs[0].entries
        for s in segs[1:]:
            common = np.intersect1d(common, s.entries)
        total = np.zeros(len(common))
        for s in segs:
            total += s.samples_ns[np.searchsorted(s.entries, common)]
        out.append(total)
    return out


def composite(segments: list[Segment], quantiles=(50.0, 99.0, 99.9), *, draws: int = 200_000,
              seed: int = 0) -> dict:
    """Percentiles of the sum of ``segments`` as (low, high) per quantile: groups added entry by
    entry, independent variables by random draws, projected ranges at both ends."""
    if not segments:
        raise ValueError("composite of no segments")
    rng = np.random.default_rng(seed)
    base = np.zeros(draws)
    lo_add = sum(s.projection.range_ns[0] for s in segments if s.samples_ns is None)
    hi_add = sum(s.projection.range_ns[1] for s in segments if s.samples_ns is None)
    for v in _variables(segments):
        if v.size == 0:
            raise ValueError("a group of segments with no entry in common")
        if v.size == 1 or np.ptp(v) == 0:
            base += v[0]
        else:
            base += rng.choice(v, draws)
    out = {}
    for q in quantiles:
        v = float(np.percentile(base, q))
        out[q] = (v + lo_add, v + hi_add)
    return out


@dataclass
class Budget:
    """The segments of a run from its start to the WebSocket frame, and the end-to-end totals."""
    segments: list[Segment]
    start: str
    totals: dict[str, int] = field(default_factory=dict)     # name -> number of leading segments
    notes: list[str] = field(default_factory=list)

    def total(self, name: str) -> dict:
        k = self.totals[name]
        c = composite(self.segments[:k])
        return {"name": name, "segments": k, **{f"p{q:g}_ns": list(v) for q, v in c.items()},
                "kinds": sorted({s.kind for s in self.segments[:k]})}

    def to_dict(self) -> dict:
        totals = [self.total(n) for n in self.totals]
        for t in totals:
            goal = GOALS.get(t["name"])
            if goal:
                t["goal_ns"] = goal
                t["meets_goal"] = all(t[f"{k}_ns"][1] <= v for k, v in goal.items())
        return {"start": self.start, "method": "Per segment: p50 and p99 of its per-entry samples. Totals: "
                "segments measured on the same entries added entry by entry, the rest as independent "
                "random draws, projected segments at the low and the high end of their ranges",
                "segments": [s.row() for s in self.segments], "totals": totals,
                "notes": list(self.notes)}


def build_budget(c_first: np.ndarray, c_cursor: np.ndarray, *, clock_mhz: float, host: dict | None = None,
                 host_label: str = "", wire_ns: np.ndarray | None = None, wire_how: str = "",
                 pcie: Projection = PCIE_ONE_WAY, modelled_link_ns: np.ndarray | None = None) -> Budget:
    """The budget of a run from its per-entry stages.

    ``c_first`` / ``c_cursor``: exact cycles from publication in the BRAM ring to the first RQ beat
    of the entry's data TLP and to the last RQ beat of the cursor TLP that announced it;
    ``host``: per-entry stamps (ns) of the real-time replay (``cursor``, ``callback``, ``result``,
    ``written``), or None when the host was not measured; ``wire_ns``: exact first byte on the
    wire -> published, when the run starts at the wire (else a projected gap)."""
    ns = 1000.0 / clock_mhz
    c_first, c_cursor = np.asarray(c_first), np.asarray(c_cursor)
    segs = []
    if wire_ns is not None:
        segs.append(Segment("first byte on the wire -> published in the BRAM ring", "exact",
                            wire_how or "RTL cycles from the MAC's receive AXI-Stream", np.asarray(wire_ns, float)))
        start = "the first byte on the wire"
    else:
        segs.append(Segment(WIRE_TO_RING.name, "gap", "not in this run (it starts at ring accept): the "
                            "ingress design's goal and the measured chain it is held against", projection=WIRE_TO_RING))
        start = "the first byte on the wire (the wire stages before ring accept: a projected gap)"
    segs.append(Segment("published -> first RQ beat of its data TLP", "exact",
                        f"RTL cycles (Verilator) at {clock_mhz:g} MHz", c_first * ns, cycles=c_first, group="rtl"))
    segs.append(Segment("first RQ beat -> last RQ beat of the cursor TLP", "exact",
                        "RTL cycles: the data TLP's beats, then the cursor TLP that announces the entry",
                        (c_cursor - c_first) * ns, cycles=c_cursor - c_first, group="rtl"))
    how = "not simulated (AMD's PG213 gives no latency for the hard block)"
    if modelled_link_ns is not None and len(modelled_link_ns):
        how += (f"; the cocotbext-pcie link model adds only serialisation + 10 ns "
                f"(p50 {_fmt(float(np.median(modelled_link_ns)))}), a lower bound")
    segs.append(Segment(pcie.name, "projected", how, projection=pcie))
    totals = {"wire -> entry visible in host memory": len(segs)}
    notes = []
    if host is not None:
        src = f"measured on this CPU in real time ({host_label})" if host_label else "measured on this CPU in real time"
        ok = host["written"] >= 0
        ids = np.arange(len(ok))
        segs += [
            Segment("cursor visible -> consumer callback", "measured", src, host["callback"] - host["cursor"],
                    group="host"),
            Segment("consumer callback -> engine result", "measured", src + "; ring feed, sequencer thread, engine",
                    host["result"] - host["callback"], group="host"),
            Segment("engine result -> WebSocket frame written", "measured", src + "; registry, topics, the event "
                    "loop's flush into the client's transport", (host["written"] - host["result"])[ok],
                    group="host", entries=ids[ok]),
        ]
        totals["wire -> engine result"] = len(segs) - 1
        totals["wire -> WebSocket frame written"] = len(segs)
        if not ok.all():
            notes.append(f"{int((~ok).sum())} entries had no WebSocket update of their own (refused cancels, "
                         "moves and reduces change no order)")
    else:
        notes.append("the host stages were not measured in this run (ringgate run --no-host): the budget ends "
                     "where the cursor line becomes visible")
    return Budget(segs, start, totals, notes)


# -- figures (matplotlib, SVG text for the self-contained HTML) ------------------------------

def _fmt(ns: float) -> str:
    return fmt_ns(ns, "µs")


def _band(lo: float, hi: float) -> str:
    return fmt_band((lo, hi), "µs")


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def waterfall_svg(budget: Budget, title: str = "") -> str:
    """Each stage as a bar from where the previous one ended (at p50) to its own p50 end, a
    whisker to its p99 end, on a log time axis from the start; projected stages as their range."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    segs = budget.segments
    fig, ax = plt.subplots(figsize=(11, 0.55 * len(segs) + 2.2), dpi=100)
    t50 = 0.0
    floor = 1.0
    ys, right = [], []
    for i, s in enumerate(segs):
        y = len(segs) - i
        ys.append(y)
        lo50, _ = s.percentile(50)
        _, hi99 = s.percentile(99)
        colour = KIND_COLOURS[s.kind]
        start = max(t50, floor)
        if s.samples_ns is None:                      # a range: solid to the low end, hatched to the high end
            lo, hi = s.projection.range_ns
            ax.barh(y, t50 + hi - start, left=start, height=0.55, color=colour, alpha=0.25, hatch="//",
                    edgecolor=colour)
            ax.barh(y, t50 + lo - start, left=start, height=0.55, color=colour, alpha=0.85)
            label, end = f"{_band(lo, hi)} (typ. {_fmt(s.projection.typical_ns)})", t50 + hi
            t50 += s.projection.typical_ns
        else:
            ax.barh(y, max(t50 + lo50 - start, 1e-3), left=start, height=0.55, color=colour)
            ax.plot([t50 + lo50, t50 + hi99], [y, y], color="black", lw=1)
            ax.plot([t50 + hi99] * 2, [y - 0.15, y + 0.15], color="black", lw=1)
            label, end = f"p50 {_fmt(lo50)}, p99 {_fmt(hi99)}", t50 + hi99
            t50 += lo50
        right.append((y, end, label))
    top = max(e for _, e, _ in right)
    for y, end, label in right:
        ax.text(max(end, floor) * 1.15, y, label, va="center", fontsize=8)
    ax.set_yticks(ys, [f"{s.name}\n[{s.kind}]" for s in segs], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(floor, max(top * 300, 1e4))
    ax.set_xlabel(f"ns since {budget.start.split(' (')[0]} (log scale)")
    kinds = list(dict.fromkeys(s.kind for s in segs))
    handles = [plt.Rectangle((0, 0), 1, 1, color=KIND_COLOURS[k]) for k in kinds]
    ax.legend(handles, kinds, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title or "latency budget: each stage starts where the one before ended at p50 "
                 "(bar = p50, whisker = p99; hatched = projected range)", fontsize=10)
    ax.grid(axis="x", which="major", alpha=0.3)
    fig.tight_layout()
    return _svg(fig)


def comparison_svg(budget: Budget, title: str = "") -> str:
    """The note's one-way receive -> ring buffer bands (typical and best case) against this
    run's totals, like for like, on a log axis."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    totals = [budget.total(n) for n in budget.totals]
    rows = len(SEED_LATENCY_TABLE) + len(totals)
    hi_all = max([t["p99_ns"][1] for t in totals] + [SEED_LATENCY_TABLE[0][1][1]])
    fig, ax = plt.subplots(figsize=(11, 0.55 * rows + 1.8), dpi=100)
    y = rows
    labels, ys = [], []
    for name, typ, best, _ in SEED_LATENCY_TABLE:
        ax.barh(y + 0.1, typ[1] - typ[0], left=typ[0], height=0.4, color="#b0bec5",
                label="note: typical" if y == rows else None)
        ax.barh(y - 0.22, best[1] - best[0], left=best[0], height=0.2, color="#607d8b",
                label="note: best case" if y == rows else None)
        ax.text(typ[1] * 1.15, y, f"{_fmt(typ[0])} – {_fmt(typ[1])} (best {_fmt(best[0])} – {_fmt(best[1])})",
                va="center", fontsize=8, color="#455a64")
        labels.append(f"{name} (note)")
        ys.append(y)
        y -= 1
    for t in totals:
        lo50, hi50 = t["p50_ns"]
        lo99, hi99 = t["p99_ns"]
        colour = KIND_COLOURS["measured" if "measured" in t["kinds"] else "exact"]
        ax.barh(y, max(hi99 - lo50, lo50 * 0.05), left=lo50, height=0.5, color=colour, alpha=0.25)
        ax.plot([lo50, max(hi50, lo50 * 1.02)], [y, y], color=colour, lw=7, solid_capstyle="butt")
        ax.plot([lo99, max(hi99, lo99 * 1.02)], [y, y], color="black", lw=2.5, solid_capstyle="butt")
        ax.plot([(lo50 * hi50) ** 0.5], [y], "o", color=colour, ms=7, mec="black", mew=0.5)
        ax.plot([(lo99 * hi99) ** 0.5], [y], "D", color="black", ms=5)
        ax.text(hi99 * 1.3, y, f"p50 {_band(lo50, hi50)}, p99 {_band(lo99, hi99)}", va="center", fontsize=8)
        goal = GOALS.get(t["name"], {}).get("p99")
        if goal:
            ax.plot([goal, goal], [y - 0.35, y + 0.35], color="#c0392b", lw=1.5, ls="--")
            ax.text(goal, y + 0.4, "goal p99", color="#c0392b", fontsize=7, ha="center")
        labels.append(f"ringgate: {t['name']}\n({' + '.join(t['kinds'])})")
        ys.append(y)
        y -= 1
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(10, hi_all * 200)
    ax.set_xlabel("ns, one way (log scale); ringgate: coloured bar and circle = p50, black bar and diamond = "
                  "p99, each a band over the projected ranges")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title or "like for like with the technology-selection note (§6.0): packet received -> "
                 "in the ring buffer", fontsize=10)
    ax.grid(axis="x", which="major", alpha=0.3)
    fig.tight_layout()
    return _svg(fig)
