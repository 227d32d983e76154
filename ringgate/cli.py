"""The ``ringgate`` command line."""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

console = Console()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    from hw.ringbuf import RingBuffer
    from ringgate.contracts.entry import ENTRY
    from sim import verilator

    try:
        ring = RingBuffer(depth, ENTRY.layout(), bypass=bypass)
    except (ValueError, TypeError) as e:
        raise click.BadParameter(str(e), param_hint="--depth")
    top = f"ringbuf{depth}" if bypass else f"ringbuf{depth}_nobypass"
    for name, p in (("--p-valid", p_valid), ("--p-ready", p_ready)):
        if not 0 < p <= 1:
            raise click.BadParameter(f"must be in (0, 1], not {p}", param_hint=name)

    t0 = time.perf_counter()
    with console.status(f"building {top} with Verilator (cached by content hash)"):
        b = verilator.build(ring, top)
    build_s = time.perf_counter() - t0
    report = Path(tempfile.mkdtemp(prefix="ringgate-")) / "ring.json"
    env = {"RING_DEPTH": str(depth), "RING_LAPS": str(laps), "RING_P_VALID": str(p_valid),
           "RING_P_READY": str(p_ready), "RING_SEED": str(seed), "RING_REPORT": str(report),
           "RING_LATENCY": str(ring.latency),
           "RING_THROUGHPUT_N": str(depth * laps)}
    with console.status(f"simulating {depth * laps} entries through the ring"):
        try:
            verilator.run(b, "sim.tb_ringbuf", testcase=["scoreboard", "idle_latency", "throughput"],
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
@click.option("--depth", default=1024, show_default=True)
@click.option("--bypass/--no-bypass", default=True, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path))
def synth(depth, bypass, json_out):
    """yosys synth_xilinx (UltraScale+) resources and LUT levels of the ring."""
    from hw.ringbuf import RingBuffer
    from ringgate.contracts.entry import ENTRY
    from ringgate.synth import synthesize

    try:
        ring = RingBuffer(depth, ENTRY.layout(), bypass=bypass)
    except (ValueError, TypeError) as e:
        raise click.BadParameter(str(e), param_hint="--depth")
    with console.status(f"synth_xilinx -family xcup ringbuf{depth}"):
        r = synthesize(ring, f"ringbuf{depth}")
    t = Table(title=f"ringbuf{depth}: yosys synth_xilinx -family xcup")
    t.add_column("resource")
    t.add_column("count", justify="right")
    for k, v in r.summary().items():
        if k != "top":
            t.add_row(k, str(v))
    console.print(t)
    if json_out:
        json_out.write_text(json.dumps(r.summary(), indent=2))


@main.command()
@click.option("--depth", default=16, show_default=True)
@click.option("--k", default=4, show_default=True, help="Induction depth.")
def prove(depth, k):
    """Prove the ring's invariants and data integrity by k-induction (SymbiYosys, yices)."""
    from hw.ringbuf import RingBuffer
    from ringgate.contracts.entry import ENTRY
    from sim.formal import run_sby

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


@main.command("bench-engine", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench_engine(args):
    """Exchange-core benchmark of the matching engine (arguments pass to sw.exchange.bench)."""
    from sw.exchange import bench

    sys.exit(bench.main(list(args)))


def _register_optional():
    # Commands whose modules are owned by other parts of the tree join the group when present.
    try:
        from sw.gateway.cli import serve
    except ImportError:
        return
    main.add_command(serve)


_register_optional()

if __name__ == "__main__":
    main()
