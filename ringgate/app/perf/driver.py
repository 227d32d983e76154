"""Throughput of the golden model and of the ring consumer on the model backend.

    ringgate perf driver                 # default sizes (~1 min)
    ringgate perf driver --quick         # smoke run
    ringgate perf driver --json out.json

Each figure is the best of ``--repeats`` runs (the machine is shared; the best run is the
least disturbed) in entries per second of wall clock, single thread. What is measured:

* ``model``: the FPGA model alone (push into the BRAM ring, DMA bursts into host memory,
  cursor writes), host consuming instantly (doorbell = SENT after every burst).
* ``consumer``: model + :class:`RingConsumer` end to end: the consumer polls the cursor line,
  checks every sequence, calls a no-op callback and rings the doorbell lazily.
* variants: a callback that copies each batch, one that decodes it into exchange commands
  (``from_ring``), a small host ring, small batches, the doorbell after every batch.
* ``consumer alone``: the host side only, as on a board or co-simulation (the entries are in
  host memory, the cursor moves by a fixed batch before each poll): cost per poll.

Ratios between rows come from the same run and are the meaningful part on a noisy machine.
"""
from __future__ import annotations

import json
import platform
import time

import click
import numpy as np

from ringgate.contracts.entry import ENTRY_DTYPE
from ringgate.sw.driver.consumer import RingConsumer
from ringgate.sw.driver.device import ModelDevice
from ringgate.sw.driver.regs import R

__all__ = ["command", "run", "bench_model", "bench_consumer"]


def _entries(n: int) -> np.ndarray:
    e = np.zeros(n, dtype=ENTRY_DTYPE)
    e["cmd"] = 3
    e["uid"] = np.arange(n) % 1000 + 1
    e["order_id"] = np.arange(n)
    e["price"] = 100_000
    return e


def bench_model(n: int, *, depth: int = 65536, ring_size: int = 65536, chunk: int = 65536,
                max_payload: int = 256, batch_limit: int = 16, cursor_interval: int = 1) -> dict:
    dev = ModelDevice(depth=depth, max_payload=max_payload)
    buf = dev.alloc(ring_size * 64 + 4096)
    dev.regs.start(buf.bus + 4096, ring_size, buf.bus, batch_limit=batch_limit,
                   cursor_interval=cursor_interval)
    m = dev.model
    data = _entries(chunk)
    t0 = time.perf_counter()
    done = 0
    while done < n:
        m.push(data)
        done += m.run()
        m.doorbell = m.sent                 # host consumes instantly (no MMIO cost in the model)
    dt = time.perf_counter() - t0
    return dict(entries=done, seconds=dt, rate=done / dt, data_tlps=m.data_tlps, cursor_writes=m.cursor_tlps,
                beats=m.beats, entries_per_beat=done / m.beats)


def bench_consumer(n: int, *, ring_size: int = 65536, depth: int = 65536, chunk: int = 1 << 16,
                   callback: str = "noop", doorbell_every: int | None = None,
                   service_entries: int | None = None) -> dict:
    dev = ModelDevice(depth=depth, service_entries=service_entries)
    count = [0]
    if callback == "noop":
        def cb(view):
            count[0] += len(view)
    elif callback == "copy":
        sink = np.empty(ring_size * 64, dtype=np.uint8)

        def cb(view):
            # Keep a copy: through byte views (a structured-array copy goes field by field, ~25x slower).
            k = len(view)
            sink[:k * 64] = view.view(np.uint8)
            count[0] += k
    elif callback == "from_ring":
        from ringgate.sw.exchange.commands import from_ring

        def cb(view):
            count[0] += len(from_ring(view))
    else:
        raise ValueError(f"unknown callback {callback!r}")
    c = RingConsumer.open(dev, ring_size, callback=cb, doorbell_every=doorbell_every, health_every=0)
    data = _entries(chunk)
    for _ in range(-(-n // chunk)):
        dev.feed(data)
    total = -(-n // chunk) * chunk
    t0 = time.perf_counter()
    c.run(count=total, timeout=600)
    dt = time.perf_counter() - t0
    assert count[0] == total == c.delivered, (count[0], total, c.delivered)
    assert not dev.read(R.ERROR)
    return dict(entries=total, seconds=dt, rate=total / dt, batches=c.batches, doorbells=c.doorbells,
                entries_per_batch=total / c.batches)


def bench_poll(n: int, *, batch: int = 1, ring_size: int = 65536) -> dict:
    """The consumer alone, as on a board: the ring is already in host memory and the cursor
    advances by ``batch`` entries before each poll (what the device's cursor write does)."""
    dev = ModelDevice(depth=ring_size)
    count = [0]

    def cb(view):
        count[0] += len(view)
    c = RingConsumer.open(dev, ring_size, callback=cb, health_every=0)
    dev.model.push(_entries(ring_size))
    dev.model.run()
    line = c._line
    polls = max(1, n // batch)
    t0 = time.perf_counter()
    for _ in range(polls // (ring_size // batch) + 1):
        c.next = 0
        c.rung = 0
        for cur in range(batch, ring_size + 1, batch):
            line[0] = cur
            c.poll()
    dt = time.perf_counter() - t0
    line[0] = ring_size
    return dict(entries=count[0], seconds=dt, rate=count[0] / dt, batch=batch,
                us_per_poll=dt / (count[0] / batch) * 1e6)


def best(fn, repeats: int, **kw) -> dict:
    runs = [fn(**kw) for _ in range(repeats)]
    return max(runs, key=lambda r: r["rate"])


@click.command("driver")
@click.option("--entries", default=4_000_000, show_default=True, help="Entries per scenario.")
@click.option("--repeats", default=3, show_default=True, help="Runs per scenario; the best one counts.")
@click.option("--quick", is_flag=True, help="Small sizes (smoke run).")
@click.option("--json", "json_out", metavar="FILE", help="Write the results to this file.")
def command(**opts):
    """Throughput of the golden model and of the ring consumer on the model backend."""
    run(**opts)


def run(entries: int = 4_000_000, repeats: int = 3, quick: bool = False, json_out: str | None = None) -> dict:
    """Every scenario, printed as a table; the results as a dict."""
    n = 200_000 if quick else entries
    reps = 1 if quick else repeats
    small = max(n // 8, 1 << 14)
    rows = [
        ("model, MPS 256, batch 16, cursor every TLP", bench_model, dict(n=n)),
        ("model, MPS 512, cursor every 8 TLPs", bench_model, dict(n=n, max_payload=512, cursor_interval=8)),
        ("model, 4096-entry pushes", bench_model, dict(n=n, chunk=4096)),
        ("model, 64-entry pushes", bench_model, dict(n=small, chunk=64)),
        ("model + consumer, no-op callback", bench_consumer, dict(n=n)),
        ("model + consumer, copying callback", bench_consumer, dict(n=n, callback="copy")),
        ("model + consumer, host ring 1024", bench_consumer, dict(n=n, ring_size=1024, depth=4096, chunk=4096)),
        ("model + consumer, 64-entry batches", bench_consumer,
         dict(n=small, ring_size=1024, depth=4096, chunk=4096, service_entries=64)),
        ("model + consumer, 64-entry batches, doorbell each", bench_consumer,
         dict(n=small, ring_size=1024, depth=4096, chunk=4096, service_entries=64, doorbell_every=1)),
        ("model + consumer, 1-entry batches", bench_consumer,
         dict(n=small // 16, ring_size=1024, depth=4096, chunk=4096, service_entries=1)),
        ("model + consumer + exchange decode (from_ring)", bench_consumer,
         dict(n=small, callback="from_ring")),
        ("consumer alone, 1-entry polls", bench_poll, dict(n=small, batch=1)),
        ("consumer alone, 16-entry polls", bench_poll, dict(n=small, batch=16)),
        ("consumer alone, 64-entry polls", bench_poll, dict(n=n // 4, batch=64)),
        ("consumer alone, 4096-entry polls", bench_poll, dict(n=n, batch=4096)),
    ]
    results = {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
               "repeats": reps, "rows": []}
    print(f"{'scenario':<52} {'entries/s':>14} {'ratio':>7}  notes")
    base = None
    for name, fn, kw in rows:
        r = best(fn, reps, **kw)
        base = base or r["rate"]
        note = ""
        if "entries_per_beat" in r:
            note = f"{r['entries_per_beat']:.3f} entries/beat (256-bit model clock)"
        elif "entries_per_batch" in r:
            note = f"{r['entries_per_batch']:.0f} entries/batch, {r['doorbells']} doorbells"
        elif "us_per_poll" in r:
            note = f"{r['us_per_poll']:.2f} us per poll with new entries"
        print(f"{name:<52} {r['rate']:>14,.0f} {r['rate'] / base:>7.2f}  {note}")
        results["rows"].append({"name": name, **kw, **r})
    if json_out:
        with open(json_out, "w") as f:
            json.dump(results, f, indent=2)
    return results
