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
    "build": "ringgate.app.build:build",
    "constraints": "ringgate.app.build:constraints",
    "probe": "ringgate.app.probe:probe",
    "send": "ringgate.app.send:send",
    "sweep": "ringgate.app.sweep:sweep",
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


class Count(click.ParamType):
    """A positive count with an optional k/M/G suffix (``250M`` = 250,000,000)."""
    name = "count"
    _SCALE = {"k": 10**3, "K": 10**3, "m": 10**6, "M": 10**6, "g": 10**9, "G": 10**9}

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            n = value
        else:
            text = str(value).strip().replace("_", "").replace(",", "")
            scale = self._SCALE.get(text[-1:], 1)
            try:
                n = int(float(text[:-1] if scale > 1 else text) * scale)
            except ValueError:
                self.fail(f"{value!r} is not a count (e.g. 2000000, 2M, 250M)", param, ctx)
        if n <= 0:
            self.fail(f"must be positive, not {value!r}", param, ctx)
        return n


@main.command()
@click.option("--cycles", type=Count(), default="1M", show_default=True,
              help="Simulated cycles of traffic (k/M/G suffixes: 250M is one second at 250 MHz).")
@click.option("--load", default=0.3, show_default=True, help="Entries offered per cycle (0, 1].")
@click.option("--host-ready", default=0.9, show_default=True, help="Probability the host takes an RQ beat per cycle.")
@click.option("--mps", type=click.Choice(["128", "256", "512", "1024"]), default="256", show_default=True)
@click.option("--width", type=click.Choice(["256", "512"]), default="256", show_default=True,
              help="RQ datapath bits of the PCIe adapter.")
@click.option("--batch", default=16, show_default=True, help="DMA batch limit (entries per TLP).")
@click.option("--cursor-interval", default=4, show_default=True, help="Data TLPs per cursor write under backlog.")
@click.option("--doorbell-delay", default=100, show_default=True, help="Cycles from a cursor write to the host's doorbell.")
@click.option("--seed", default=1, show_default=True, help="Seed of the traffic and back-pressure streams.")
@click.option("--cocotb", "use_cocotb", is_flag=True,
              help="Drive the harness from cocotb instead of the C++ main (the slow cross-check).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/throughput"),
              show_default=True, help="Report directory (HTML, PNG, JSON, markdown).")
def throughput(cycles, load, host_ready, mps, width, batch, cursor_interval, doorbell_delay, seed, use_cocotb, out):
    """Throughput-level run of ring + DMA writer + RQ adapter (no Python per cycle) with a latency report."""
    import numpy as np
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ringgate.app.report import Stage, write_report
    from ringgate.contracts.pcie import USER_CLOCK_MHZ, mps_code
    from ringgate.sim import verilator
    from ringgate.sim.fast import throughput as fast

    for name, p in (("--load", load), ("--host-ready", host_ready)):
        if not 0 < p <= 1:
            raise click.BadParameter(f"must be in (0, 1], not {p}", param_hint=name)
    try:
        knobs = fast.Knobs(cycles=cycles, p_offer=load, p_ready=host_ready, mps=mps_code(int(mps)), batch=batch,
                           cursor_interval=cursor_interval, doorbell_delay=doorbell_delay, seed=seed,
                           width=int(width))
    except ValueError as e:
        raise click.BadParameter(str(e))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if use_cocotb:
        with console.status(f"building and simulating {cycles:,} cycles under cocotb"):
            try:
                r = fast.run_cocotb(knobs, out / "cocotb")
            except verilator.CocotbFailure as e:
                console.print(f"[red]run failed[/red]\n{e}")
                sys.exit(1)
    else:
        with console.status("building the harness with its C++ main (cached by content hash)"):
            exe = fast.exe_for(knobs.width)
        columns = (TextColumn("[progress.description]{task.description}"), BarColumn(),
                   TextColumn("{task.completed:,.0f}/{task.total:,.0f} cycles"), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("simulating", total=cycles)
            r = fast.run(knobs, exe=exe, progress=lambda done: bar.update(task, completed=min(done, cycles)),
                         every=max(1 << 16, cycles // 400))
            bar.update(task, completed=cycles)
    (out / "raw.json").write_text(json.dumps(r))
    total_s = time.perf_counter() - t0
    hist = np.asarray(r["latency_hist"])
    # One byte per sample: a second of device time is ~10^8 entries.
    samples = np.repeat(np.arange(hist.size, dtype=np.uint8), hist)
    clock_mhz = USER_CLOCK_MHZ
    entries_per_cycle = r["window_entries"] / r["run_cycles"]     # within the window, not the drained backlog
    accepted = r["offered"] - r["dropped"]
    tp = {"entries delivered": f"{r['entries']:,} of {r['offered']:,} offered ({r['dropped']:,} dropped at the wire)",
          "entries per cycle": f"{entries_per_cycle:.4f}",
          "payload bandwidth": f"{entries_per_cycle * clock_mhz * 64 / 1000:.2f} GB/s at {clock_mhz:g} MHz",
          "entries per data TLP": f"{r['entries'] / max(1, r['data_tlps']):.2f}",
          "cursor writes per data TLP": f"{r['cursor_lines'] / max(1, r['data_tlps']):.3f}",
          "checks failed (sequence / address / cursor / TLP / DMA)":
              f"{r['seq_errors']} / {r['addr_errors']} / {r['cursor_errors']} / {r['tlp_errors']} / {r['dma_errors']}",
          "delivered / accepted / last cursor": f"{r['entries']:,} / {accepted:,} / {r['last_cursor']:,}",
          "simulation speed": f"{r['sim_cycles_per_s']:,.0f} cycles/s ({r['sim_cycles_per_cpu_s']:,.0f} per CPU second), "
                              f"{'cocotb' if use_cocotb else 'C++ main'}; {total_s:.1f} s in all"}
    stages = [Stage("ring accept -> entry's first RQ beat taken by the host", samples if samples.size else [0],
                    kind="exact", source=f"RTL cycles; last bin ({hist.size - 1}) holds everything at or above it")]
    paths = write_report(out, stages, clock_mhz=clock_mhz, throughput=tp,
                         meta={"title": "ringgate throughput-level run", "cycles": cycles, "load": load,
                               "host ready": host_ready, "MPS": mps, "datapath": f"{width} bits", "batch limit": batch,
                               "cursor interval": cursor_interval, "doorbell delay": doorbell_delay, "seed": seed})
    t = Table(title=f"ring + DMA writer + RQ {width}-bit, throughput level")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for k, v in tp.items():
        t.add_row(k, v)
    if samples.size:
        q = np.percentile(samples, [0, 50, 99, 99.9, 100], method="inverted_cdf")
        t.add_row("latency min / p50 / p99 / p99.9 / max [exact, cycles]", " / ".join(str(int(x)) for x in q))
    console.print(t)
    console.print(f"report: {paths['html']}")
    try:
        fast.check(r)
    except fast.ThroughputCheckFailed as e:
        console.print(f"[red]{e}[/red]")
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


@main.command("datagram")
def datagram_tables():
    """Print the order-datagram contract (frame, header, message, drop reasons, ingress registers)."""
    from ringgate.contracts.datagram import markdown

    for what, title in (("frame", "Frame"), ("header", "Datagram header (12 bytes, little-endian)"),
                        ("message", "Order message (52 bytes, little-endian)"), ("drops", "Drop reasons"),
                        ("registers", "Ingress registers (BAR0)"), ("fields", "Ingress register bit fields")):
        click.echo(f"{title}:\n\n{markdown(what)}\n")


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
