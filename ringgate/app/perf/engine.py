"""Benchmark on exchange-core's published mix: ~9% GTC, 3% IOC, 6% cancel, 82% move, about
1,000 resting orders over ~750 price levels per symbol, 1,000 users on one symbol; then 100
symbols and 100,000 users.

Like exchange-core's perf tests, commands are generated up front (by running them through a
generator engine, so cancels and moves target live orders and the book keeps its shape), and
the measured run replays them on a fresh engine: risk + matching only, no I/O. A separate
run goes through the sequencer with the journal to show what durability costs.

Latency is measured open-loop at fixed offered loads: command i is due at t0 + i/rate and its
latency is completion minus due time, so a slow command also delays (and is charged for) the
ones queued behind it (no coordinated omission).

    ringgate perf engine                 # everything, default sizes
    ringgate perf engine --quick         # small sizes (CI smoke run)
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import tempfile
import time
import tracemalloc

import click

from ringgate.sw.exchange.codes import FsyncPolicy, OrderType
from ringgate.sw.exchange.commands import place
from ringgate.sw.exchange.engine import Engine
from ringgate.sw.exchange.events import TradeEvent
from ringgate.sw.exchange.sequencer import Exchange
from ringgate.sw.exchange.workload import CENTER, HALF_RANGE, generate, setup_commands

__all__ = ["main"]

def _fresh(setup) -> Engine:
    eng = Engine()
    for i, c in enumerate(setup, 1):
        eng.apply(i, 0, c)
    return eng


def throughput(setup, cmds, repeats: int = 5) -> dict:
    """Best of ``repeats`` runs (the machine is shared: the best run is the least disturbed one).

    ``apply`` builds a CommandResult per command (what the sequencer hands out); ``execute``
    writes the code and events into caller-owned storage, as exchange-core does with its ring
    slots."""
    best_apply = best_exec = None
    for _ in range(repeats):
        eng = _fresh(setup)
        apply = eng.apply
        seq = eng.seq
        gc.collect()
        gc.disable()
        t0 = time.perf_counter()
        for c in cmds:
            seq += 1
            apply(seq, 0, c)
        dt = time.perf_counter() - t0
        gc.enable()
        best_apply = dt if best_apply is None or dt < best_apply else best_apply
        eng = _fresh(setup)
        execute = eng.execute
        seq = eng.seq
        events: list = []
        gc.collect()
        gc.disable()
        t0 = time.perf_counter()
        for c in cmds:
            seq += 1
            execute(seq, 0, c, events)
            if events:
                events.clear()
        dt = time.perf_counter() - t0
        gc.enable()
        best_exec = dt if best_exec is None or dt < best_exec else best_exec
    return {"commands": len(cmds), "repeats": repeats,
            "apply_ops_per_s": round(len(cmds) / best_apply), "execute_ops_per_s": round(len(cmds) / best_exec)}


def journaled_throughput(setup, cmds, policy: FsyncPolicy, batch: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        ex = Exchange.open(d, fsync=policy)
        ex.submit_many(setup)
        gc.collect()
        t0 = time.perf_counter()
        for i in range(0, len(cmds), batch):
            ex.submit_many(cmds[i:i + batch])
        dt = time.perf_counter() - t0
        size = ex.journal.bytes_written
        ex.close()
    return {"fsync": policy.value, "batch": batch, "ops_per_s": round(len(cmds) / dt),
            "journal_bytes_per_command": round(size / max(1, len(cmds)), 1)}


PCTS = (50, 90, 95, 99, 99.9, 99.99)


def _steal_ms() -> float | None:
    """CPU time the hypervisor gave to other guests (all CPUs, ms): a disturbed run shows here."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) * 1000 / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def latency(setup, cmds, rate: float) -> dict:
    """Open-loop: command i is due at t0 + i/rate; latency = done - due (ns)."""
    eng = _fresh(setup)
    apply = eng.apply
    seq = eng.seq
    clock = time.perf_counter_ns
    gap = 1e9 / rate
    lat = [0] * len(cmds)
    gc.collect()
    steal0 = _steal_ms()
    csw0 = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
    gc.disable()
    t0 = clock() + 1000
    for i, c in enumerate(cmds):
        due = t0 + int(i * gap)
        while clock() < due:
            pass
        seq += 1
        apply(seq, 0, c)
        lat[i] = clock() - due
    gc.enable()
    lat.sort()
    n = len(lat)
    out = {"rate": rate}
    for p in PCTS:
        out[f"p{p}"] = lat[min(n - 1, int(n * p / 100))]
    out["max"] = lat[-1]
    steal1 = _steal_ms()
    out["preempted"] = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw - csw0
    out["steal_ms"] = None if steal0 is None or steal1 is None else round(steal1 - steal0, 1)
    return out


def memory_per_order(n: int = 100_000) -> dict:
    """tracemalloc growth per resting order (Order object, id index, owner index, share of levels)."""
    setup = setup_commands(1, 1000)
    eng = _fresh(setup)
    rnd = random.Random(5)
    cmds = []
    for oid in range(1, n + 1):
        side = rnd.randrange(2)
        off = rnd.randrange(1, HALF_RANGE)
        price = CENTER - off if side else CENTER + off
        cmds.append(place(rnd.randrange(1, 1001), 0, oid, side, price, 5))
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    seq = eng.seq
    for c in cmds:
        seq += 1
        eng.apply(seq, 0, c)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(eng.books[0].orders) == n
    return {"orders": n, "levels": len(eng.books[0].levels(0)) + len(eng.books[0].levels(1)),
            "bytes_per_order": round((after - before) / n, 1)}


def breakdown(setup, cmds) -> dict:
    """Where the time per command goes (ns): the bare Python loop, the engine's per-command
    overhead (dispatch + result object, measured with no-op handlers), and the mean cost of each
    command kind (timed one by one, timer overhead subtracted)."""
    out = {}
    t0 = time.perf_counter()
    for c in cmds:
        pass
    out["loop"] = round((time.perf_counter() - t0) / len(cmds) * 1e9)
    eng = _fresh(setup)
    eng._order_ops = dict.fromkeys((1, 2, 3, 4), lambda c, ts, ev: 100)
    seq = eng.seq
    t0 = time.perf_counter()
    for c in cmds:
        seq += 1
        eng.apply(seq, 0, c)
    out["loop+apply_overhead"] = round((time.perf_counter() - t0) / len(cmds) * 1e9)
    clock = time.perf_counter_ns
    t0 = clock()
    for c in cmds:
        a = clock()
        b = clock()
    timer = (clock() - t0) / len(cmds) / 2
    eng = _fresh(setup)
    seq = eng.seq
    sums: dict[str, list[int]] = {}
    gc.disable()
    for c in cmds:
        seq += 1
        a = clock()
        r = eng.apply(seq, 0, c)
        b = clock()
        kind = ("GTC" if c.order_type == 0 else "IOC") if c.cmd == 1 else ("cancel", "move")[c.cmd - 2]
        if any(type(e) is TradeEvent for e in r.events):       # after a reject, when there is one
            kind += "+trade"
        acc = sums.setdefault(kind, [0, 0])
        acc[0] += b - a
        acc[1] += 1
    gc.enable()
    out["apply_by_kind"] = {k: {"n": v[1], "ns": round(v[0] / v[1] - timer)} for k, v in sorted(sums.items())}
    return out


def snapshot_cost(engine: Engine) -> dict:
    """Sequencer stall of a synchronous snapshot vs a forked one, and the snapshot size."""
    with tempfile.TemporaryDirectory() as d:
        ex = Exchange(engine, d)
        t0 = time.perf_counter()
        path = ex.snapshot(background=False)
        sync = time.perf_counter() - t0
        size = path.stat().st_size
        t0 = time.perf_counter()
        ex.snapshot(background=True)
        forked = time.perf_counter() - t0
        ex.close()
    return {"orders": sum(len(b.orders) for b in engine.books.values()), "users": len(engine.users),
            "bytes": size, "sync_stall_s": round(sync, 3), "fork_stall_s": round(forked, 4)}


def ring_decode(n: int = 100_000) -> dict:
    """Cost of turning FPGA ring entries into commands (``from_ring``), best of 5."""
    import numpy as np
    from ringgate.contracts.entry import ENTRY_DTYPE
    from ringgate.sw.exchange.commands import from_ring
    entries = np.zeros(n, ENTRY_DTYPE)
    entries["cmd"] = 3
    entries["price"] = np.arange(n)
    best = None
    for _ in range(5):
        t0 = time.perf_counter()
        from_ring(entries)
        dt = time.perf_counter() - t0
        best = dt if best is None or dt < best else best
    return {"entries": n, "ns_per_entry": round(best / n * 1e9)}


def profile(setup, cmds, top: int = 15) -> str:
    import cProfile
    import io
    import pstats
    eng = _fresh(setup)
    seq = eng.seq
    pr = cProfile.Profile()
    pr.enable()
    for c in cmds:
        seq += 1
        eng.apply(seq, 0, c)
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(top)
    return s.getvalue()


def mix_stats(cmds, eng_setup) -> dict:
    eng = _fresh(eng_setup)
    seq = eng.seq
    kinds = {"GTC": 0, "IOC": 0, "cancel": 0, "move": 0}
    trades = 0
    for c in cmds:
        seq += 1
        r = eng.apply(seq, 0, c)
        if c.cmd == 1:
            kinds["GTC" if c.order_type == OrderType.GTC else "IOC"] += 1
        elif c.cmd == 2:
            kinds["cancel"] += 1
        else:
            kinds["move"] += 1
        trades += any(type(e) is TradeEvent for e in r.events)
    n = len(cmds)
    resting = sum(len(b.orders) for b in eng.books.values())
    levels = sum(len(b.levels(0)) + len(b.levels(1)) for b in eng.books.values())
    return {**{k: f"{100 * v / n:.1f}%" for k, v in kinds.items()},
            "commands_with_trades": f"{100 * trades / n:.1f}%",
            "resting_orders_at_end": resting, "price_levels_at_end": levels}


@click.command("engine")
@click.option("--commands", default=1_000_000, show_default=True, help="Measured commands per scenario.")
@click.option("--latency-commands", default=200_000, show_default=True)
@click.option("--rates", default="25000,50000,100000,200000,400000,600000", show_default=True,
              help="Offered loads (commands/s) for the latency runs.")
@click.option("--memory-orders", default=100_000, show_default=True, help="Resting orders for the memory measurement.")
@click.option("--quick", is_flag=True, help="Small sizes, for a smoke run.")
@click.option("--skip-multi", is_flag=True, help="Only the single-symbol scenario.")
@click.option("--profile", "with_profile", is_flag=True, help="Print a cProfile of the single-symbol run.")
@click.option("--json", "json_out", metavar="FILE", help="Also write the results as JSON.")
def command(**opts):
    """The matching engine on exchange-core's benchmark mix: throughput, open-loop latency, memory."""
    run(**opts)


def run(commands=1_000_000, latency_commands=200_000, rates="25000,50000,100000,200000,400000,600000",
        memory_orders=100_000, quick=False, skip_multi=False, with_profile=False, json_out=None) -> dict:
    """Run every measurement and print it; the results as a dict."""
    args = argparse.Namespace(commands=commands, latency_commands=latency_commands, rates=rates,
                              memory_orders=memory_orders, quick=quick, skip_multi=skip_multi,
                              profile=with_profile, json=json_out)
    if args.quick:
        args.commands, args.latency_commands, args.rates = 20_000, 10_000, "20000,50000"
        args.memory_orders = 20_000
    rates = [float(r) for r in args.rates.split(",") if r]
    report: dict = {"python": os.sys.version.split()[0]}

    print(f"generating {args.commands:,} commands: 1 symbol, 1,000 users, ~1,000 resting orders")
    setup, cmds, _ = generate(args.commands, symbols=1, users=1000, resting=1000)
    report["single"] = {"mix": mix_stats(cmds, setup), "throughput": throughput(setup, cmds)}
    print("  mix:", report["single"]["mix"])
    print("  throughput (engine, one core):", report["single"]["throughput"])
    lat_cmds = cmds[:args.latency_commands]
    report["single"]["breakdown_ns"] = breakdown(setup, cmds[:200_000])
    print("  time per command (ns):", report["single"]["breakdown_ns"])
    report["single"]["latency_ns"] = []
    for rate in rates:
        res = latency(setup, lat_cmds, rate)
        report["single"]["latency_ns"].append(res)
        print("  latency @ {:,.0f}/s: ".format(rate) +
              " ".join(f"{k}={v / 1000:.1f}us" for k, v in res.items() if k not in ("rate", "steal_ms", "preempted"))
              + f" (preempted {res['preempted']}x, hypervisor steal {res['steal_ms']} ms)")
    jcmds = cmds[:min(len(cmds), 200_000)]
    report["single"]["journaled"] = [
        journaled_throughput(setup, jcmds, FsyncPolicy.NEVER, 1000),
        journaled_throughput(setup, jcmds, FsyncPolicy.BATCH, 1000),
        journaled_throughput(setup, jcmds[:20_000], FsyncPolicy.BATCH, 100),
        journaled_throughput(setup, jcmds[:3_000], FsyncPolicy.BATCH, 1),
    ]
    for j in report["single"]["journaled"]:
        print("  through the sequencer with journal:", j)
    report["ring_decode"] = ring_decode()
    print("  FPGA ring entries -> commands:", report["ring_decode"])
    if args.profile:
        print(profile(setup, cmds[:200_000]))

    if not args.skip_multi:
        n_users = 10_000 if args.quick else 100_000
        print(f"generating {args.commands:,} commands: 100 symbols, {n_users:,} users, ~1,000 resting orders each")
        setup, cmds, gen_engine = generate(args.commands, symbols=100, users=n_users, resting=1000)
        report["multi"] = {"mix": mix_stats(cmds, setup), "throughput": throughput(setup, cmds, repeats=3)}
        print("  mix:", report["multi"]["mix"])
        print("  throughput (engine, one core):", report["multi"]["throughput"])
        res = latency(setup, cmds[:args.latency_commands], min(rates[len(rates) // 2], 100_000))
        report["multi"]["latency_ns"] = [res]
        report["multi"]["snapshot"] = snapshot_cost(gen_engine)
        print("  snapshot:", report["multi"]["snapshot"])
        print("  latency @ {:,.0f}/s: ".format(res["rate"]) +
              " ".join(f"{k}={v / 1000:.1f}us" for k, v in res.items() if k not in ("rate", "steal_ms", "preempted"))
              + f" (preempted {res['preempted']}x, hypervisor steal {res['steal_ms']} ms)")

    report["memory"] = memory_per_order(args.memory_orders)
    print("  memory per resting order:", report["memory"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return report
