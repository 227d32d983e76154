"""The main job: N orders through the RTL, consumed by the host driver in another process, checked
against the golden model, and a latency report (``ringgate run``; docs/cosim.md).

1. Order flow from ``sim/traffic.py`` (exchange-core's mix; book-building orders first).
2. The PCIe top (ring + DMA writer + BAR0 + UltraScale+ adapter) is built with Verilator (cached)
   and simulated under cocotb with the cocotbext-pcie RootComplex in its own process
   (``ringgate.sim.cosim``). Its host memory is a shared file; BAR0 is reached through a mailbox.
3. This process is the host: the unchanged ``RingConsumer`` over ``SimDevice`` configures the
   device, polls the cursor line, takes every batch zero-copy and compares it byte for byte with
   the golden model's entries (seq and ingress timestamp stamped); at the end the host ring and
   cursor line must equal ``FpgaModel.expected_ring``. In the simulator every Memory Write is
   checked by the golden model's ``Scoreboard`` (TLP rules, order, bytes, credit, cursor rules).
4. The report (``ringgate.app.report.write_report``): per-stage latency of every entry, from the cycle
   the ring accepted it: first RQ beat of its data TLP and last beat of the cursor TLP that
   announced it (exact, RTL cycles), the cursor landing in host memory (modelled: RTL cycles +
   cocotbext-pcie link model), seen by the host consumer (wall clock, from the landing), and a
   projected end-to-end on hardware (exact part + a documented hard-IP/link/root-complex
   allowance); throughput against the PCIe limits.
5. The latency sections (``ringgate.app.latency.sections``, docs/latency.md): the host stages
   measured in real time once the simulator has stopped, the budget from the wire to the
   WebSocket frame, the note's table like for like, and one entry's cycle-by-cycle trace.
"""
from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np

from ringgate.app.latency.budget import PCIE_ONE_WAY
from ringgate.app.latency.sections import HostOptions, config_of, host_options, run_sections
from ringgate.contracts.pcie import LINKS, TLP_OVERHEAD, USER_CLOCK_HZ, USER_CLOCK_NS as PERIOD_NS

__all__ = ["run", "compute_stages", "wire_stages", "throughput_figures", "ALLOWANCE", "WIRE_MAC_PS", "MainJobError"]

WIRE_MAC_PS = {"10G": 6400, "25G": 2560}      # MAC clock periods: 156.25 MHz, 390.625 MHz

CURSOR_PAYLOAD = 24

# One-way "last RQ beat leaves the fabric -> line written into host memory" on real hardware:
# the hard IP's TX pipeline, PHY, link, root complex and the memory/cache write. Not simulated;
# the projection and its sources live with the latency budget.
ALLOWANCE = {
    "ns": PCIE_ONE_WAY.typical_ns,
    "range_ns": PCIE_ONE_WAY.range_ns,
    "source": (f"hard IP + link + root complex allowance {PCIE_ONE_WAY.typical_ns:g} ns (range "
               f"{PCIE_ONE_WAY.range_ns[0]:g}-{PCIE_ONE_WAY.range_ns[1]:g} ns): " + "; ".join(PCIE_ONE_WAY.sources)),
}


class MainJobError(click.ClickException):
    pass


# -- analysis (pure functions of the recorded stamps; unit-tested) -----------------------------

def _first_covering(values: np.ndarray, n: int) -> np.ndarray:
    """Index of the first element of the non-decreasing ``values`` that is > s, for s in [0, n)."""
    idx = np.searchsorted(values, np.arange(n, dtype=values.dtype), side="right")
    if n and idx[-1] >= len(values):
        raise ValueError(f"no cursor covers entry {int(np.argmax(idx >= len(values)))} (last cursor "
                         f"{int(values[-1]) if len(values) else None}, {n} entries)")
    return idx


def compute_stages(res: dict, n: int, seen_end: np.ndarray, seen_ns: np.ndarray, *, clock_mhz: float,
                   width: int = 256, host_cycles: np.ndarray | None = None):
    """Per-entry stages from the simulator's stamps (``res``: accept_ns, data_first_ns, data_n,
    cursor_last_ns, cursor_val, land_ns, land_cursor, land_wall) and the consumer's batches
    (``seen_end[i]``: sequence after batch i, ``seen_ns[i]``: wall clock when it was seen) and,
    optionally, what the host computed from host memory alone per entry (``host_cycles``: the
    cursor line's timestamp minus the entry's ``ts``, i.e. offered -> cursor write queued)."""
    from ringgate.app.report import Stage

    ns_per_cycle = 1000.0 / clock_mhz
    a = res["accept_ns"][:n]
    if len(a) < n:
        raise ValueError(f"the ring accepted {len(a)} entries, {n} expected")
    first = np.repeat(res["data_first_ns"], res["data_n"])[:n]
    if len(first) < n:
        raise ValueError(f"data TLPs carried {len(first)} entries, {n} expected")
    cur = res["cursor_last_ns"][_first_covering(res["cursor_val"].astype(np.int64), n)]
    li = _first_covering(res["land_cursor"].astype(np.int64), n)
    land, land_wall = res["land_ns"][li], res["land_wall"][li]
    seen = seen_ns[_first_covering(np.asarray(seen_end, np.int64), n)]

    c_first = (first - a) // PERIOD_NS
    c_cursor = (cur - a) // PERIOD_NS
    link_ns = land - cur                         # cursor TLP's last RQ beat -> stored in host memory
    if (c_first < 0).any() or (c_cursor < c_first).any() or (link_ns < 0).any():
        raise ValueError("stamps out of order (an entry on RQ before the ring accepted it?)")
    host_wall = seen - land_wall
    if (host_wall < 0).any():
        raise ValueError("the consumer saw an entry before its cursor landed (clock mismatch?)")
    ns_c = f"{ns_per_cycle:g} ns/cycle"
    stages = [
        Stage("ring accept -> first RQ beat of its data TLP", c_first, "cycles", "exact",
              "RTL cycles (Verilator), RQ handshakes sampled every cycle"),
        Stage("ring accept -> last RQ beat of the cursor TLP", c_cursor, "cycles", "exact",
              "RTL cycles (Verilator); the entry is announced by this cursor write"),
    ]
    if host_cycles is not None:
        hc = np.asarray(host_cycles)[:n]
        if len(hc) != n or (hc < 0).any():
            raise ValueError("host-side latencies missing or negative")
        stages.append(Stage(
            "offered to the ring (entry ts) -> cursor write queued (cursor line timestamp), host's view", hc,
            "cycles", "wall clock", "device cycle counter: the cursor line's 64-bit timestamp (taken when the "
            "DMA writer queues the cursor write, before RQ back-pressure) minus the entry's 32-bit ts (the "
            "user-clock cycle the bench's producer offered it to the ring; extend_timestamp), both read by "
            "the consumer from host memory, as on hardware; "
            "includes waiting to enter a full BRAM ring; when one poll takes entries announced by several "
            "cursor writes, the earlier ones are measured to the latest (an upper bound), so the figure "
            "depends on when the consumer's polls ran in wall-clock time and differs from run to run"))
    stages += [
        Stage("ring accept -> cursor line written to host memory", c_cursor * ns_per_cycle + link_ns, "ns",
              "modelled", f"exact RTL cycles at {ns_c} + cocotbext-pcie UltraScale+ / link model "
              f"({LINKS[width].name} serialisation + 10 ns link delay; hard-IP pipeline not modelled)"),
        Stage("cursor line in host memory -> seen by the host consumer", host_wall.astype(np.float64), "ns",
              "wall clock", "perf_counter (CLOCK_MONOTONIC) in the simulator when the link model stored "
              "the cursor line vs. in the consumer process when its poll found it; Python consumer "
              "sharing the CPU with the simulator"),
        Stage("projected: ring accept -> visible in host memory (hardware)",
              c_cursor * ns_per_cycle + ALLOWANCE["ns"], "ns", "projected",
              f"exact RTL cycles at {ns_c} + {ALLOWANCE['source']}",
              extra={"allowance_ns": ALLOWANCE["ns"], "allowance_range_ns": list(ALLOWANCE["range_ns"])}),
    ]
    return stages


def wire_stages(res: dict, n: int, *, mac_ps: int, clock_mhz: float) -> list:
    """Stages from the wire (the simulator's stamps of each single-order frame: first and last beat on
    the MAC stream, the ingress's publish, the ring accept, the RQ and cursor stamps), in ns, and the
    like-for-like projection: first byte on the wire -> entry visible in host memory on hardware."""
    from ringgate.app.perf.ingress import MAC_LATENCY_CYCLES
    from ringgate.app.report import Stage

    first, last = res["wire_first_ns"][:n], res["wire_last_ns"][:n]
    pub, acc = res["publish_ns"][:n], res["accept_ns"][:n]
    if min(len(first), len(last), len(pub), len(acc)) < n:
        raise ValueError(f"wire stamps for {min(len(first), len(pub), len(acc))} frames, {n} expected")
    cur = res["cursor_last_ns"][_first_covering(res["cursor_val"].astype(np.int64), n)]
    mac_ns = mac_ps / 1000.0
    front = MAC_LATENCY_CYCLES * mac_ns
    if (pub < last).any() or (acc < pub).any() or (cur < acc).any():
        raise ValueError("wire stamps out of order (published before the frame's last beat?)")
    mac = f"MAC clock {1e6 / mac_ps:.2f} MHz ({mac_ns:g} ns/cycle)"
    return [
        Stage("first byte on the wire -> published into the ring", (pub - first) + front, "ns", "exact",
              f"RTL cycles (Verilator) from the frame's first beat on the MAC stream to the ring's publish, "
              f"{mac}, + the MAC's receive pipeline ({MAC_LATENCY_CYCLES} MAC cycles, docs/ingress.md)",
              extra={"mac_cycles": ((pub - first) // mac_ns + MAC_LATENCY_CYCLES).astype(np.int64).tolist()[:1]}),
        Stage("last byte of the order -> published into the ring", (pub - last).astype(np.float64), "ns", "exact",
              f"RTL cycles (Verilator) from the frame's last beat to the ring's publish, {mac}"),
        Stage("published -> accepted into the PCIe top's ring (clock crossing)", (acc - pub).astype(np.float64),
              "ns", "exact", "RTL (Verilator): the dual-clock ring's Gray-coded crossing into the 250 MHz user "
              "clock and the hand-over to the PCIe top's ring; the clocks' phase varies per frame"),
        Stage("published -> last RQ beat of the cursor TLP", (cur - pub).astype(np.float64), "ns", "exact",
              "RTL (Verilator): crossing, ring, DMA writer, data TLP, cursor TLP"),
        Stage("projected: first byte on the wire -> visible in host memory (hardware)",
              (cur - first) + front + ALLOWANCE["ns"], "ns", "projected",
              f"exact RTL time from the wire + the MAC's pipeline + {ALLOWANCE['source']}; compare with the "
              f"note's packet-arrival -> ring rows (epoll 10-50 us, io_uring 3-15 us, DPDK 0.5-5 us)",
              extra={"allowance_ns": ALLOWANCE["ns"], "allowance_range_ns": list(ALLOWANCE["range_ns"])}),
    ]


def throughput_figures(res: dict, summary: dict, n: int, *, clock_mhz: float, offered_load: float,
                       wall_s: float) -> dict:
    """Throughput of the run in simulated cycles, against the link and the request datapath."""
    width = int(summary["width"])
    a, land = res["accept_ns"][:n], res["land_ns"]
    span_cycles = max(1, int((land[-1] - a[0]) // PERIOD_NS)) if n else 1
    ndata = len(res["data_n"])
    ncur = len(res["cursor_val"])
    wire = int(res["data_n"].sum()) * 64 + ndata * TLP_OVERHEAD + ncur * (CURSOR_PAYLOAD + TLP_OVERHEAD)
    link_bps = LINKS[width].tlp_bps
    eps = n / span_cycles * clock_mhz * 1e6
    beats = sum(-(-(16 + k * 64) // (width // 8)) for k in res["data_n"].tolist()) + ncur * -(-(16 + 24) // (width // 8))
    return {
        "entries": n,
        "offered load": f"{offered_load:.4f} entries/cycle = {offered_load * clock_mhz:.2f} M entries/s",
        "achieved": f"{n / span_cycles:.4f} entries/cycle = {eps / 1e6:.2f} M entries/s "
                    f"({span_cycles} cycles, first accept -> last cursor in host memory)",
        "data TLPs / cursor TLPs": f"{ndata} / {ncur} ({n / max(ndata, 1):.2f} entries per data TLP)",
        "bytes on the link": f"{wire} ({wire / max(n, 1):.1f} per entry incl. {TLP_OVERHEAD} B/TLP overhead)",
        f"link ({LINKS[width].name}, {link_bps / 1e9:.1f} Gb/s TLP layer) used":
            f"{wire * 8 / (span_cycles * 1e3 / clock_mhz * 1e-9) / link_bps:.2%}",
        "link limit for this TLP mix": f"{n / (wire * 8 / link_bps) / 1e6:.1f} M entries/s",
        f"RQ datapath ({width}-bit) beats per entry": f"{beats / max(n, 1):.2f} "
                                                      f"(limit {clock_mhz / (beats / max(n, 1)):.1f} M entries/s)",
        "ring stalls (BRAM ring full, cycles)": summary.get("push_stall_cycles", 0),
        "host ring full (cycles)": summary.get("registers", {}).get("HOST_FULL_CYCLES", 0),
        "RQ back-pressure (cycles)": summary.get("registers", {}).get("RQ_STALL_CYCLES", 0),
        "simulation speed": f"{summary['sim_cycles_per_s']:,.0f} cycles/s, {n / wall_s:,.0f} entries/s wall "
                            f"(cocotb + cocotbext-pcie, protocol level)",
        "simulation speed per CPU second of the simulator":
            f"{summary['sim_cycles_per_cpu_s']:,.0f} cycles/s, "
            f"{n / max(summary['sim_cpu_s'], 1e-9):,.0f} entries/s",
    }


# -- the command ------------------------------------------------------------------------------

@dataclass
class _Host:
    """The consumer's callback: golden check of every batch, stamps, progress."""
    golden: np.ndarray | None = None
    traffic: object = None
    dev: object = None
    consumer: object = None
    ends: list = field(default_factory=list)
    seen: list = field(default_factory=list)
    host_cycles: list = field(default_factory=list)
    checked: int = 0
    delay_s: float = 0.0
    advance: object = None
    wire: np.ndarray | None = None     # MAC cycle of each frame's first beat (the entries' ts) from the wire

    def __call__(self, view: np.ndarray) -> None:
        if self.golden is None:
            from ringgate.model.fpga import stamp
            t0 = self.dev.traffic_t0
            rel = self.traffic.cycles - self.traffic.cycles[0] if self.wire is None else self.wire.astype(np.uint64)
            self.golden = stamp(self.traffic.entries, 0, ts=np.uint64(t0) + rel).view(np.uint8).reshape(-1, 64)
        s0 = int(view["seq"][0])
        k = len(view)
        want = self.golden[s0:s0 + k]
        got = view.view(np.uint8).reshape(-1, 64)
        if len(want) != k or not np.array_equal(got, want):
            bad = next((i for i in range(k) if i >= len(want) or not np.array_equal(got[i], want[i])), 0)
            raise MainJobError(f"entry {s0 + bad} in host memory differs from the golden model")
        self.checked += k
        ref = np.uint64(self.consumer.cursor_timestamp if self.consumer is not None else 0)
        self.host_cycles.append((ref - view["ts"].astype(np.uint64)) & np.uint64(0xFFFF_FFFF))
        self.ends.append(s0 + k)
        # the wall clock of the poll that found this batch (perf_counter_ns, CLOCK_MONOTONIC)
        self.seen.append(self.consumer.seen_ns if self.consumer is not None else time.perf_counter_ns())
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.advance is not None:
            self.advance(k)


def _parse_load(load: str, clock_hz: float) -> tuple[dict, float]:
    from ringgate.sim.traffic import LINE_RATES, line_rate_load

    if load.upper() in LINE_RATES:
        return {"line_rate": load.upper()}, min(1.0, line_rate_load(load.upper(), clock_hz))
    try:
        x = float(load)
    except ValueError:
        raise click.BadParameter(f"{load!r} is neither entries/cycle nor one of {', '.join(LINE_RATES)}",
                                 param_hint="--load") from None
    if not 0 < x <= 1:
        raise click.BadParameter(f"offered load must be in (0, 1] entries per cycle, not {x}", param_hint="--load")
    return {"load": x}, x


def _git_rev() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=5).stdout.strip() or "unknown"
    except Exception:
        return "unknown"


@click.command("run")
@click.option("--orders", "-n", default=3000, show_default=True, help="Orders through the ring (incl. book-building).")
@click.option("--depth", default=256, show_default=True, help="BRAM ring depth of the RTL (power of two, 16..65536).")
@click.option("--host-ring", default=1024, show_default=True, help="Host ring size in entries (power of two).")
@click.option("--mps", type=click.Choice(["128", "256", "512", "1024"]), default="256", show_default=True,
              help="Negotiated PCIe max payload size (bytes).")
@click.option("--width", type=click.Choice(["256", "512"]), default="256", show_default=True,
              help="PCIe datapath bits (256: Gen3 x8, 512: Gen3 x16 at 250 MHz).")
@click.option("--load", default="10G", show_default=True,
              help="Offered load: entries per cycle (0..1] or a line rate of minimum-size frames (10G, 25G, 40G, 100G).")
@click.option("--burst", default=1, show_default=True, help="Entries per burst (back to back).")
@click.option("--seed", default=1, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("ringgate-report"),
              show_default=True, help="Report directory.")
@click.option("--clock-mhz", default=250.0, show_default=True, help="Clock for converting cycles to ns.")
@click.option("--batch-limit", default=16, show_default=True, help="BATCH_LIMIT register (entries per data TLP).")
@click.option("--cursor-interval", default=1, show_default=True, help="CURSOR_INTERVAL register.")
@click.option("--rq-pause", default=0.0, show_default=True, help="Probability of RQ back-pressure per cycle.")
@click.option("--consumer-delay-us", default=0.0, show_default=True, help="Sleep after each batch (a slow host).")
@click.option("--poll", type=click.Choice(["sleep", "busy"]), default="sleep", show_default=True,
              help="Consumer poll mode (busy spins a core the simulator would use).")
@click.option("--start", type=click.Choice(["wire", "ring"]), default="wire", show_default=True,
              help="wire: orders as single-order UDP datagrams on the MAC's receive stream through the ingress; "
                   "ring: entries straight into the BRAM ring's producer stream.")
@click.option("--mac", type=click.Choice(["10G", "25G"]), default="10G", show_default=True,
              help="MAC clock with --start wire: 156.25 MHz (10G) or 390.625 MHz (25G).")
@click.option("--keep", is_flag=True, help="Keep the co-simulation directory (logs, shared files; "
              "with RINGGATE_WAVES=1 also the waveform dump.fst).")
@host_options
def run(orders, depth, host_ring, mps, width, load, burst, seed, out_dir, clock_mhz, batch_limit, cursor_interval,
        rq_pause, consumer_delay_us, poll, start, mac, keep, host_enabled, host_from, host_orders, host_rate,
        host_repeat, host_polls, trace_entry):
    """Build the RTL (cached), run N orders through it, consume them with the driver in a separate
    process over the co-simulation backend, check every entry, write the latency report."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from ringgate.app.report import fmt_band, write_report
    from ringgate.sim.builds import pcie_top, wire_top
    from ringgate.sim.cosim.session import CoSim, CoSimError
    from ringgate.sim.traffic import make_traffic
    from ringgate.sw.driver.consumer import RingConsumer, buffer_bytes
    from ringgate.model.fpga import FpgaModel
    from ringgate.sim.cosim.device import SimDevice

    console = Console(stderr=True)
    mps, width = int(mps), int(width)
    if orders < 2:
        raise click.BadParameter(f"need at least 2 orders, not {orders}", param_hint="--orders")
    if depth < 16 or depth > 65536 or depth & (depth - 1):
        raise click.BadParameter(f"must be a power of two from 16 to 65536, not {depth}", param_hint="--depth")
    if host_ring < 2 or host_ring & (host_ring - 1):
        raise click.BadParameter(f"must be a power of two >= 2, not {host_ring}", param_hint="--host-ring")
    if not clock_mhz > 0:
        raise click.BadParameter(f"must be positive, not {clock_mhz}", param_hint="--clock-mhz")
    if not 0 <= rq_pause < 1:
        raise click.BadParameter(f"must be in [0, 1), not {rq_pause}", param_hint="--rq-pause")
    if batch_limit < 1 or cursor_interval < 1:
        raise click.BadParameter("BATCH_LIMIT and CURSOR_INTERVAL must be >= 1")
    if burst < 1:
        raise click.BadParameter(f"must be >= 1, not {burst}", param_hint="--burst")
    load_kw, offered = _parse_load(load, clock_mhz * 1e6)
    host_opts = HostOptions(host_enabled, host_from, host_orders, host_rate, host_repeat, tuple(host_polls), seed)

    t_start = time.perf_counter()
    resting = max(1, min(1000, orders // 10))
    with console.status(f"generating {orders} orders (exchange-core mix)"):
        tr = make_traffic(orders - resting, users=max(10, min(1000, orders // 4)), symbols=1, resting=resting,
                          clock_hz=clock_mhz * 1e6, burst=burst, seed=seed, **load_kw)
    n = len(tr)
    trace_entry = tr.warmup if trace_entry is None else trace_entry
    if not 0 <= trace_entry < n:
        raise click.BadParameter(f"must be an entry of the run, 0..{n - 1}, not {trace_entry}", param_hint="--trace-entry")
    t0 = time.perf_counter()
    wire = start == "wire"
    mac_ps = WIRE_MAC_PS[mac] if wire else None
    if wire:
        from ringgate.sim.traffic import order_frames, wire_schedule
        host_wire = wire_schedule(tr.cycles, [len(f) for f in order_frames(tr.entries)], mac_ps=mac_ps)
    with console.status(f"building the {'ingress + ' if wire else ''}PCIe top ({width}-bit, ring {depth}) "
                        f"with Verilator (cached)"):
        b = wire_top(width, depth) if wire else pcie_top(width, depth)
    console.print(f"RTL build: {'built' if b.rebuilt else 'cached'} in {time.perf_counter() - t0:.1f} s ({b.directory.name})")

    keep = keep or b.waves                        # RINGGATE_WAVES=1: keep the run's dump.fst
    sim = CoSim(width=width, depth=depth, mps=mps, rq_pause=rq_pause, seed=seed, keep=keep,
                traffic=(tr.entries, tr.cycles), host_bytes=max(16 << 20, 2 * buffer_bytes(host_ring)),
                wire_mac_ps=mac_ps, extra_env={"COSIM_TRACE_ENTRY": str(trace_entry)})
    host = _Host(traffic=tr, delay_s=consumer_delay_us * 1e-6, wire=host_wire if wire else None)
    try:
        with console.status("starting the co-simulation (cocotb + Verilator + cocotbext-pcie)"):
            sim.start()
        dev = SimDevice(sim.directory)
        host.dev = dev
        consumer = RingConsumer.open(dev, host_ring, callback=host, poll=poll, doorbell_every=max(1, host_ring // 8),
                                     batch_limit=batch_limit, cursor_interval=cursor_interval, idle_sleep=20e-6,
                                     health_every=5.0)
        host.consumer = consumer
        t_run = time.perf_counter()
        with Progress(TextColumn("[bold]orders through the RTL"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=console,
                      transient=False) as prog:
            task = prog.add_task("run", total=n, rate="")

            def advance(k, _t=task):
                el = time.perf_counter() - t_run
                prog.update(_t, advance=k, rate=f"{host.checked / max(el, 1e-9):,.0f} entries/s")
            host.advance = advance
            # Stop early (checked while idle) if the simulator's scoreboard failed or it stopped.
            consumer.run(count=n, timeout=120 + n / 20, stop=lambda: bool(dev.errors) or not dev.running)
        if dev.errors or not dev.running:
            summary = sim.stop()                  # raises CoSimError with the simulator's messages
            raise MainJobError(f"the co-simulation stopped early: {summary}")
        wall_run = time.perf_counter() - t_run
        if host.checked != n:
            raise MainJobError(f"only {host.checked} of {n} entries reached the host "
                               f"(simulation cycle {dev.cycle}, fed {dev.fed})")
        consumer.close()
        dev.sync()
        # The host ring and cursor line, byte for byte, against the golden model's final image.
        ring_img = np.frombuffer(consumer.ring.tobytes(), np.uint8)
        want = FpgaModel.expected_ring(host.golden.view(tr.entries.dtype).reshape(-1), host_ring)
        if not np.array_equal(ring_img, want.view(np.uint8)):
            raise MainJobError("final host ring differs from the golden model's image")
        if consumer.cursor != n:
            raise MainJobError(f"cursor line says {consumer.cursor}, {n} entries were sent")
        with console.status("stopping the co-simulation"):
            summary = sim.stop()
        res = sim.results()
        dev.close()
    except CoSimError as e:
        raise MainJobError(str(e)) from None
    finally:
        sim.close()

    host_cycles = np.concatenate(host.host_cycles).astype(np.int64)
    # With the wire the entries' ts counts the MAC clock: the host's ts-to-cursor view mixes clocks.
    stages = compute_stages(res, n, np.array(host.ends), np.array(host.seen), clock_mhz=clock_mhz, width=width,
                            host_cycles=None if wire else host_cycles)
    if wire:
        ws = wire_stages(res, n, mac_ps=mac_ps, clock_mhz=clock_mhz)
        stages = ws[:-1] + stages + ws[-1:]
    tp = throughput_figures(res, summary, n, clock_mhz=clock_mhz, offered_load=offered, wall_s=wall_run)
    meta = {
        "title": "ringgate main job: orders through the RTL to the host driver",
        "orders": f"{n} (exchange-core mix, {tr.warmup} book-building first), seed {seed}",
        "RTL": ("hw/ingress/top.py (ingress in front of " if wire else "") + f"hw/pcie/top.py, {width}-bit datapath, BRAM ring {depth}, MPS {mps} B, BATCH_LIMIT {batch_limit}, "
               f"CURSOR_INTERVAL {cursor_interval}, RQ back-pressure p={rq_pause}"
               + (f"); orders as single-order datagrams on the {mac} MAC's receive stream" if wire else ""),
        "simulation": "Verilator + cocotb + cocotbext-pcie UltraScale+ model and RootComplex (protocol level)",
        "host": f"ringgate.sw.driver RingConsumer over SimDevice in a separate process, host ring {host_ring}, poll={poll}",
        "checks": f"{n} entries byte-exact against the golden model in host memory; final host ring and cursor "
                  f"line = FpgaModel.expected_ring; every Memory Write passed the golden-model Scoreboard "
                  f"({summary['scoreboard']['data_tlps']} data TLPs, {summary['scoreboard']['writes']} cursor writes)",
        "commit": _git_rev(),
        "wall time": f"{time.perf_counter() - t_start:.1f} s (consume {wall_run:.1f} s)",
    }
    sections = run_sections(stages, summary, clock_mhz=clock_mhz, host=host_opts, log=console.print)
    config = config_of(orders=n, warmup=tr.warmup, seed=seed, load=load, burst=burst, width=width, mps=mps,
                       depth=depth, host_ring=host_ring, batch_limit=batch_limit, cursor_interval=cursor_interval,
                       rq_pause=rq_pause, consumer_delay_us=consumer_delay_us, clock_mhz=clock_mhz, poll=poll)
    paths = write_report(out_dir, stages, clock_mhz=clock_mhz, throughput=tp, meta=meta,
                         end_to_end=stages[-1].name, config=config, **sections)
    (out_dir / "cosim.json").write_text(json.dumps(summary, indent=2, default=int))
    # The raw material, for one's own analysis: per-event stamps of the simulator (sim ns, wall ns)
    # and the consumer's batches.
    np.savez_compressed(out_dir / "stamps.npz", **res, seen_end=np.array(host.ends), seen_wall=np.array(host.seen),
                        host_cycles=host_cycles)

    t = Table(title=f"{n} orders, {width}-bit, MPS {mps}, {load} offered; latency from "
                    + (f"the wire ({mac} MAC)" if wire else "ring accept"))
    t.add_column("stage")
    t.add_column("kind")
    for col in ("min", "p50", "p99", "max"):
        t.add_column(col, justify="right")
    rep = json.loads(paths["json"].read_text())
    for r in rep["stages"]:
        def cell(lbl, r=r):
            ns = r[f"{lbl}_ns"]
            return (f"{r[f'{lbl}_cycles']} cyc / " if f"{lbl}_cycles" in r else "") + f"{ns:,.0f} ns"
        t.add_row(r["name"], r["kind"], *(cell(x) for x in ("min", "p50", "p99", "max")))
    console.print(t)
    console.print(f"{tp['achieved']}; link limit for this TLP mix {tp['link limit for this TLP mix']}; "
                  f"simulation {summary['sim_cycles_per_s']:,.0f} cycles/s")
    for tot in rep["budget"]["totals"]:
        verdict = "" if "meets_goal" not in tot else " (goal met)" if tot["meets_goal"] else " [red](goal not met)[/red]"
        console.print(f"{tot['name']}: p50 {fmt_band(tot['p50_ns'])}, p99 {fmt_band(tot['p99_ns'])} "
                      f"({' + '.join(tot['kinds'])}){verdict}")
    console.print(f"report: {paths['html']} (self-contained; + summary.md, report.json, figures)")
    if keep:
        waves = sim.directory / "run" / "dump.fst"
        console.print(f"co-simulation files kept in {sim.directory}"
                      + (f"; waveform: {waves} (gtkwave)" if waves.exists() else ""))
    click.echo(str(paths["markdown"]))


if __name__ == "__main__":
    run()


@click.command("cosim")
@click.option("--orders", "-n", default=3000, show_default=True, help="Orders fed once a host enables the ring.")
@click.option("--depth", default=256, show_default=True, help="BRAM ring depth of the RTL.")
@click.option("--mps", type=click.Choice(["128", "256", "512", "1024"]), default="256", show_default=True)
@click.option("--width", type=click.Choice(["256", "512"]), default="256", show_default=True)
@click.option("--load", default="10G", show_default=True, help="Entries per cycle or 10G/25G/40G/100G.")
@click.option("--burst", default=1, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--rq-pause", default=0.0, show_default=True, help="Probability of RQ back-pressure per cycle.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Directory of the shared files (default: a new one under /dev/shm).")
@click.option("--exit-when-drained", is_flag=True,
              help="Stop once every order was fed and announced by a cursor write (else: until Ctrl-C).")
def cosim(orders, depth, mps, width, load, burst, seed, rq_pause, directory, exit_when_drained):
    """Start a co-simulation and keep it running for host processes (ringgate.sim.cosim.device.SimDevice,
    open_ring("sim", ..., sim_dir=DIR), serve --backend sim with RINGGATE_SIM_DIR=DIR).

    The orders are fed once a host has enabled the DMA writer. Ctrl-C (or SIGTERM) stops it and
    prints the simulator's checks and counters."""
    import signal

    from rich.console import Console

    from ringgate.sim.cosim.session import CoSim, CoSimError
    from ringgate.sim.traffic import make_traffic
    from ringgate.sim.cosim.device import SimDevice

    console = Console(stderr=True)
    if orders < 2:
        raise click.BadParameter(f"need at least 2 orders, not {orders}", param_hint="--orders")
    if depth < 16 or depth > 65536 or depth & (depth - 1):
        raise click.BadParameter(f"must be a power of two from 16 to 65536, not {depth}", param_hint="--depth")
    if not 0 <= rq_pause < 1:
        raise click.BadParameter(f"must be in [0, 1), not {rq_pause}", param_hint="--rq-pause")
    load_kw, _ = _parse_load(load, USER_CLOCK_HZ)
    resting = max(1, min(1000, orders // 10))
    tr = make_traffic(orders - resting, users=max(10, min(1000, orders // 4)), symbols=1, resting=resting,
                      burst=burst, seed=seed, **load_kw)
    sim = CoSim(directory, width=int(width), depth=depth, mps=int(mps), rq_pause=rq_pause, seed=seed,
                traffic=(tr.entries, tr.cycles), keep=directory is not None)

    def terminate(signum, frame):
        raise KeyboardInterrupt
    old = signal.signal(signal.SIGTERM, terminate)
    try:
        with console.status("building (cached) and starting the co-simulation"):
            sim.start()
        click.echo(f"RINGGATE_SIM_DIR={sim.directory}")
        click.get_text_stream("stdout").flush()
        watch = SimDevice(sim.directory)
        try:
            with console.status("") as st:
                while True:
                    time.sleep(0.25)
                    st.update(f"co-simulation at {sim.directory}: cycle {watch.cycle:,}, fed {watch.fed}/{len(tr)}, "
                              f"enables {watch.enables}, errors {watch.errors} (Ctrl-C stops)")
                    if not watch.running:
                        break
                    if exit_when_drained and watch.fed == len(tr) and watch.read("CURSOR_WRITTEN") >= len(tr):
                        break
        except KeyboardInterrupt:
            pass
        watch.close()
        summary = sim.stop()
    except CoSimError as e:
        raise MainJobError(str(e)) from None
    finally:
        signal.signal(signal.SIGTERM, old)
        sim.close()
    regs = summary["registers"]
    click.echo(f"stopped: fed {summary['fed']}/{summary['total']}, SENT {regs['SENT']}, data TLPs {regs['DATA_TLPS']}, "
               f"cursor writes {regs['CURSOR_WRITES']}, scoreboard "
               f"{'clean' if not summary['errors'] else summary['errors']}, {summary['sim_cycles']:,} cycles "
               f"at {summary['sim_cycles_per_s']:,.0f} cycles/s", err=True)
