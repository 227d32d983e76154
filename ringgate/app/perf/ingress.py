"""``ringgate perf ingress``: the network ingress on Verilator at 10G and 25G (docs/ingress.md).

Exact MAC-clock cycles from a frame's first and last beat to the ring's publish (single-order
106-byte frames, 110 with the FCS, with and without UDP checksum), the clock crossing's delay into
the 250 MHz user clock, and line rate with zero loss, each run checked against the golden model by
the bench itself; then the resources and LUT levels of the parser (yosys synth_xilinx -family xcup).
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click
import numpy as np

__all__ = ["command", "MAC_LATENCY_CYCLES"]

# A 64-bit XGMII MAC's receive pipeline, wire start word -> first AXI-Stream beat: verilog-ethernet's
# axis_xgmii_rx_64 as measured in the reference design (4 cycles; its tlast comes with the last beat).
MAC_LATENCY_CYCLES = 4
RATES = {"10G": (10e9, 6400), "25G": (25e9, 2560)}     # bit/s, MAC clock period in ps
USER_PS = 4000


def _bench(env: dict) -> dict:
    from ringgate.sim import verilator
    from ringgate.sim.builds import ingress

    b = ingress(256, max_messages=4)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        verilator.run(b, "ringgate.sim.ingress.tb", testcase="ingress", test_dir=Path(tmp) / "run",
                      extra_env={k: str(v) for k, v in {**env, "ING_OUT": out}.items()})
        return json.loads(out.read_text())


@click.command("ingress")
@click.option("--frames", default=2000, show_default=True, help="Datagrams per line-rate run.")
@click.option("--synth/--no-synth", default=True, show_default=True, help="Also synthesise the parser (slow).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures here.")
def command(frames, synth, json_out):
    """Cut-through cycles, clock crossing, line rate (10G, 25G) and parser resources."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    res = {}
    t = Table(title="ingress: single-order datagrams (106-byte frames, 110 with FCS), exact cycles")
    for col in ("run", "first beat -> published", "last beat -> published", f"wire -> published (+{MAC_LATENCY_CYCLES} MAC)",
                "publish -> entry taken (user cycles)", "frames/s", "loss"):
        t.add_column(col, justify="right")
    for rate, (bps, mac_ps) in RATES.items():
        for csum in (0, 1):
            env = dict(ING_FRAMES=frames, ING_SINGLE=1, ING_CSUM=csum, ING_RATE=bps, ING_MAC_PS=mac_ps,
                       ING_USER_PS=USER_PS, ING_SEED=7)
            with console.status(f"{rate} {'with' if csum else 'without'} UDP checksum"):
                r = _bench(env)
            c = np.array(r["first_to_publish_cycles"])
            lastc = c - (np.array(r["frame_bytes"]) + 7) // 8 + 1
            pv = np.array(r["publish_to_valid_ps"]) / USER_PS
            name = f"{rate}{' csum' if csum else ''}"
            res[name] = {"first_to_published": [int(c.min()), int(c.max())], "last_to_published": [int(lastc.min()), int(lastc.max())],
                         "publish_to_taken_user_cycles": [float(pv.min()), float(pv.mean()), float(pv.max())],
                         "frames_per_s": r["frames_per_s"], "accepted": r["accepted"], "frames": r["frames"]}
            t.add_row(name, f"{c.min()}..{c.max()}", f"{lastc.min()}..{lastc.max()}",
                      f"{c.min() + MAC_LATENCY_CYCLES}..{c.max() + MAC_LATENCY_CYCLES}",
                      f"{pv.min():.2f} / {pv.mean():.2f} / {pv.max():.2f}",
                      f"{r['frames_per_s'] / 1e6:.3f} M", str(r["frames"] - r["accepted"]))
    console.print(t)
    if synth:
        from ringgate.app.synth import BLOCKS, synthesize
        with console.status("yosys synth_xilinx -family xcup parser (abc9)"):
            s = synthesize(BLOCKS["parser"].make(256, 256, True), "parser", abc9=True).summary()
        res["parser_synth"] = s
        console.print(f"parser: {s['LUT']} LUT, {s['FF']} FF, {s['CARRY']} CARRY, {s['LUTRAM']} LUTRAM, "
                      f"{s['LUT levels']} LUT levels")
    if json_out:
        json_out.write_text(json.dumps(res, indent=2))
