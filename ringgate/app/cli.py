"""The ``ringgate`` command line: one click tree.

Commands that live with their layer (``run``/``cosim`` in the main job, ``serve`` in the gateway,
``perf ...`` in the benchmarks) are loaded when used; one whose module fails to import stays in
``--help`` with its error instead of disappearing (:class:`LazyGroup`).
"""
from __future__ import annotations

import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ringgate.sim.builds import BENCHES

console = Console()


class LazyGroup(click.Group):
    """A group whose ``lazy`` commands (name -> ``"module:attribute"``) are imported on demand."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kw):
        super().__init__(*args, **kw)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx, name):
        if name in self.lazy:
            return _load(name, self.lazy[name])
        return super().get_command(ctx, name)


def _load(name: str, target: str) -> click.Command:
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except Exception as e:           # any failure to load: show it, do not hide the command
        why = f"{type(e).__name__}: {e}"

        @click.command(name, help=f"(unavailable: {why})", short_help=f"unavailable: {why}",
                       context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
        def broken():
            raise click.ClickException(f"the '{name}' command cannot be loaded ({module}): {why}")
        return broken


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]}, lazy={
    "run": "ringgate.app.mainjob:run",
    "cosim": "ringgate.app.mainjob:cosim",
    "serve": "ringgate.sw.gateway.cli:serve",
    "perf": "ringgate.app.perf:perf",
    "latency": "ringgate.app.latency.cli:latency",
    "report": "ringgate.app.latency.cli:report",
})
def main():
    """ringgate: the FPGA path of an exchange order gateway, in Amaranth, simulated with Verilator."""


@main.command()
@click.option("--depth", default=1024, show_default=True, help="Ring depth (power of two, 16..65536).")
@click.option("--laps", default=20, show_default=True, help="Laps of the ring in the scoreboard run.")
@click.option("--p-valid", default=0.8, show_default=True, help="Probability the producer offers an entry per cycle.")
@click.option("--p-ready", default=0.5, show_default=True, help="Probability the consumer is ready per cycle.")
@click.option("--seed", default=1, show_default=True)
@click.option("--bypass/--no-bypass", default=True, show_default=True,
              help="Write-through read port: 1-cycle latency (default) or 2 cycles and ~520 fewer LUTs.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the measured figures to this JSON file.")
def simulate(depth, laps, p_valid, p_ready, seed, bypass, json_out):
    """Build the ring RTL (cached), run it on Verilator under cocotb, print measured figures."""
    from ringgate.contracts.entry import ENTRY
    from ringgate.hw.ringbuf import RingBuffer
    from ringgate.sim import builds, verilator

    try:
        ring = RingBuffer(depth, ENTRY.layout(), bypass=bypass)
    except (ValueError, TypeError) as e:
        raise click.BadParameter(str(e), param_hint="--depth")
    for name, p in (("--p-valid", p_valid), ("--p-ready", p_ready)):
        if not 0 < p <= 1:
            raise click.BadParameter(f"must be in (0, 1], not {p}", param_hint=name)

    t0 = time.perf_counter()
    with console.status(f"building the {depth}-entry ring with Verilator (cached by content hash)"):
        b = builds.ring(depth, bypass=bypass)
    build_s = time.perf_counter() - t0
    report = Path(tempfile.mkdtemp(prefix="ringgate-")) / "ring.json"
    env = {"RING_DEPTH": str(depth), "RING_LAPS": str(laps), "RING_P_VALID": str(p_valid),
           "RING_P_READY": str(p_ready), "RING_SEED": str(seed), "RING_REPORT": str(report),
           "RING_LATENCY": str(ring.latency),
           "RING_THROUGHPUT_N": str(depth * laps)}
    with console.status(f"simulating {depth * laps} entries through the ring"):
        try:
            verilator.run(b, "ringgate.sim.tb_ringbuf", testcase=["scoreboard", "idle_latency", "throughput"],
                          extra_env=env)
        except verilator.CocotbFailure as e:
            console.print(f"[red]simulation failed[/red]\n{e}")
            sys.exit(1)
    figures = json.loads(report.read_text())
    sb, lat, tp = figures["scoreboard"], figures["idle_latency"], figures["throughput"]

    t = Table(title=f"ring depth {depth}, 64-byte entries, Verilator {'(cached build)' if not b.rebuilt else f'(built in {build_s:.1f} s)'}")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_column("kind")
    t.add_row("idle latency, producer handshake -> consumer valid", f"{lat['cycles']} cycle(s) = {lat['ns']} ns @ 250 MHz", "exact (RTL)")
    t.add_row("unobstructed throughput", f"{tp['entries']} entries in {tp['cycles']} cycles "
              f"({tp['entries_per_cycle']:.4f}/cycle, {tp['entries_per_cycle'] * 250 * 64 / 1000:.2f} GB/s @ 250 MHz)", "exact (RTL)")
    t.add_row(f"scoreboard, p_valid {sb['p_valid']} / p_ready {sb['p_ready']}",
              f"{sb['checked']} entries checked in {sb['cycles']} cycles", "exact (RTL)")
    t.add_row("max fill / producer refused (ring full)", f"{sb['max_fill']} / {sb['full_cycles']} cycles", "exact (RTL)")
    t.add_row("simulation speed (cocotb, Python per cycle)", f"{sb['sim_cycles_per_s']:,.0f} cycles/s", "wall clock")
    console.print(t)
    figures["build"] = {"rebuilt": b.rebuilt, "seconds": build_s, "directory": str(b.directory)}
    if json_out:
        json_out.write_text(json.dumps(figures, indent=2))
        console.print(f"figures written to {json_out}")


@main.command()
@click.option("--cycles", default=1_000_000, show_default=True, help="Simulated cycles of traffic.")
@click.option("--load", default=0.5, show_default=True, help="Entries offered per cycle (0, 1].")
@click.option("--host-ready", default=0.9, show_default=True, help="Probability the host sink takes a beat per cycle.")
@click.option("--mps", type=click.Choice(["128", "256", "512", "1024"]), default="256", show_default=True)
@click.option("--batch", default=16, show_default=True, help="DMA batch limit (entries per TLP).")
@click.option("--cursor-interval", default=4, show_default=True, help="Data TLPs per cursor write under backlog.")
@click.option("--doorbell-delay", default=100, show_default=True, help="Cycles from a cursor write to the host's doorbell.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/throughput"),
              show_default=True, help="Report directory (HTML, PNG, JSON, markdown).")
def throughput(cycles, load, host_ready, mps, batch, cursor_interval, doorbell_delay, out):
    """Throughput-level run of ring + DMA writer (no Python per cycle) with a latency report."""
    import numpy as np

    from ringgate.app.report import Stage, write_report
    from ringgate.contracts.pcie import USER_CLOCK_MHZ, mps_code
    from ringgate.sim import builds, verilator

    for name, p in (("--load", load), ("--host-ready", host_ready)):
        if not 0 < p <= 1:
            raise click.BadParameter(f"must be in (0, 1], not {p}", param_hint=name)
    if cycles <= 0:
        raise click.BadParameter("must be positive", param_hint="--cycles")
    with console.status("building ring + DMA writer with Verilator (cached by content hash)"):
        b = builds.throughput()
    out.mkdir(parents=True, exist_ok=True)
    raw = out / "raw.json"
    env = {"TP_CYCLES": str(cycles), "TP_P_OFFER": str(load), "TP_P_READY": str(host_ready),
           "TP_MPS": str(mps_code(int(mps))), "TP_BATCH": str(batch),
           "TP_CURSOR_INTERVAL": str(cursor_interval), "TP_DOORBELL_DELAY": str(doorbell_delay),
           "TP_REPORT": str(raw)}
    with console.status(f"simulating {cycles:,} cycles"):
        try:
            verilator.run(b, "ringgate.sim.tb_throughput", extra_env=env)
        except verilator.CocotbFailure as e:
            console.print(f"[red]run failed[/red]\n{e}")
            sys.exit(1)
    r = json.loads(raw.read_text())
    hist = np.asarray(r["latency_hist"])
    samples = np.repeat(np.arange(hist.size), hist)
    clock_mhz = USER_CLOCK_MHZ
    entries_per_cycle = r["entries"] / r["run_cycles"]      # drained entries were offered in the run
    tp = {"entries delivered": f"{r['entries']:,} of {r['offered']:,} offered ({r['dropped']:,} dropped at the wire)",
          "entries per cycle": f"{entries_per_cycle:.4f}",
          "payload bandwidth": f"{entries_per_cycle * clock_mhz * 64 / 1000:.2f} GB/s at {clock_mhz:g} MHz",
          "entries per data TLP": f"{r['entries'] / max(1, r['data_tlps']):.2f}",
          "cursor writes per data TLP": f"{r['cursor_lines'] / max(1, r['data_tlps']):.3f}",
          "checks failed (sequence / address / cursor)": f"{r['seq_errors']} / {r['addr_errors']} / {r['cursor_errors']}",
          "simulation speed": f"{r['sim_cycles_per_s']:,.0f} cycles/s, {r['entries_per_wall_s']:,.0f} entries/s (wall clock)"}
    stages = [Stage("ring accept -> request line taken by the host sink", samples, kind="exact",
                    source=f"RTL cycles; last bin ({hist.size - 1}) holds everything at or above it")]
    paths = write_report(out, stages, clock_mhz=clock_mhz, throughput=tp,
                         meta={"title": "ringgate throughput-level run", "cycles": cycles, "load": load,
                               "host ready": host_ready, "MPS": mps, "batch limit": batch,
                               "cursor interval": cursor_interval, "doorbell delay": doorbell_delay})
    t = Table(title="ring + DMA writer, throughput level")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for k, v in tp.items():
        t.add_row(k, v)
    q = np.percentile(samples, [0, 50, 99, 99.9, 100], method="inverted_cdf") if samples.size else []
    if samples.size:
        t.add_row("latency min / p50 / p99 / p99.9 / max [exact, cycles]", " / ".join(str(int(x)) for x in q))
    console.print(t)
    console.print(f"report: {paths['html']}")
    if r["seq_errors"] or r["addr_errors"] or r["cursor_errors"]:
        sys.exit(1)


@main.command()
@click.option("--block", "blocks", multiple=True, default=["ring"], show_default=True,
              type=click.Choice(["ring", "dma", "bar0", "rq", "cqcc", "top", "all"]),
              help="Block(s) to synthesise (repeatable); 'all' for every one.")
@click.option("--width", type=click.Choice(["256", "512"]), default="256", show_default=True,
              help="PCIe datapath bits (adapters and top).")
@click.option("--depth", default=1024, show_default=True, help="BRAM ring depth (ring, DMA writer, top).")
@click.option("--bypass/--no-bypass", default=True, show_default=True, help="The ring's write-through read port.")
@click.option("--trace", is_flag=True, help="Print the deepest LUT path of each block.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the figures to this JSON file.")
def synth(blocks, width, depth, bypass, trace, json_out):
    """yosys synth_xilinx -family xcup: LUT/FF/carry/BRAM and LUT levels of gateware blocks."""
    from ringgate.app.synth import BLOCKS, deepest_path, synthesize

    names = list(BLOCKS) if "all" in blocks else list(dict.fromkeys(blocks))
    width = int(width)
    rows = []
    for name in names:
        blk = BLOCKS[name]
        try:
            design = blk.make(width, depth, bypass)
        except (ValueError, TypeError) as e:
            raise click.BadParameter(str(e), param_hint="--depth")
        top = f"{name}{depth}" if name in ("ring", "dma", "top") else f"{name}{width}"
        with console.status(f"synth_xilinx -family xcup {top}{' (abc9)' if blk.abc9 else ''}"):
            r = synthesize(design, top, abc9=blk.abc9)
        rows.append({"block": name, "label": blk.label, "abc9": blk.abc9, **r.summary()})
        if trace:
            console.print(f"deepest LUT path of {top}:")
            for t, ins in deepest_path(r.netlist, top):
                console.print(f"  {t:8} reads {', '.join(ins[:8])}{' ...' if len(ins) > 8 else ''}")
    t = Table(title=f"yosys synth_xilinx -family xcup (ring depth {depth}, {width}-bit PCIe)")
    cols = ("LUT", "FF", "CARRY", "BRAM18 equivalent", "LUTRAM", "LUT levels", "longest carry chain")
    t.add_column("block")
    for c in cols:
        t.add_column(c, justify="right")
    for row in rows:
        t.add_row(row["label"], *(str(row[c]) for c in cols))
    console.print(t)
    if json_out:
        json_out.write_text(json.dumps(rows if len(rows) > 1 else rows[0], indent=2))


@main.command()
@click.option("--depth", default=16, show_default=True)
@click.option("--k", default=4, show_default=True, help="Induction depth.")
def prove(depth, k):
    """Prove the ring's invariants and data integrity by k-induction (SymbiYosys, yices)."""
    from ringgate.hw.ringbuf import RingBuffer
    from ringgate.contracts.entry import ENTRY
    from ringgate.sim.formal import run_sby

    t0 = time.perf_counter()
    with console.status(f"k-induction, ring depth {depth}"):
        r = run_sby(RingBuffer(depth, ENTRY.layout()), f"ring{depth}", mode="prove", depth=k)
    verdict = "[green]PASS[/green]" if r.passed else "[red]FAIL[/red]"
    console.print(f"ring depth {depth}: {verdict} in {time.perf_counter() - t0:.1f} s ({r.workdir})")
    if not r.passed:
        console.print(r.log[-3000:])
        sys.exit(1)


@main.command("entry")
def entry_table():
    """Print the 64-byte ring entry contract as a markdown table."""
    from ringgate.contracts.entry import CURSOR_LINE, ENTRY

    click.echo("Ring entry (64 bytes, little-endian):\n")
    click.echo(ENTRY.markdown())
    click.echo("\nCursor line (64 bytes, little-endian):\n")
    click.echo(CURSOR_LINE.markdown())


@main.command()
def regmap():
    """Print the BAR0 register map (offsets, access, reset values, meaning) as a markdown table."""
    from ringgate.contracts.regmap import REGMAP

    click.echo(REGMAP.markdown())


@main.command()
@click.argument("name", type=click.Choice(list(BENCHES)))
@click.option("--testcase", "-t", multiple=True, help="Run only these cocotb tests (repeatable).")
@click.option("--waves", is_flag=True, help="Build with FST tracing and write dump.fst.")
@click.option("--env", "env_pairs", multiple=True, metavar="KEY=VALUE",
              help="Extra environment for the bench, e.g. PCIE_MPS=512 or RING_LAPS=40.")
def bench(name, testcase, waves, env_pairs):
    """Run a named cocotb test bench on Verilator (builds are cached)."""
    from ringgate.sim import verilator

    bench_ = BENCHES[name]
    make, module, env = bench_.build, bench_.module, dict(bench_.env)
    for pair in env_pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, not {pair!r}", param_hint="--env")
        env[key] = value
    with console.status(f"building {name}{' with waves' if waves else ''}"):
        b = make(waves)
    t0 = time.perf_counter()
    try:
        run_dir = verilator.run(b, module, testcase=list(testcase) or None, extra_env=env)
    except verilator.CocotbFailure as e:
        console.print(f"[red]{name}: failed[/red]\n{e}")
        sys.exit(1)
    console.print(f"{name}: passed in {time.perf_counter() - t0:.1f} s; log {run_dir / 'sim.log'}")
    if waves:
        console.print(f"waves: {run_dir / 'dump.fst'}  (ringgate waves {run_dir})")


@main.command()
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--viewer", default="gtkwave", show_default=True, help="Waveform viewer to start.")
def waves(path, viewer):
    """Open a waveform: PATH (an .fst/.vcd or a run directory), or the newest dump under build/sim."""
    import shutil
    import subprocess

    from ringgate.sim.verilator import cache_dir

    if path is None:
        dumps = sorted(cache_dir().glob("*/runs/*/dump.fst"), key=lambda p: p.stat().st_mtime)
        if not dumps:
            raise click.UsageError("no waveform yet: run a bench with waves first "
                                   "(ringgate bench ring16 --waves, or pytest --waves)")
        path = dumps[-1]
    elif path.is_dir():
        path = path / "dump.fst"
        if not path.exists():
            raise click.UsageError(f"{path} does not exist: was the bench built with --waves?")
    exe = shutil.which(viewer)
    if exe is None:
        click.echo(f"{path}\n({viewer} is not installed: open the file with any FST viewer, e.g. gtkwave or Surfer)")
        return
    subprocess.Popen([exe, str(path)])
    click.echo(f"opened {path} in {viewer}")


if __name__ == "__main__":
    main()
