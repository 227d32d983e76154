"""Simulation speed of the throughput level, step by step, side by side in one run (``ringgate perf sim``).

Each step is one change to how the same harness (``sim/throughput.py``, 256-bit) is built or
driven, on top of the step before; every build is cached, and every step runs the same knobs
and must give the same counters. Runs are interleaved and repeated: on a shared machine the
best of several is the figure least disturbed by other work, and CPU time (the simulator
process's) is reported beside wall time.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import click

__all__ = ["command", "measure"]


@dataclass(frozen=True)
class Step:
    label: str
    build: dict = field(default_factory=dict)     # throughput_fast() arguments; None: the cocotb level
    adopted: bool = True


def _steps():
    from ringgate.sim.builds import FAST_ARGS, FAST_MAKE

    wheel = dict(args=(), make_vars={})
    return [
        Step("cocotb, clock inside the simulator (--timing)", None),
        Step("C++ main: no cocotb, no --timing (wheel's -Os)", dict(wheel, registered_knobs=False, registered_reset=False)),
        Step("+ knobs through registers", dict(wheel, registered_reset=False)),
        Step("+ reset through a register (no input-fed logic per eval)", dict(wheel)),
        Step("+ g++ -O3 (OPT_FAST/OPT_GLOBAL)", dict(args=("-O3",), make_vars=FAST_MAKE)),
        Step("+ --x-assign/--x-initial fast, --noassert", dict(args=FAST_ARGS, make_vars=FAST_MAKE)),
        Step("+ --threads 2", dict(args=(*FAST_ARGS, "--threads", "2"), make_vars=FAST_MAKE), adopted=False),
        Step("+ -march=native", dict(args=(*FAST_ARGS, "-CFLAGS", "-march=native"), make_vars=FAST_MAKE),
             adopted=False),
    ]


def measure(cycles: int = 2_000_000, cocotb_cycles: int = 300_000, reps: int = 3, progress=print,
            tried: bool = False) -> list[dict]:
    """Best-of-``reps`` speed of every step (with ``tried``, also of the steps measured and not
    adopted); the fast steps run ``cycles``, the cocotb one fewer."""
    from dataclasses import replace

    from ringgate.sim import builds
    from ringgate.sim.fast.throughput import Knobs, run, run_cocotb

    knobs = Knobs(cycles=cycles)
    steps = [s for s in _steps() if s.adopted or tried]
    exes = {}
    for s in steps:
        progress(f"building: {s.label}")
        exes[s.label] = builds.throughput(256) if s.build is None else builds.throughput_fast(256, **s.build)
    rows = {s.label: {"step": s.label, "adopted": s.adopted, "wall": 0.0, "cpu": 0.0} for s in steps}
    for rep in range(reps):
        for s in steps:
            if s.build is None:
                r = run_cocotb(replace(knobs, cycles=cocotb_cycles))
            else:
                r = run(knobs, exe=exes[s.label])
                counters = {k: v for k, v in r.items() if k not in ("wall_s", "cpu_s", "sim_cycles_per_s",
                                                                    "sim_cycles_per_cpu_s", "drain_cycles")}
                first = rows[s.label].setdefault("counters", counters)
                if first != counters:
                    raise click.ClickException(f"{s.label}: counters differ between builds of one harness")
            row = rows[s.label]
            row["wall"] = max(row["wall"], r["sim_cycles_per_s"])
            row["cpu"] = max(row["cpu"], r["sim_cycles_per_cpu_s"])
            progress(f"rep {rep + 1}/{reps} {s.label}: {r['sim_cycles_per_s']:,.0f} cycles/s wall, "
                     f"{r['sim_cycles_per_cpu_s']:,.0f} per CPU second")
    out, base, prev = [], None, None
    fast = [rows[s.label] for s in steps if s.build is not None]
    if any(f["counters"] != fast[0]["counters"] for f in fast):
        raise click.ClickException("counters differ between steps")
    for s in steps:
        row = {k: v for k, v in rows[s.label].items() if k != "counters"}
        base = base or row["cpu"]
        row["vs_cocotb"] = row["cpu"] / base
        row["vs_previous"] = row["cpu"] / prev if prev else 1.0
        if s.adopted:
            prev = row["cpu"]
        out.append(row)
    return out


@click.command("sim")
@click.option("--cycles", default=2_000_000, show_default=True, help="Cycles per fast run.")
@click.option("--cocotb-cycles", default=300_000, show_default=True, help="Cycles per cocotb run.")
@click.option("--reps", default=3, show_default=True, help="Interleaved repetitions (best is kept).")
@click.option("--tried", is_flag=True, help="Also the steps measured and not adopted (--threads 2, -march=native).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path))
def command(cycles, cocotb_cycles, reps, tried, json_out):
    """Throughput-level simulation speed, each build step side by side (cycles/s, ratios)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    rows = measure(cycles, cocotb_cycles, reps, progress=lambda s: console.print(s, style="dim"), tried=tried)
    t = Table(title=f"ring + DMA writer + RQ 256-bit + checking sink: best of {reps}")
    for c in ("step", "cycles/s (wall)", "cycles/CPU-s", "x cocotb", "x previous"):
        t.add_column(c, justify="left" if c == "step" else "right")
    for r in rows:
        t.add_row(r["step"] + ("" if r["adopted"] else " [not adopted]"), f"{r['wall']:,.0f}",
                  f"{r['cpu']:,.0f}", f"{r['vs_cocotb']:.2f}", f"{r['vs_previous']:.2f}")
    console.print(t)
    if json_out:
        json_out.write_text(json.dumps(rows, indent=2))
