"""``ringgate sweep``: the throughput level over a grid of register settings and loads.

Every point is one run of the fast throughput level (``ringgate.sim.fast``): its own simulator
process, so a pool of threads that only wait on pipes keeps every local core busy. Given a Ray
address, the points become Ray tasks instead (one CPU each); a worker builds the model it
needs through the content-hashed build cache of its own machine. Output: ``sweep.json`` and
``sweep.md`` (one row per point) and heat maps of throughput and p99 latency (``*.png``).
"""
from __future__ import annotations

import itertools
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterable, Sequence

import click

from ringgate.contracts.pcie import MAX_PAYLOADS, USER_CLOCK_MHZ, mps_code

__all__ = ["sweep", "grid", "run_point", "run_local", "run_ray", "write_outputs", "AXES"]

# Grid axes: option name -> (Knobs field, parser, label in tables and pictures).
AXES = {
    "mps": ("mps", int, "MPS (B)"),
    "width": ("width", int, "datapath (bits)"),
    "batch": ("batch", int, "batch limit"),
    "cursor_interval": ("cursor_interval", int, "cursor interval"),
    "load": ("p_offer", float, "offered load (entries/cycle)"),
    "doorbell_delay": ("doorbell_delay", int, "doorbell delay (cycles)"),
}


def grid(values: dict[str, Sequence], *, cycles: int, host_ready: float, seed: int) -> list[dict]:
    """Every combination of the axis values, as Knobs arguments (MPS in bytes becomes its code)."""
    from ringgate.sim.fast.throughput import Knobs

    names = list(AXES)
    points = []
    for combo in itertools.product(*(values[n] for n in names)):
        kw = {AXES[n][0]: v for n, v in zip(names, combo)}
        kw["mps"] = mps_code(kw["mps"])
        Knobs(cycles=cycles, p_ready=host_ready, seed=seed, **kw)       # refuse bad values before any run
        points.append({"cycles": cycles, "p_ready": host_ready, "seed": seed, **kw})
    return points


def run_point(point: dict) -> dict:
    """One point: build (cached) and run the fast level; the knobs, the counters and the summary."""
    from ringgate.sim.fast.throughput import Knobs, ThroughputCheckFailed, check, run, summary

    r = run(Knobs(**point))
    try:
        check(r)
        failed = ""
    except ThroughputCheckFailed as e:
        failed = str(e)
    return {"knobs": point, "mps_bytes": MAX_PAYLOADS[point["mps"]], "host": os.uname().nodename,
            "counters": {k: v for k, v in r.items() if k != "latency_hist"},
            "latency_hist": r["latency_hist"], **summary(r), "failed": failed}


def run_local(points: list[dict], jobs: int, on_done: Callable[[dict], None] = lambda r: None) -> list[dict]:
    """Run the points on this machine, ``jobs`` simulator processes at a time; rows in grid order."""
    from ringgate.sim.fast.throughput import exe_for

    for width in sorted({p["width"] for p in points}):
        exe_for(width)                      # build once before the pool, not in every worker at once
    rows: list[dict | None] = [None] * len(points)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_point, p): i for i, p in enumerate(points)}
        for f in as_completed(futures):
            rows[futures[f]] = f.result()
            on_done(rows[futures[f]])
    return rows


def run_ray(points: list[dict], address: str, on_done: Callable[[dict], None] = lambda r: None) -> list[dict]:
    """Run the points as Ray tasks of one CPU each on the cluster at ``address`` (``local``: start a
    one-machine cluster for this sweep); rows in grid order."""
    try:
        import ray
    except ImportError:
        raise click.ClickException("--ray needs Ray: pip install 'ringgate[cluster]'") from None
    ray.init(address=address, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {k: v for k, v in os.environ.items() if k == "RINGGATE_BUILD_DIR"}})
    try:
        task = ray.remote(num_cpus=1)(run_point)
        refs = [task.remote(p) for p in points]
        index = {ref: i for i, ref in enumerate(refs)}
        rows: list[dict | None] = [None] * len(points)
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                rows[index[ref]] = ray.get(ref)
                on_done(rows[index[ref]])
        return rows
    finally:
        ray.shutdown()


def _lat(v) -> str:
    from ringgate.sim.throughput import HIST_BINS

    return "-" if v is None else f"{v}+" if v >= HIST_BINS - 1 else str(v)


def _axis_value(row: dict, axis: str):
    return row["mps_bytes"] if axis == "mps" else row["knobs"][AXES[axis][0]]


def markdown(rows: Iterable[dict]) -> str:
    head = ["datapath (bits)", "MPS (B)", "batch", "cursor interval", "load", "host ready", "doorbell delay",
            "entries/cycle", "GB/s", "dropped", "entries/TLP", "p50", "p99", "p99.9", "max", "cycles/s", "checks"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for r in rows:
        k = r["knobs"]
        cells = [k["width"], r["mps_bytes"], k["batch"], k["cursor_interval"], k["p_offer"], k["p_ready"],
                 k["doorbell_delay"], f"{r['entries_per_cycle']:.3f}",
                 f"{r['entries_per_cycle'] * USER_CLOCK_MHZ * 64 / 1000:.2f}", f"{r['drop_rate']:.1%}",
                 f"{r['entries_per_tlp']:.2f}", _lat(r["p50"]), _lat(r["p99"]), _lat(r["p999"]), _lat(r["max"]),
                 f"{r['counters']['sim_cycles_per_s']:,.0f}", "FAILED" if r["failed"] else "ok"]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines) + "\n"


def heatmaps(rows: list[dict], x: str, y: str, out: Path) -> list[Path]:
    """One picture per figure (throughput, p99): a heat map of ``y`` against ``x`` for every
    combination of the other axes that vary (one panel each)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ringgate.sim.throughput import HIST_BINS

    varying = [a for a in AXES if len({_axis_value(r, a) for r in rows}) > 1 and a not in (x, y)]
    facets = sorted({tuple(_axis_value(r, a) for a in varying) for r in rows})
    xs = sorted({_axis_value(r, x) for r in rows})
    ys = sorted({_axis_value(r, y) for r in rows})
    paths = []
    for key, label, fmt, cmap in (("entries_per_cycle", "throughput (entries/cycle)", "{:.3f}", "viridis"),
                                  ("p99", "p99 latency (cycles, ring accept -> RQ)", "{:.0f}", "magma_r")):
        n = len(facets)
        cols = min(n, 4)
        nrows = (n + cols - 1) // cols
        fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols + 1.5, 2.8 * nrows + 0.8), squeeze=False)
        vmax = max((r[key] or 0) for r in rows) or 1
        for ax, facet in zip(axes.flat, facets):
            z = np.full((len(ys), len(xs)), np.nan)
            for r in rows:
                if tuple(_axis_value(r, a) for a in varying) == facet and r[key] is not None:
                    z[ys.index(_axis_value(r, y)), xs.index(_axis_value(r, x))] = r[key]
            im = ax.imshow(z, origin="lower", aspect="auto", cmap=cmap, vmin=0, vmax=vmax)
            for (i, j), v in np.ndenumerate(z):
                if not np.isnan(v):
                    text = fmt.format(v) + ("+" if key == "p99" and v >= HIST_BINS - 1 else "")
                    ax.text(j, i, text, ha="center", va="center", fontsize=7,
                            color="white" if (v / vmax > 0.5) == (cmap == "magma_r") else "black")
            ax.set_xticks(range(len(xs)), [str(v) for v in xs], fontsize=7)
            ax.set_yticks(range(len(ys)), [str(v) for v in ys], fontsize=7)
            if ax in axes[-1]:
                ax.set_xlabel(AXES[x][2], fontsize=7)
            if ax is axes[ax.get_subplotspec().rowspan.start][0]:
                ax.set_ylabel(AXES[y][2], fontsize=7)
            ax.set_title(", ".join(f"{AXES[a][2].split(' (')[0]} {v}" for a, v in zip(varying, facet)) or "all",
                         fontsize=7)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label=label)
        fig.suptitle(label)
        path = out / f"heatmap_{'throughput' if key == 'entries_per_cycle' else 'p99'}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def write_outputs(rows: list[dict], out: Path, x: str, y: str, meta: dict) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "sweep.json", "md": out / "sweep.md"}
    paths["json"].write_text(json.dumps({"meta": meta, "points": rows}, indent=1))
    paths["md"].write_text(f"# ringgate sweep\n\n{len(rows)} points of {meta['cycles']:,} cycles, seed {meta['seed']}; "
                           "latencies in exact cycles from ring accept to the entry's first RQ beat taken by the "
                           "host (`N+`: at or above the histogram's last bin).\n\n" + markdown(rows))
    for p in heatmaps(rows, x, y, out):
        paths[p.stem] = p
    return paths


def _values(axis: str):
    parse = AXES[axis][1]

    def callback(ctx, param, value):
        try:
            vals = [parse(v) for v in value.split(",") if v.strip()]
        except ValueError:
            raise click.BadParameter(f"expected comma-separated {parse.__name__}s, not {value!r}")
        if not vals:
            raise click.BadParameter("needs at least one value")
        if axis == "mps" and any(v not in MAX_PAYLOADS for v in vals):
            raise click.BadParameter(f"MPS must be among {MAX_PAYLOADS}, not {value!r}")
        return list(dict.fromkeys(vals))
    return callback


@click.command()
@click.option("--mps", default="128,256,512,1024", show_default=True, callback=_values("mps"), help="Max payload sizes (B).")
@click.option("--width", default="256,512", show_default=True, callback=_values("width"), help="RQ datapath widths.")
@click.option("--batch", default="16", show_default=True, callback=_values("batch"), help="DMA batch limits.")
@click.option("--cursor-interval", default="4", show_default=True, callback=_values("cursor_interval"),
              help="Data TLPs per cursor write under backlog.")
@click.option("--load", default="0.25,0.5,0.9", show_default=True, callback=_values("load"),
              help="Offered loads (entries per cycle).")
@click.option("--doorbell-delay", default="100,1000", show_default=True, callback=_values("doorbell_delay"),
              help="Host doorbell delays (cycles).")
@click.option("--host-ready", default=0.9, show_default=True, help="Probability the host takes an RQ beat per cycle.")
@click.option("--cycles", default="2M", show_default=True, help="Cycles per point (k/M/G suffixes).")
@click.option("--seed", default=1, show_default=True)
@click.option("--jobs", "-j", default=0, show_default=True, help="Parallel runs on this machine (0: every core).")
@click.option("--ray", "ray_address", metavar="ADDRESS",
              help="Run on the Ray cluster at ADDRESS (host:port, 'auto', or 'local' for a one-machine cluster).")
@click.option("-x", "x_axis", type=click.Choice(list(AXES)), default="load", show_default=True,
              help="Heat map columns.")
@click.option("-y", "y_axis", type=click.Choice(list(AXES)), default="mps", show_default=True, help="Heat map rows.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/sweep"), show_default=True)
def sweep(mps, width, batch, cursor_interval, load, doorbell_delay, host_ready, cycles, seed, jobs, ray_address,
          x_axis, y_axis, out):
    """Throughput and latency over a grid of MPS, width, batch, cursor interval, load and doorbell delay."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ringgate.app.cli import Count

    console = Console()
    if x_axis == y_axis:
        raise click.BadParameter("the heat map needs two different axes", param_hint="-x/-y")
    if not 0 < host_ready <= 1:
        raise click.BadParameter(f"must be in (0, 1], not {host_ready}", param_hint="--host-ready")
    cycles = Count().convert(cycles, None, None)
    values = {"mps": mps, "width": width, "batch": batch, "cursor_interval": cursor_interval, "load": load,
              "doorbell_delay": doorbell_delay}
    try:
        points = grid(values, cycles=cycles, host_ready=host_ready, seed=seed)
    except ValueError as e:
        raise click.BadParameter(str(e))
    jobs = jobs or os.cpu_count() or 1
    where = f"Ray cluster {ray_address}" if ray_address else f"{jobs} local process(es)"
    t0 = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task(f"{len(points)} points x {cycles:,} cycles on {where}", total=len(points))
        done = lambda row: bar.advance(task)        # noqa: E731
        rows = run_ray(points, ray_address, done) if ray_address else run_local(points, jobs, done)
    wall = time.perf_counter() - t0
    meta = {"cycles": cycles, "seed": seed, "host_ready": host_ready, "points": len(points), "where": where,
            "wall_s": wall, "axes": values}
    paths = write_outputs(rows, out, x_axis, y_axis, meta)
    console.print(f"{len(points)} points in {wall:.1f} s on {where}: "
                  f"{len(points) * cycles / wall:,.0f} simulated cycles/s in all")
    for kind, p in paths.items():
        console.print(f"{kind}: {p}")
    failed = [r for r in rows if r["failed"]]
    if failed:
        for r in failed:
            console.print(f"[red]{r['knobs']}: {r['failed']}[/red]")
        sys.exit(1)
