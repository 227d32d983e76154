"""The host stages in real time: a replay of order flow into host memory, measured per entry.

Three processes, as on a machine with a board in it:

- the **device** (:func:`_device`), pinned to one core: the golden model
  (:class:`~ringgate.model.FpgaModel`) writes entries and then the cursor line into a shared
  host-memory file, paced open-loop by a schedule (a rate, optionally in bursts), and serves the
  register mailbox of ``ringgate.sim.cosim.shm`` against the model's BAR0. To the host it looks
  exactly like a running co-simulation, so the host opens it with the unchanged ``sim`` backend;
- the **host**, this process, pinned to the other core: ``serve``'s own path. The driver's
  ``open_ring`` consumer polls the cursor line in the ring-feed thread (``attach_backend``) and
  hands every batch to the gateway's ``RingFeed``; the sequencer thread runs the engine; the
  event loop turns the results into WebSocket frames;
- a **WebSocket client** (the ``websockets`` library), pinned with the device, authenticated as an
  operator and subscribed to every user's ``orders.<uid>`` topic.

Stamps (``time.perf_counter_ns``: CLOCK_MONOTONIC on Linux, one clock for every process):

- *due*: when the schedule says the entry's cursor line is written (open loop: a late device or a
  stalled host never moves the schedule);
- *cursor visible*: the device, just before it stores the cursor line that announces the entry;
- *poll*: the consumer's poll that found it; *callback*: the application callback entered;
- *engine result*: the exchange hands the result of its batch to its first subscriber;
- *frame written*: the gateway handed the entry's own ``orders.<uid>`` update (placed, moved,
  cancelled, trade, rejected ...) to the client's transport (``Hub.on_written``);
- *received*: the client's ``recv`` returned it.

Coordinated omission: every stage is also measured from *due* (the corrected figure): an entry
that waited because the host (or the device process) fell behind is charged for the wait, as a
wire that cannot pause would charge it. The device's own lateness (*due* -> *cursor visible*)
is reported so the harness's error is visible; the host ring is large enough that flow control
never holds the device back (counted: ``device_held_ns``).

Experiments (:data:`VARIANTS`, a ``+variant`` after the poll mode) change the host from what
``serve`` runs, to show what each hand-off between threads costs. docs/latency.md has the figures.
"""
from __future__ import annotations

import asyncio
import gc
import json
import multiprocessing as mp
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["ReplayConfig", "ReplayPlan", "make_plan", "run_replay", "attribute_frames", "entry_stamps",
           "host_stages", "machine_load", "measure", "HostMeasurement", "ReplayError", "STAGES", "STAMP_KEYS",
           "VARIANTS"]

# (stage name, start stamp, end stamp); the ``*_from_due`` twins are the corrected figures
STAGES = (
    ("cursor visible -> consumer poll found it", "cursor", "poll"),
    ("cursor visible -> consumer callback", "cursor", "callback"),
    ("cursor visible -> engine result", "cursor", "result"),
    ("cursor visible -> WebSocket frame written", "cursor", "written"),
    ("cursor visible -> frame received by the client", "cursor", "received"),
)


class ReplayError(RuntimeError):
    """The replay could not be measured (the message says why)."""


@dataclass
class ReplayConfig:
    """What to replay and how.

    Parameters
    ----------
    orders : int
        Measured entries (exchange-core's mix), after ``resting`` book-building ones.
    rate : float
        Offered entries per second (the mean; bursts keep it).
    burst : int
        Entries per burst: a burst's entries share one cursor write when they are due together.
    poisson : bool
        Burst starts as a Poisson process instead of evenly spaced.
    users : int
        Ring users (each has an ``orders.<uid>`` topic; the client subscribes to all of them).
    host_core, device_core : int or None
        CPUs of the host process and of the device + client processes (default: the first and
        the second CPU this process may use; one CPU: both on it).
    spin_us : float
        The device sleeps until this long before a burst is due, then spins.
    host_ring : int
        Host ring entries (large: the device is never held back by flow control).
    resting, seed : int
        Book-building entries before the measured ones (not measured); the traffic's seed.
    timeout_s : float
        How long past the schedule's end the host may take before the run fails.
    nice : int
        Scheduling niceness of the three processes, and of their scheduler autogroup where Linux
        has autogroups on (negative needs the privilege): on a machine shared with other jobs, a
        negative value approximates the reserved cores a deployment would give the path (the
        report states it).
    switch_interval_us : float or None
        CPython's thread switch interval in the host process; None: what ``serve`` sets. The
        consumer, sequencer and event-loop threads hand work to each other through the GIL, so
        this bounds each hand-off while another thread is busy (an experiment knob).
    """
    orders: int = 20_000
    rate: float = 5_000.0
    burst: int = 1
    poisson: bool = False
    users: int = 64
    resting: int = 500
    seed: int = 1
    host_core: int | None = None
    device_core: int | None = None
    spin_us: float = 300.0
    host_ring: int = 1 << 16
    switch_interval_us: float | None = None
    nice: int = 0
    timeout_s: float = 120.0

    def __post_init__(self):
        cores = sorted(os.sched_getaffinity(0))
        if self.host_core is None:
            self.host_core = cores[0]
        if self.device_core is None:
            self.device_core = cores[1] if len(cores) > 1 and cores[1] != self.host_core else cores[0]

    def check(self) -> None:
        if self.orders < 1:
            raise ValueError(f"orders must be >= 1, not {self.orders}")
        if not 0 < self.rate <= 1e6:
            raise ValueError(f"rate must be in (0, 1e6] entries/s, not {self.rate}")
        if self.burst < 1:
            raise ValueError(f"burst must be >= 1, not {self.burst}")
        if not 1 <= self.users <= 250:
            raise ValueError(f"users must be 1..250 (one WebSocket connection subscribes to all), not {self.users}")
        if not -20 <= self.nice <= 19:
            raise ValueError(f"nice must be -20..19, not {self.nice}")
        if self.switch_interval_us is not None and not 0 < self.switch_interval_us <= 100_000:
            raise ValueError(f"switch interval must be in (0, 100000] us, not {self.switch_interval_us}")
        if self.host_ring < 1024 or self.host_ring & (self.host_ring - 1):
            raise ValueError(f"host ring must be a power of two >= 1024, not {self.host_ring}")
        cores = len(os.sched_getaffinity(0))
        for name, core in (("host core", self.host_core), ("device core", self.device_core)):
            if core not in os.sched_getaffinity(0):
                raise ValueError(f"{name} {core} is not one of this process's CPUs {sorted(os.sched_getaffinity(0))}")
        if self.host_core == self.device_core and cores > 1:
            raise ValueError("host and device must run on different cores")


@dataclass
class ReplayPlan:
    """Entries and when each one's cursor line is due (ns after the start)."""
    entries: np.ndarray
    due_ns: np.ndarray
    setup: list
    warmup: int
    uids: list[int]
    config: ReplayConfig


def make_plan(cfg: ReplayConfig) -> ReplayPlan:
    """exchange-core's mix (``sim/traffic.py``) on one symbol, scheduled in ns at ``cfg.rate``."""
    from ringgate.sim.traffic import make_traffic, schedule

    cfg.check()
    tr = make_traffic(cfg.orders, users=cfg.users, symbols=1, resting=cfg.resting, load=0.01, seed=cfg.seed)
    # the traffic's own schedule is in FPGA cycles; here: ns of wall clock (a burst's entries 1 ns apart)
    due = schedule(len(tr), cfg.rate * 1e-9, burst=cfg.burst, poisson=cfg.poisson, seed=cfg.seed).astype(np.int64)
    entries = tr.entries.copy()
    entries["ts"] = 0
    uids = sorted({int(u) for u in entries["uid"]})
    return ReplayPlan(entries, due - due[0], tr.setup, tr.warmup, uids, cfg)


# -- the device process --------------------------------------------------------------------

def _autogroup_nice(nice: int | None) -> int | None:
    """Set the scheduler autogroup's nice value (where autogroups are on, a process's own nice
    only ranks it inside its session's group); returns the previous value, or None."""
    path = Path("/proc/self/autogroup")
    try:
        old = int(path.read_text().split("nice")[1])
        if nice is not None:
            path.write_text(str(nice))
        return old
    except (OSError, IndexError, ValueError):
        return None


def _pin(core: int, nice: int = 0) -> None:
    """This thread (and the threads it starts) onto ``core``, at ``nice`` (Linux: both per thread)."""
    try:
        os.sched_setaffinity(0, {core})
    except (AttributeError, OSError):
        pass
    if nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)


_CTL_WORDS = 8
C_GO, C_STOP, C_STATE, C_PUSHED = range(4)    # control-file words (u64)
S_STARTING, S_READY, S_DONE, S_FAILED = range(4)


def _control(path: Path, create: bool) -> np.ndarray:
    from ringgate.sw.driver.device import map_shared
    mm = map_shared(path, _CTL_WORDS * 8, create=create)
    arr = np.frombuffer(mm, np.uint64, _CTL_WORDS)
    if create:
        arr[:] = 0
    return arr


def _device(directory: str, host_bytes: int, entries_raw: bytes, due_ns: np.ndarray, core: int,
            spin_ns: int, nice: int = 0) -> None:
    """The golden model as the device: mailbox server + paced writer (a process target)."""
    _pin(core, nice)
    from ringgate.contracts.entry import ENTRY_DTYPE
    from ringgate.model import FpgaModel, HostMemory
    from ringgate.sim.cosim.shm import H_HEAD, H_STATE, H_TAIL, HOST_BASE, Mailbox, Op, State
    from ringgate.sw.driver.device import map_shared

    class StampedModel(FpgaModel):
        """Stamps the wall clock just before each cursor-line store (the model's one place that
        writes the line): a reader cannot see the line earlier than its stamp."""

        def _write_cursor(self, timestamp: int) -> None:
            self.wall.append(time.perf_counter_ns())
            self.covers.append(self.sent)
            super()._write_cursor(timestamp)

    d = Path(directory)
    ctl = _control(d / "control", create=False)
    try:
        entries = np.frombuffer(entries_raw, ENTRY_DTYPE)
        n = len(entries)
        mem = map_shared(d / "hostmem", host_bytes, create=True)
        host = HostMemory()
        host.map(HOST_BASE, mem)
        model = StampedModel(host, depth=65536)
        model.wall, model.covers = [], []
        mb = Mailbox.create(d / "mailbox", host_bytes=host_bytes, owner=os.getppid())
        h = mb.h
        mb[H_STATE] = State.READY
        ctl[C_STATE] = S_READY
        perf, sleep, yield_cpu = time.perf_counter_ns, time.sleep, os.sched_yield
        i, t0, held_ns, held_since = 0, 0, 0, 0
        cpu0 = time.process_time()
        while not ctl[C_STOP]:
            if h[H_HEAD] != h[H_TAIL]:
                for idx, op, off, value in list(mb.pending()):
                    if op == Op.READ32:
                        mb.complete(idx, model.read32(off))
                    else:
                        model.write32(off, value)
                        mb.complete(idx)
                if model.published > model.sent:
                    model.run()                      # a doorbell may have made room
                    if held_since and model.published == model.sent:
                        held_ns += perf() - held_since
                        held_since = 0
            if not t0:
                t0 = int(ctl[C_GO])
                if not t0:
                    sleep(50e-6)
                    continue
                cpu0 = time.process_time()
            now = perf()
            if i < n and t0 + due_ns[i] <= now:
                if not model.enabled:
                    raise RuntimeError("the host has not enabled the DMA writer")
                j = int(np.searchsorted(due_ns, now - t0, side="right"))
                model.push(entries[i:j])
                i = j
                ctl[C_PUSHED] = i
                model.run()
                if model.published > model.sent and not held_since:
                    held_since = now                 # the host ring is full: flow control holds us
                continue
            if i < n:
                wait = t0 + int(due_ns[i]) - now
                if wait > spin_ns:
                    sleep(min(wait - spin_ns, 1_000_000) * 1e-9)
                else:
                    yield_cpu()                      # spinning: the client on this core may run
            else:
                if model.cursor_written == n and not ctl[C_STATE] == S_DONE:
                    ctl[C_STATE] = S_DONE
                sleep(100e-6)
        cpu = time.process_time() - cpu0
        np.savez(d / "device.npz", t0=t0, cursor_ns=np.array(model.wall, np.int64),
                 cursor_val=np.array(model.covers, np.int64), held_ns=held_ns, cpu_s=cpu,
                 dropped=model.dropped, data_tlps=model.data_tlps, cursor_tlps=model.cursor_tlps)
        mb[H_STATE] = State.STOPPED
    except BaseException as e:              # the host sees FAILED and the reason
        (d / "device.err").write_text(f"{type(e).__name__}: {e}")
        ctl[C_STATE] = S_FAILED
        raise


# -- the WebSocket client process ------------------------------------------------------------

def _client(port: int, api_key: str, secret: str, topics: list[str], out: str, core: int, ready, stop,
            count, nice: int = 0) -> None:
    """Operator client on every ``orders.<uid>`` topic: stamps each message as ``recv`` returns it."""
    _pin(core, nice)
    import uvloop
    from websockets.asyncio.client import connect

    from ringgate.sw.gateway.auth import sign

    async def main():
        stamps, msgs = [], []
        async with connect(f"ws://127.0.0.1:{port}/ws", compression=None, max_size=None) as ws:
            ts = int(time.time() * 1000)
            await ws.send(json.dumps({"op": "auth", "id": 1, "apiKey": api_key, "timestamp": ts,
                                      "signature": sign(secret, ts, "GET", "/ws")}))
            reply = json.loads(await ws.recv())
            if not reply.get("ok"):
                raise ReplayError(f"WebSocket auth refused: {reply}")
            await ws.send(json.dumps({"op": "subscribe", "id": 2, "topics": topics}))
            want = len(topics) + 1                       # the response and one snapshot per topic
            while want:
                m = json.loads(await ws.recv())
                if m.get("type") == "error":
                    raise ReplayError(f"WebSocket subscribe refused: {m}")
                want -= 1
            ready.set()
            perf = time.perf_counter_ns

            async def reader():
                async for m in ws:
                    stamps.append(perf())
                    msgs.append(m)
                    count.value = len(msgs)
            task = asyncio.ensure_future(reader())
            while not stop.is_set():
                await asyncio.sleep(0.02)
            task.cancel()
        with open(out, "w") as f:
            json.dump({"t": stamps, "m": msgs}, f)
    uvloop.run(main())


# -- the host side ---------------------------------------------------------------------------

def _thread_cpu(tid: int) -> float:
    """CPU seconds of one thread of this process (utime + stime)."""
    try:
        fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def machine_load() -> dict:
    """What else the machine was doing: load averages, CPUs, and the busiest other processes."""
    out = {"cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()], "cpu_model": platform.processor()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                out["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return out


def _cpu_snapshot(pids) -> tuple[int, int, int] | None:
    """(busy ticks of all CPUs, all ticks, ticks of ``pids``) from /proc."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        mine = 0
        for pid in pids:
            st = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            mine += int(st[11]) + int(st[12])
        return sum(f) - f[3] - f[4], sum(f), mine
    except (OSError, IndexError, ValueError):
        return None


def _others_busy(a, b) -> float:
    """Share of the machine's CPU time that other processes used between two snapshots."""
    if a is None or b is None or b[1] <= a[1]:
        return float("nan")
    return max(0.0, ((b[0] - a[0]) - (b[2] - a[2])) / (b[1] - a[1]))


@dataclass
class _HostProbe:
    """Stamps taken in the host process (appends only: they run on the measured path)."""
    perf: object = time.perf_counter_ns
    batches: list = field(default_factory=list)      # (entries, poll ns, callback ns)
    results: list = field(default_factory=list)      # (exchange seq, result code, ns)
    written: list = field(default_factory=list)      # (ns, frames)
    consumer: object = None

    def on_result(self, r) -> None:
        self.results.append((r.seq, r.result_code, self.perf()))

    def on_written(self, conn, frames) -> None:
        self.written.append((self.perf(), frames))

    def wrap(self, submit):
        perf, batches = self.perf, self.batches

        def on_batch(view):
            t = perf()
            c = self.consumer
            batches.append((len(view), c.seen_ns if c is not None else t, t))
            return submit(view)
        return on_batch


# the host's threads by their names in ringgate.sw.gateway (cli.attach_backend, bridge, app.run_in_thread)
_THREADS = {"ring-feed": "ring feed", "gateway-sequencer": "sequencer", "gateway": "event loop"}


def _loop_settled(loop, probe: _HostProbe, timeout: float = 30.0) -> int:
    """Frames written once ``loop`` has run what was queued for it, and the flushes that queued."""
    done = threading.Event()
    loop.call_soon_threadsafe(lambda: loop.call_soon(done.set))
    if not done.wait(timeout):
        raise ReplayError(f"the gateway's event loop did not run for {timeout} s")
    return sum(len(fs) for _, fs in probe.written)


def _thread_ids() -> dict[str, int]:
    return {_THREADS[t.name]: t.native_id for t in threading.enumerate() if t.name in _THREADS}


VARIANTS = {
    "": "serve's path: the ring-feed thread hands each batch to the gateway's sequencer thread",
    "inline": "experiment: the ring-feed thread runs the engine itself (no sequencer-thread hand-off)",
    "loop": "experiment: the event loop polls the ring between its I/O and runs the engine (one thread)",
}


def _attach_feed(gw, ex, directory: Path, cfg: ReplayConfig, mode: str, variant: str, probe: _HostProbe,
                 stop: threading.Event) -> None:
    """The ring feed of ``serve`` (``attach_backend``: its own thread into the gateway's
    ``RingFeed``), or one of the experiments of :data:`VARIANTS`; results reach the event loop
    through the exchange's subscribers either way."""
    from ringgate.sw.driver import open_ring
    from ringgate.sw.exchange import from_ring
    from ringgate.sw.gateway.cli import attach_backend

    def engine(view):
        ex.submit_many(from_ring(view))

    def opener(backend, feed_submit, **_):        # serve's own poll choice is overridden by ``mode``
        c = open_ring(backend, probe.wrap(engine if variant else feed_submit), sim_dir=str(directory),
                      ring_size=cfg.host_ring, poll=mode, doorbell_every=cfg.host_ring // 8, health_every=1.0)
        probe.consumer = c
        return c
    if variant != "loop":
        attach_backend(gw, "sim", opener, stop, poll=mode)
        return
    consumer, loop = opener("sim", None), gw.loop

    def pump():                                   # one poll per loop iteration, between its I/O
        if not stop.is_set():
            consumer.poll()
            loop.call_soon(pump)
    loop.call_soon_threadsafe(pump)


def run_replay(plan: ReplayPlan, poll: str, *, workdir: Path | None = None, log=print) -> dict:
    """One replay of ``plan`` with the consumer in ``poll`` mode; returns the raw stamps and figures.

    ``poll`` is a consumer poll mode (``busy``, ``sleep``, ...), optionally with a ``+variant``
    of :data:`VARIANTS` (experiments that show what a hand-off between threads costs)."""
    from ringgate.app.perf.gateway import SWITCH_INTERVAL
    from ringgate.sim.cosim.shm import default_dir
    from ringgate.sw.driver.consumer import buffer_bytes
    from ringgate.sw.exchange import Exchange
    from ringgate.sw.gateway.app import Gateway, run_in_thread
    from ringgate.sw.gateway.cli import tune_gc

    cfg = plan.config
    n = len(plan.entries)
    mode, _, variant = poll.partition("+")
    if variant not in VARIANTS:
        raise ValueError(f"{poll!r}: a poll mode's variant is one of {', '.join('+' + v for v in VARIANTS if v)}")
    d = Path(tempfile.mkdtemp(prefix="ringgate-replay-", dir=workdir or default_dir()))
    ctx = mp.get_context("spawn")
    ctl = _control(d / "control", create=True)
    host_bytes = -(-(buffer_bytes(cfg.host_ring) + (1 << 20)) // 4096) * 4096
    old_affinity, old_nice = os.sched_getaffinity(0), os.getpriority(os.PRIO_PROCESS, 0)
    old_group = _autogroup_nice(cfg.nice) if cfg.nice else None
    old_switch, old_gc = sys.getswitchinterval(), gc.get_threshold()
    dev = client = stop_gw = None
    stop_feed = threading.Event()
    ready, stop_client, received = ctx.Event(), ctx.Event(), ctx.RawValue("q", 0)
    probe = _HostProbe()
    try:
        _pin(cfg.host_core, cfg.nice)                # before the gateway's threads exist: they inherit it
        sys.setswitchinterval(SWITCH_INTERVAL if cfg.switch_interval_us is None     # as `serve` runs
                              else cfg.switch_interval_us * 1e-6)
        tune_gc()
        ex = Exchange.in_memory()
        ex.submit_many(plan.setup)
        ex.subscribe(probe.on_result)                # first subscriber: stamped before the gateway's
        first_seq = ex.seq + 1
        gw = Gateway(ex)
        admin = gw.add_key(0, "admin")
        gw, port, stop_gw = run_in_thread(lambda: gw)
        gw.hub.on_written = probe.on_written
        topics = [f"orders.{u}" for u in plan.uids]
        # the device and the client start together (each imports for a second or two)
        dev = ctx.Process(target=_device, name="ringgate-replay-device", daemon=True,
                          args=(str(d), host_bytes, plan.entries.tobytes(), plan.due_ns, cfg.device_core,
                                int(cfg.spin_us * 1000), cfg.nice))
        client = ctx.Process(target=_client, name="ringgate-replay-client", daemon=True,
                             args=(port, admin.api_key, admin.secret, topics, str(d / "client.json"),
                                   cfg.device_core, ready, stop_client, received, cfg.nice))
        dev.start()
        client.start()
        deadline = time.monotonic() + 60
        while ctl[C_STATE] == S_STARTING or not ready.is_set():
            if ctl[C_STATE] == S_FAILED or not dev.is_alive() or time.monotonic() > deadline:
                raise ReplayError(f"the device process did not start: {_device_error(d)}")
            if not client.is_alive() or time.monotonic() > deadline:
                raise ReplayError("the WebSocket client did not subscribe within 60 s")
            time.sleep(0.01)
        time.sleep(0.05)
        probe.written.clear()                        # auth/subscribe replies and snapshots: not entries

        _attach_feed(gw, ex, d, cfg, mode, variant, probe, stop_feed)
        time.sleep(0.3)                              # the feed thread polls; let the machine settle
        ours = (os.getpid(), dev.pid, client.pid)
        load0 = _cpu_snapshot(ours)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        tids = _thread_ids()
        tid_cpu0 = {k: _thread_cpu(t) for k, t in tids.items()}
        t0 = time.perf_counter_ns() + 20_000_000
        ctl[C_GO] = t0
        span_s = plan.due_ns[-1] * 1e-9
        log(f"  replaying {n} entries over {span_s:.1f} s ({poll} polling) ...")
        deadline = time.monotonic() + span_s + cfg.timeout_s
        while len(probe.results) < n or ctl[C_STATE] != S_DONE:
            if ctl[C_STATE] == S_FAILED or not dev.is_alive():
                raise ReplayError(f"the device process failed: {_device_error(d)}")
            if time.monotonic() > deadline:
                raise ReplayError(f"only {len(probe.results)} of {n} entries reached the engine in time "
                                  f"(device pushed {int(ctl[C_PUSHED])})")
            time.sleep(0.01)
        # the last frames: the event loop has run everything queued for it (twice, 50 ms apart, with
        # no new frame in between) and the client has received every frame written
        while True:
            before = _loop_settled(gw.loop, probe)
            time.sleep(0.05)
            frames = _loop_settled(gw.loop, probe)
            if frames == before and received.value >= frames:
                break
            if time.monotonic() > deadline:
                raise ReplayError(f"the client received {received.value} of {frames} frames in time")
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        if gw.hub.cut_off:
            raise ReplayError("the gateway cut the WebSocket client off (it fell behind by more than the "
                              "gateway's buffer limit): the host could not keep up with this rate")
        others = _others_busy(load0, _cpu_snapshot(ours))
        tid_cpu = {k: _thread_cpu(t) - tid_cpu0[k] for k, t in tids.items()}
        stop_feed.set()                               # the feed thread ends within one poll timeout
        stop_client.set()
        client.join(30)
        time.sleep(0.25)
        ctl[C_STOP] = 1
        dev.join(30)
        if not (d / "device.npz").exists():
            raise ReplayError(f"the device process wrote no results: {_device_error(d)}")
        devr = dict(np.load(d / "device.npz"))
        if int(devr["dropped"]):
            raise ReplayError(f"the device's BRAM ring dropped {int(devr['dropped'])} entries")
        got = json.loads((d / "client.json").read_text()) if (d / "client.json").exists() else {"t": [], "m": []}
    finally:
        stop_feed.set()
        stop_client.set()
        ctl[C_STOP] = 1
        if stop_gw is not None:
            stop_gw()
        for p in (client, dev):
            if p is not None:
                p.join(10)
                if p.is_alive():
                    p.kill()
        os.sched_setaffinity(0, old_affinity)
        if cfg.nice:
            try:
                os.setpriority(os.PRIO_PROCESS, 0, old_nice)
            except OSError:                          # raising a priority back needs the privilege too
                pass
            if old_group is not None:
                _autogroup_nice(old_group)
        sys.setswitchinterval(old_switch)
        gc.unfreeze()
        gc.set_threshold(*old_gc)
        shutil.rmtree(d, ignore_errors=True)         # host memory lives in /dev/shm: never leave it
    res_seq = np.array([r[0] for r in probe.results], np.int64)
    ring = (res_seq >= first_seq)
    return {
        "poll": poll, "n": n, "warmup": plan.warmup, "t0": int(devr["t0"]), "due_ns": plan.due_ns + int(devr["t0"]),
        "cursor_ns": devr["cursor_ns"], "cursor_val": devr["cursor_val"],
        "batches": np.array(probe.batches, np.int64).reshape(-1, 3),
        "result_seq": res_seq[ring] - first_seq, "result_code": np.array([r[1] for r in probe.results], np.int64)[ring],
        "result_ns": np.array([r[2] for r in probe.results], np.int64)[ring],
        "written": probe.written, "client_t": np.array(got["t"], np.int64), "client_m": got["m"],
        "entries": plan.entries, "wall_s": wall, "process_cpu_s": cpu, "thread_cpu_s": tid_cpu,
        "device_cpu_s": float(devr["cpu_s"]), "device_held_ns": int(devr["held_ns"]),
        "cursor_writes": int(devr["cursor_tlps"]), "others_busy": others,
    }


def _device_error(d: Path) -> str:
    p = d / "device.err"
    return p.read_text() if p.exists() else "no error recorded"


# -- analysis (pure functions of the stamps; unit-tested) -----------------------------------

def _decode_frame(frame: bytes) -> dict:
    """The JSON of an unmasked server text frame."""
    n = frame[1] & 0x7F
    head = 2 if n < 126 else 4 if n == 126 else 10
    return json.loads(frame[head:])


def attribute_frames(entries: np.ndarray, codes: np.ndarray, frames: list) -> np.ndarray:
    """For each entry, the index (into ``frames``, a list of decoded messages in write order) of
    its own ``orders.<uid>`` update, or -1 when the gateway sends none for it.

    The gateway publishes results in sequence order and an entry's own update after the maker
    updates it caused, so scanning forward for the entry's order id finds it. Which entries get
    one: every place (placed, trade, rejected); a cancel, move or reduce only when the engine
    accepted it (a refused one changes no order)."""
    from ringgate.contracts.entry import Command

    out = np.full(len(entries), -1, np.int64)
    j = 0
    cmd, oid, uid = entries["cmd"], entries["order_id"], entries["uid"]
    keys = [(m.get("topic"), (m.get("data") or {}).get("orderId")) if m.get("type") == "update" else (None, None)
            for m in frames]
    for i in range(len(entries)):
        if cmd[i] != Command.PLACE and codes[i] != 100:
            continue
        want = (f"orders.{int(uid[i])}", int(oid[i]))
        k = j
        while k < len(keys) and keys[k] != want:
            k += 1
        if k == len(keys):
            continue                                # not found: leave it unattributed
        out[i] = k
        j = k + 1
    return out


def entry_stamps(raw: dict) -> dict[str, np.ndarray]:
    """Per entry: due, cursor, poll, callback, result, written, received (ns; -1 = none)."""
    from ringgate.app.mainjob import _first_covering

    n = raw["n"]
    st = {"due": np.asarray(raw["due_ns"], np.int64)}
    ci = _first_covering(np.asarray(raw["cursor_val"], np.int64), n)
    st["cursor"] = np.asarray(raw["cursor_ns"], np.int64)[ci]
    b = np.asarray(raw["batches"], np.int64).reshape(-1, 3)
    ends = np.cumsum(b[:, 0])
    if not len(ends) or ends[-1] < n:
        raise ReplayError(f"the consumer delivered {int(ends[-1]) if len(ends) else 0} of {n} entries")
    bi = _first_covering(ends, n)
    st["poll"], st["callback"] = b[bi, 1], b[bi, 2]
    rs = np.asarray(raw["result_seq"], np.int64)
    if len(rs) < n or not np.array_equal(rs[:n], np.arange(n)):
        raise ReplayError("engine results are missing or out of sequence")
    st["result"] = np.asarray(raw["result_ns"], np.int64)[:n]
    written_t, frames, raw_frames = [], [], []
    for t, fs in raw["written"]:
        for f in fs:
            written_t.append(t)
            raw_frames.append(f)
            frames.append(_decode_frame(f))
    own = attribute_frames(raw["entries"], np.asarray(raw["result_code"])[:n], frames)
    wt = np.asarray(written_t, np.int64)
    st["written"] = np.where(own >= 0, wt[np.maximum(own, 0)] if len(wt) else -1, -1)
    # one connection, TCP: the client receives the frames in the order they were written
    ct = np.asarray(raw["client_t"], np.int64)
    msgs = raw["client_m"]
    offset = _client_offset(raw_frames, msgs)
    recv = np.full(n, -1, np.int64)
    if offset is not None:
        k = own + offset
        ok = (own >= 0) & (k < len(ct))
        recv[ok] = ct[k[ok]]
    st["received"] = recv
    for a, b_ in (("cursor", "poll"), ("poll", "callback"), ("callback", "result")):
        if (st[b_] < st[a]).any():
            raise ReplayError(f"stamps out of order: {b_} before {a} for entry {int(np.argmax(st[b_] < st[a]))}")
    return st


def _client_offset(raw_frames: list, msgs: list) -> int | None:
    """Index in the client's messages of the first update frame written during the replay (the
    client also holds the snapshot replies before it); None if they do not line up."""
    if not raw_frames:
        return None
    first = _decode_frame(raw_frames[0])
    for off, m in enumerate(msgs[:len(msgs) - len(raw_frames) + 1] if len(msgs) >= len(raw_frames) else []):
        if json.loads(m) == first:
            last = json.loads(msgs[off + len(raw_frames) - 1])
            return off if last == _decode_frame(raw_frames[-1]) else None
    return None


def host_stages(raw: dict, stamps: dict | None = None) -> list:
    """Report stages (kind ``measured``, ns) of the measured entries: each from *cursor visible*
    and, corrected for coordinated omission, from *due*; plus the device's own lateness."""
    from ringgate.app.report import Stage

    st = stamps or entry_stamps(raw)
    w = raw["warmup"]
    src = (f"real-time replay, {raw['poll']} polling: golden-model device process -> host memory -> "
           "RingConsumer (sim backend) -> RingFeed -> sequencer -> engine -> gateway -> WebSocket client; "
           "perf_counter_ns (CLOCK_MONOTONIC) in every process")
    out = [Stage("due (open-loop schedule) -> cursor visible (device lateness)",
                 (st["cursor"] - st["due"])[w:].clip(0), "ns", "measured", src)]
    for name, a, b in STAGES:
        for start, label in ((a, ""), ("due", " (from due: corrected for coordinated omission)")):
            x = st[b][w:]
            s = st[start][w:]
            ok = x >= 0
            if not ok.any():
                continue
            extra = {"poll": raw["poll"], "stamp": b, "from": start}
            if not ok.all():
                extra["missing"] = int((~ok).sum())
            out.append(Stage(name + label, (x[ok] - s[ok]).clip(0).astype(np.float64), "ns", "measured", src,
                             extra=extra))
    return out


def summary(raw: dict, stamps: dict | None = None) -> dict:
    """The figures of one replay as plain data (what ``ringgate latency`` writes to JSON)."""
    from ringgate.app.report import summarize

    st = stamps or entry_stamps(raw)
    stages = host_stages(raw, st)
    n_meas = raw["n"] - raw["warmup"]
    cpu = raw["process_cpu_s"]
    return {
        "poll": raw["poll"], "entries": raw["n"], "measured_entries": n_meas, "wall_s": raw["wall_s"],
        "stages": [summarize(s, 1000.0) for s in stages],
        "cpu_us_per_entry": cpu / raw["n"] * 1e6,
        "thread_cpu_us_per_entry": {k: v / raw["n"] * 1e6 for k, v in raw["thread_cpu_s"].items()},
        "host_cpu_share": cpu / max(raw["wall_s"], 1e-9),
        "device_cpu_share": raw["device_cpu_s"] / max(raw["wall_s"], 1e-9),
        "device_held_ns": raw["device_held_ns"], "cursor_writes": raw["cursor_writes"],
        "frames_attributed": int((st["written"][raw["warmup"]:] >= 0).sum()),
        "frames_received": int((st["received"][raw["warmup"]:] >= 0).sum()),
        "other_processes_busy": raw["others_busy"],
    }


STAMP_KEYS = ("due", "cursor", "poll", "callback", "result", "written", "received")


@dataclass
class HostMeasurement:
    """Repeated replays per poll mode: the report's ``host`` section and the pooled per-entry stamps.

    Members
    -------
    config : ReplayConfig
    machine : dict
        CPU model, CPUs, load averages at the start.
    modes : list of dict
        Per poll mode: pooled stages (each with its per-run percentiles in ``runs``), CPU time
        per entry, other processes' CPU share, per-run summaries.
    stamps : dict
        Poll mode -> stamp name -> per-entry ns of the measured entries of all runs.
    """
    config: ReplayConfig
    machine: dict
    modes: list
    stamps: dict

    def section(self) -> dict:
        """The report's ``host`` section (JSON-ready)."""
        return {"config": asdict(self.config), "machine": self.machine, "modes": self.modes}

    def save(self, out: Path) -> dict[str, Path]:
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": out / "host.json", "npz": out / "host.npz"}
        paths["json"].write_text(json.dumps(self.section(), indent=2))
        np.savez_compressed(paths["npz"], **{f"{mode}.{k}": v for mode, st in self.stamps.items()
                                             for k, v in st.items()})
        return paths

    @classmethod
    def load(cls, directory: Path) -> "HostMeasurement":
        """A measurement saved by :meth:`save` (``ringgate latency --out DIR``)."""
        d = Path(directory)
        try:
            sec = json.loads((d / "host.json").read_text())
            z = np.load(d / "host.npz")
        except FileNotFoundError as e:
            raise ReplayError(f"{d}: no host measurement there ({e.filename} missing; "
                              "write one with `ringgate latency --out DIR`)") from None
        stamps: dict = {}
        for key in z.files:
            mode, _, name = key.partition(".")
            stamps.setdefault(mode, {})[name] = z[key]
        return cls(ReplayConfig(**sec["config"]), sec["machine"], sec["modes"], stamps)


def measure(cfg: ReplayConfig, polls=("busy", "adaptive"), repeats: int = 3, *, log=print,
            workdir: Path | None = None) -> HostMeasurement:
    """``repeats`` replays of one plan per poll mode, interleaved (busy, adaptive, busy, ...) so a
    change in the machine's load hits every mode alike."""
    from ringgate.app.report import summarize

    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, not {repeats}")
    plan = make_plan(cfg)
    machine = machine_load()
    runs: dict[str, list] = {p: [] for p in polls}
    for r in range(repeats):
        for poll in polls:
            log(f"run {r + 1}/{repeats}, {poll} polling")
            raw = run_replay(plan, poll, workdir=workdir, log=log)
            st = entry_stamps(raw)
            runs[poll].append((raw, st, summary(raw, st)))
    modes, stamps = [], {}
    w = plan.warmup
    for poll, rs in runs.items():
        pooled = {k: np.concatenate([st[k][w:] for _, st, _ in rs]) for k in STAMP_KEYS}
        stamps[poll] = pooled
        raw0 = dict(rs[0][0])
        raw0.update(n=len(pooled["due"]), warmup=0)
        stages = []
        for stg in host_stages(raw0, pooled):
            row = summarize(stg, 1000.0)
            row["runs"] = [next((x for x in s["stages"] if x["name"] == stg.name), {}) for _, _, s in rs]
            row["runs"] = [{k: v for k, v in x.items() if k.endswith("_ns") or k == "count"} for x in row["runs"]]
            stages.append(row)
        n = sum(raw["n"] for raw, _, _ in rs)
        modes.append({
            "poll": poll, "stages": stages, "repeats": len(rs),
            "cpu_us_per_entry": sum(raw["process_cpu_s"] for raw, _, _ in rs) / n * 1e6,
            "thread_cpu_us_per_entry": {k: sum(raw["thread_cpu_s"].get(k, 0.0) for raw, _, _ in rs) / n * 1e6
                                        for k in rs[0][0]["thread_cpu_s"]},
            "host_cpu_share": float(np.mean([s["host_cpu_share"] for _, _, s in rs])),
            "device_cpu_share": float(np.mean([s["device_cpu_share"] for _, _, s in rs])),
            "other_processes_busy": float(np.nanmean([s["other_processes_busy"] for _, _, s in rs])),
            "device_held_ns": int(sum(raw["device_held_ns"] for raw, _, _ in rs)),
            "frames_attributed": sum(s["frames_attributed"] for _, _, s in rs),
            "frames_received": sum(s["frames_received"] for _, _, s in rs),
            "measured_entries": sum(s["measured_entries"] for _, _, s in rs),
        })
    machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return HostMeasurement(cfg, machine, modes, stamps)
