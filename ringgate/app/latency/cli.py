"""``ringgate latency`` (the host stages in real time) and ``ringgate report ...`` (compare, schema)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

__all__ = ["latency", "report"]


def _goal_cell(name: str, row: dict) -> str:
    from ringgate.app.latency.budget import GOALS

    goal = GOALS.get(name.split(" (from due")[0])
    if not goal or "(from due" in name:
        return ""
    ok = all(row[f"{k}_ns"] <= v for k, v in goal.items())
    text = ", ".join(f"{k} <= {v / 1000:g} us" for k, v in goal.items())
    return f"[green]{text}: met[/green]" if ok else f"[red]{text}: not met[/red]"


@click.command("latency")
@click.option("--orders", "-n", default=20_000, show_default=True, help="Measured entries per run (exchange-core's mix).")
@click.option("--rate", default=5_000.0, show_default=True, help="Offered entries per second (open loop).")
@click.option("--burst", default=1, show_default=True, help="Entries per burst (the mean rate stays --rate).")
@click.option("--poisson", is_flag=True, help="Burst starts as a Poisson process (else evenly spaced).")
@click.option("--users", default=64, show_default=True, help="Ring users (the client subscribes to each one's orders topic).")
@click.option("--poll", "polls", multiple=True, default=("busy", "adaptive"), show_default=True,
              help="Consumer poll modes to measure side by side (repeatable). Experiments: MODE+inline, the "
                   "ring-feed thread runs the engine itself; busy+loop, the event loop polls the ring and runs "
                   "the engine (one thread).")
@click.option("--repeat", default=3, show_default=True, help="Runs per poll mode (interleaved): the run-to-run spread.")
@click.option("--host-core", type=int, default=None,
              help="CPU of the host: consumer, sequencer, engine, gateway (default: this process's first CPU).")
@click.option("--device-core", type=int, default=None,
              help="CPU of the replaying device and the WebSocket client (default: this process's second CPU).")
@click.option("--spin-us", default=300.0, show_default=True, help="The device spins this long before a burst is due.")
@click.option("--switch-interval-us", type=float, default=None,
              help="CPython thread switch interval of the host process (default: what `serve` sets, 200 us).")
@click.option("--nice", default=0, show_default=True, type=click.IntRange(-20, 19),
              help="Niceness of the device, host and client processes (negative: a reserved core, roughly).")
@click.option("--seed", default=1, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("ringgate-latency"),
              show_default=True, help="Directory: report.html/json/md, host.json and host.npz (for ringgate run --host-from).")
def latency(orders, rate, burst, poisson, users, polls, repeat, host_core, device_core, spin_us, switch_interval_us,
            nice, seed, out_dir):
    """The host stages in real time: the golden model replays order flow into host memory from
    another process (pinned to the other core) while the real consumer -> sequencer -> engine ->
    gateway path runs with a WebSocket client subscribed; per entry and per poll mode:
    cursor visible -> consumer callback -> engine result -> WebSocket frame written."""
    from rich.console import Console
    from rich.table import Table

    from ringgate.app.latency.replay import VARIANTS, ReplayConfig, ReplayError, host_stages, measure
    from ringgate.app.report import fmt_ns, write_report

    console = Console(stderr=True)
    cfg = ReplayConfig(orders=orders, rate=rate, burst=burst, poisson=poisson, users=users, seed=seed,
                       host_core=host_core, device_core=device_core, spin_us=spin_us,
                       switch_interval_us=switch_interval_us, nice=nice)
    try:
        cfg.check()
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    if repeat < 1:
        raise click.BadParameter(f"must be >= 1, not {repeat}", param_hint="--repeat")
    from ringgate.sw.driver.consumer import POLL_MODES as known

    for p in polls:
        mode, _, variant = p.partition("+")
        if mode not in known or variant not in VARIANTS:
            raise click.BadParameter(f"{p!r} is not a poll mode ({', '.join(known)}, optionally "
                                     f"{' or '.join('+' + v for v in VARIANTS if v)})", param_hint="--poll")
    try:
        m = measure(cfg, tuple(dict.fromkeys(polls)), repeat, log=lambda s: console.print(s))
    except ReplayError as e:
        raise click.ClickException(str(e)) from None
    except ValueError as e:                     # a poll mode the installed driver does not have
        raise click.ClickException(str(e)) from None
    paths = m.save(out_dir)
    primary = m.modes[0]
    # the report's stages: the first mode's, pooled over its runs (every mode is in the host table)
    stages = host_stages({"poll": primary["poll"], "warmup": 0}, m.stamps[primary["poll"]])
    meta = {"title": "ringgate latency: the host stages in real time",
            "what": f"{cfg.orders} entries x {repeat} runs per poll mode ({', '.join(polls)}), "
                    f"{cfg.rate:,.0f} entries/s" + (f" in bursts of {cfg.burst}" if cfg.burst > 1 else ""),
            "machine": f"{m.machine.get('cpu_model')}, {m.machine.get('cpus')} CPUs; load average "
                       f"{m.machine.get('loadavg')} at the start, {m.machine.get('loadavg_end')} at the end",
            "stages of": f"{primary['poll']} polling (the other modes: the host table)"}
    rp = write_report(out_dir, stages, clock_mhz=1000.0, meta=meta, host=m.section(),
                      config={"host": m.section()["config"]})
    t = Table(title=f"host stages in real time: {cfg.rate:,.0f} entries/s, {repeat} run(s) per poll mode, "
                    f"load average {m.machine['loadavg'][0]} -> {m.machine['loadavg_end'][0]}")
    for col in ("stage (from cursor visible; [due]: from the schedule)", "poll"):
        t.add_column(col)
    for col in ("p50", "p99", "p99.9", "max"):
        t.add_column(col, justify="right")
    t.add_column("goal (quiet core, busy polling)")
    for row in primary["stages"]:
        for mode in m.modes:
            r = next(x for x in mode["stages"] if x["name"] == row["name"])
            short = (row["name"].replace("cursor visible -> ", "")
                     .replace(" (from due: corrected for coordinated omission)", " [due]"))
            t.add_row(short, mode["poll"], *(fmt_ns(r[f"{p}_ns"]) for p in ("p50", "p99", "p99.9", "max")),
                      _goal_cell(row["name"], r) if mode["poll"] == "busy" else "")
    for mode in m.modes:
        t.add_row("host CPU per entry / others' CPU share", mode["poll"], f"{mode['cpu_us_per_entry']:.1f} us",
                  f"{mode['other_processes_busy']:.0%}", "", "", "")
    console.print(t)
    console.print(f"report: {rp['html']}; raw: {paths['json']}, {paths['npz']}")
    click.echo(str(paths["json"]))


@click.group("report")
def report():
    """Latency reports: compare two runs, print the report.json schema."""


@report.command("compare")
@click.argument("old", type=click.Path(exists=True, path_type=Path))
@click.argument("new", type=click.Path(exists=True, path_type=Path))
@click.option("--tolerance", default=0, show_default=True, help="Cycles an exact percentile may grow before it counts.")
@click.option("--allow-config-change", is_flag=True,
              help="Compare even if the runs' configs (stimulus, design parameters) differ.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write compare.json, compare.md, compare.html and compare.svg here.")
def compare_cmd(old, new, tolerance, allow_config_change, out_dir):
    """Per-stage differences between two reports (directories or report.json files): exact stages
    in cycles, measured stages against their run-to-run spread. Exit status 1 on an exact-cycle
    regression, 2 when the runs are not comparable."""
    from rich.console import Console

    from ringgate.app.latency.compare import EXIT_NOT_COMPARABLE, EXIT_REGRESSION, compare, markdown, write_comparison
    from ringgate.app.report import ReportError

    console = Console()
    try:
        c = compare(old, new, tolerance_cycles=tolerance)
    except ReportError as e:
        raise click.UsageError(str(e)) from None
    console.print(markdown(c), markup=False, highlight=False)
    if out_dir:
        paths = write_comparison(c, out_dir)
        console.print(f"written: {paths['html']}")
    if c.config_diff and not allow_config_change:
        console.print("[red]not comparable[/red]: the runs' configs differ ("
                      + ", ".join(c.config_diff) + "); exact cycles depend on the stimulus. "
                      "Use --allow-config-change to compare anyway.")
        sys.exit(EXIT_NOT_COMPARABLE)
    if c.regressions:
        console.print(f"[red]{len(c.regressions)} exact-cycle regression(s)[/red]")
        sys.exit(EXIT_REGRESSION)


@report.command("schema")
@click.option("--markdown", is_flag=True, help="The top-level fields as a markdown table instead of JSON Schema.")
def schema_cmd(markdown):
    """Print the JSON Schema of report.json (this version)."""
    from ringgate.app.report_schema import SCHEMA, field_table

    click.echo(field_table() if markdown else json.dumps(SCHEMA, indent=2))
