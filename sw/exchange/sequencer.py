"""The sequencer: the one place where commands get their global sequence number.

:class:`Exchange` is the synchronous front: any thread (the FPGA ring consumer,
the REST gateway) calls ``submit``/``submit_many``; under one lock the batch is
numbered, journaled (write + fsync per policy) and only then applied and
acknowledged, so a returned result is always for a command that recovery will
replay. :class:`ExchangeService` adds a worker thread that merges commands from
many producers into large batches (group commit: one fsync for many commands)
and completes ``concurrent.futures.Future`` objects, which asyncio code can await
with ``asyncio.wrap_future``.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Callable, Iterable

import msgspec

from .codes import FsyncPolicy
from .commands import (AddAsset, AddSymbol, AddUser, AdjustBalance, OrderBookRequest, OrderCommand,
                       ResumeUser, SuspendUser)
from .engine import Engine
from .events import CommandResult, L2Book, TotalBalanceReport, UserReport
from .journal import (JournalCorrupt, JournalWriter, encode_frame, list_segments, list_snapshots,
                      read_snapshot, scan_segment, snapshot_name, write_snapshot)
from .reports import order_book, total_balance, user_report
from .state import decode_state, encode_state, state_hash

__all__ = ["Exchange", "ExchangeService", "recover_engine"]

_log = logging.getLogger(__name__)

_check = msgspec.msgpack.Encoder().encode
_COMMAND_TYPES = frozenset((OrderCommand, OrderBookRequest, AddUser, AdjustBalance, SuspendUser,
                            ResumeUser, AddAsset, AddSymbol))


def recover_engine(directory: Path, snapshot_seq: int | None = None,
                   observer: Callable[[list[CommandResult]], None] | None = None
                   ) -> tuple[Engine, int | None, Path | None]:
    """Latest good snapshot + journal replay. Returns (engine, good length of the newest
    segment if its tail was torn, path of the newest segment).

    ``snapshot_seq``: start from the snapshot at exactly that sequence (0: from an empty engine,
    replaying the whole journal) instead of the latest; ``JournalCorrupt`` if it is missing or
    damaged. ``observer(results)`` is called with the results of each replayed journal frame, in
    sequence order, so a consumer of results (the gateway's history) can be rebuilt with the
    engine."""
    directory = Path(directory)
    engine = None
    if snapshot_seq is not None:
        if snapshot_seq:
            path = directory / snapshot_name(snapshot_seq)
            got = read_snapshot(path) if path.exists() else None
            if got is None or got[0] != snapshot_seq:
                raise JournalCorrupt(f"snapshot {snapshot_seq} is missing or damaged")
            engine = decode_state(got[1])
    else:
        for seq, path in reversed(list_snapshots(directory)):
            got = read_snapshot(path) if path.exists() else None
            if got is not None and got[0] == seq:
                engine = decode_state(got[1])
                break
    if engine is None:
        engine = Engine()
    segments = list_segments(directory)
    cut, last = None, None
    for i, (first, path) in enumerate(segments):
        newest = i == len(segments) - 1
        if not newest and segments[i + 1][0] <= engine.seq + 1:
            continue                      # fully covered by the snapshot
        if first > engine.seq + 1:
            raise JournalCorrupt(f"{path}: journal starts at seq {first}, state is at {engine.seq}: "
                                 "the commands in between are missing")
        frames, good, size = scan_segment(path)
        if good != size:
            if not newest:
                raise JournalCorrupt(f"{path}: bad frame at byte {good} in a sealed segment")
            cut = good
        for first_seq, ts, commands in frames:
            end = first_seq + len(commands) - 1
            if end <= engine.seq:
                continue
            if first_seq > engine.seq + 1:
                raise JournalCorrupt(f"{path}: gap, expected seq {engine.seq + 1}, frame starts at {first_seq}")
            results = [engine.apply(first_seq + k, ts, c) for k, c in enumerate(commands)
                       if first_seq + k > engine.seq]
            if observer is not None and results:
                try:
                    observer(results)
                except Exception:
                    # the engine's state is what recovery must get right; a broken observer is logged
                    _log.exception("recovery observer %r failed", observer)
        last = path
    if segments:
        last = segments[-1][1]
    return engine, cut, last


class Exchange:
    """Sequencer + engine + (optional) journal and snapshots. Thread-safe."""

    def __init__(self, engine: Engine | None = None, directory: Path | None = None,
                 fsync: FsyncPolicy = FsyncPolicy.BATCH, fsync_interval: float = 0.01,
                 snapshot_every: int = 0, keep_snapshots: int = 2,
                 clock: Callable[[], int] = time.time_ns, background_snapshots: bool = False, _cut: int | None = None,
                 _segment: Path | None = None):
        self.engine = engine or Engine()
        self.directory = Path(directory) if directory is not None else None
        self.fsync = FsyncPolicy(fsync)
        self.fsync_interval = fsync_interval
        self.snapshot_every = snapshot_every
        self.keep_snapshots = max(1, keep_snapshots)
        self.clock = clock
        self.background_snapshots = background_snapshots
        self._child: tuple[int, int] | None = None
        self.snapshot_failures = 0
        self.subscriber_errors = 0
        self.lock = threading.RLock()
        self._subscribers: list[Callable[[CommandResult], None]] = []
        self._snapshot_listeners: list[Callable[[int], None]] = []
        self._since_snapshot = 0
        self.failed: BaseException | None = None
        self.journal: JournalWriter | None = None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.journal = JournalWriter(self.directory, self.engine.seq + 1, self.fsync,
                                         fsync_interval, truncate_at=_cut, path=_segment)

    @classmethod
    def open(cls, directory, fsync: FsyncPolicy = FsyncPolicy.BATCH, fsync_interval: float = 0.01,
             snapshot_every: int = 0, keep_snapshots: int = 2,
             clock: Callable[[], int] = time.time_ns, background_snapshots: bool = False,
             snapshot_seq: int | None = None,
             observer: Callable[[list[CommandResult]], None] | None = None) -> "Exchange":
        """Recover from ``directory`` (empty or missing = clean start) and keep journaling there.
        ``snapshot_seq`` and ``observer``: see :func:`recover_engine`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        engine, cut, segment = recover_engine(directory, snapshot_seq, observer)
        return cls(engine, directory, fsync, fsync_interval, snapshot_every, keep_snapshots, clock,
                   background_snapshots, _cut=cut, _segment=segment)

    @classmethod
    def in_memory(cls, clock: Callable[[], int] = time.time_ns) -> "Exchange":
        return cls(Engine(), None, clock=clock)

    # ------------------------------------------------------------------ commands

    @property
    def seq(self) -> int:
        """Sequence number of the last applied command."""
        return self.engine.seq

    def submit(self, command) -> CommandResult:
        return self.submit_many((command,))[0]

    def submit_many(self, commands: Iterable) -> list[CommandResult]:
        """Sequence, journal, apply; returns once the batch is durable per the fsync policy."""
        commands = list(commands)
        for c in commands:
            if type(c) not in _COMMAND_TYPES:
                raise TypeError(f"not an exchange command: {c!r}")
        if not commands:
            return []
        with self.lock:
            if self.failed is not None:
                raise RuntimeError("journal failed earlier; reopen the exchange to recover") from self.failed
            engine = self.engine
            first = engine.seq + 1
            ts = self.clock()
            if self.journal is not None:
                # encoding fails only on a bad command (an int beyond 64 bits): refuse the batch
                # and stay healthy; a failed write is different, it may leave half a frame
                frame = encode_frame(first, ts, commands)
                try:
                    self.journal.write(frame)
                except BaseException as exc:
                    # a half-written frame may now sit at the tail: only recovery may cut it
                    self.failed = exc
                    raise
            apply = engine.apply
            results = [apply(first + i, ts, c) for i, c in enumerate(commands)]
            for fn in self._subscribers:
                try:
                    for r in results:
                        fn(r)
                except Exception:
                    # the batch is journaled and applied: a broken listener must not make the
                    # submitter believe it failed
                    self.subscriber_errors += 1
                    _log.exception("exchange subscriber %r failed", fn)
            self._since_snapshot += len(commands)
            if self._child is not None:
                self._reap(block=False)
            if self.snapshot_every and self._since_snapshot >= self.snapshot_every:
                self.snapshot()
        return results

    def subscribe(self, fn: Callable[[CommandResult], None]) -> Callable[[], None]:
        """Call ``fn(result)`` for every command, in sequence order, after it is journaled.
        Runs on the submitting thread under the sequencer lock: hand work off, don't block."""
        return self._listen(self._subscribers, fn)

    def _listen(self, listeners: list, fn) -> Callable[[], None]:
        with self.lock:
            listeners.append(fn)

        def remove():
            with self.lock:
                if fn in listeners:
                    listeners.remove(fn)
        return remove

    def on_snapshot(self, fn: Callable[[int], None]) -> Callable[[], None]:
        """Call ``fn(seq)`` after each snapshot is taken (written, or forked off in the background),
        on the snapshotting thread under the sequencer lock, after the results of every command up to
        ``seq`` went to the subscribers. Whoever keeps state derived from the results (the gateway's
        history) saves it at the same ``seq``, so both can be recovered together."""
        return self._listen(self._snapshot_listeners, fn)

    def _snapshot_taken(self, seq: int) -> None:
        for fn in self._snapshot_listeners:
            try:
                fn(seq)
            except Exception:
                _log.exception("snapshot listener %r failed", fn)

    def snapshot_seqs(self) -> list[int]:
        """Sequences of the snapshots on disk (oldest first)."""
        return [seq for seq, _ in list_snapshots(self.directory)] if self.directory is not None else []

    # ------------------------------------------------------------------ reports

    def user_report(self, uid: int) -> UserReport | None:
        with self.lock:
            return user_report(self.engine, uid)

    def order_book(self, symbol: int, depth: int = -1) -> L2Book | None:
        with self.lock:
            return order_book(self.engine, symbol, depth)

    def total_balance(self) -> TotalBalanceReport:
        with self.lock:
            return total_balance(self.engine)

    def state_hash(self) -> str:
        with self.lock:
            return state_hash(self.engine)

    # ------------------------------------------------------------------ durability

    def snapshot(self, background: bool | None = None) -> Path | None:
        """Write a snapshot at the current sequence and start a new journal segment.

        ``background`` (default: the ``background_snapshots`` setting) forks: the child
        encodes and writes the copy-on-write image of the state while the sequencer goes on;
        old snapshots and segments are pruned only once the child has succeeded. A synchronous
        snapshot stalls the sequencer for the whole encoding (about 2 s at 100,000 users)."""
        if self.directory is None:
            return None
        if background is None:
            background = self.background_snapshots
        with self.lock:
            self._reap(block=True)                 # one snapshot at a time
            seq = self.engine.seq
            self.journal.close()
            self.journal = JournalWriter(self.directory, seq + 1, self.fsync, self.fsync_interval)
            self._since_snapshot = 0
            if not background or not hasattr(os, "fork"):
                path = write_snapshot(self.directory, seq, encode_state(self.engine))
                self._prune()
                self._snapshot_taken(seq)
                return path
            pid = os.fork()
            if pid == 0:                           # child: only this thread exists here
                code = 1
                try:
                    write_snapshot(self.directory, seq, encode_state(self.engine))
                    code = 0
                finally:
                    os._exit(code)
            self._child = (pid, seq)
            self._snapshot_taken(seq)
            return self.directory / snapshot_name(seq)

    def _reap(self, block: bool) -> None:
        if self._child is None:
            return
        pid, _ = self._child
        got, status = os.waitpid(pid, 0 if block else os.WNOHANG)
        if got == 0:
            return
        self._child = None
        if os.waitstatus_to_exitcode(status) == 0:
            self._prune()
        else:
            self.snapshot_failures += 1            # segments are kept: recovery is unaffected

    def _prune(self) -> None:
        snaps = list_snapshots(self.directory)
        for _, p in snaps[:-self.keep_snapshots]:
            p.unlink(missing_ok=True)
        kept = snaps[-self.keep_snapshots:]
        if not kept:
            return
        oldest = kept[0][0]
        segs = list_segments(self.directory)
        for (first, p), (nxt, _) in zip(segs, segs[1:]):
            if nxt <= oldest + 1:
                p.unlink(missing_ok=True)

    def close(self) -> None:
        with self.lock:
            self._reap(block=True)
            if self.journal is not None:
                self.journal.close()
                self.journal = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ExchangeService:
    """A worker thread in front of an :class:`Exchange` that batches commands from any
    number of producers; each ``submit`` returns a Future completed after the batch
    containing it is durable."""

    def __init__(self, exchange: Exchange, max_batch: int = 4096):
        self.exchange = exchange
        self.max_batch = max_batch
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = object()
        self._thread = threading.Thread(target=self._run, name="exchange-sequencer", daemon=True)
        self._thread.start()

    def submit(self, command) -> Future:
        fut: Future = Future()
        if type(command) not in _COMMAND_TYPES:
            fut.set_exception(TypeError(f"not an exchange command: {command!r}"))
            return fut
        try:
            _check(command)
        except (OverflowError, ValueError, TypeError) as exc:
            # one bad command must not fail the batch it would have joined
            fut.set_exception(ValueError(f"command cannot be journaled: {exc}"))
            return fut
        self._q.put((command, fut))
        return fut

    def submit_many(self, commands: Iterable) -> list[Future]:
        return [self.submit(c) for c in commands]

    def _run(self) -> None:
        q, stop, limit = self._q, self._stop, self.max_batch
        while True:
            item = q.get()
            if item is stop:
                return
            batch = [item]
            stopping = False
            while len(batch) < limit:
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
                if item is stop:
                    stopping = True
                    break
                batch.append(item)
            try:
                results = self.exchange.submit_many([c for c, _ in batch])
            except BaseException as exc:       # journal I/O failure: nobody in the batch is acked
                for _, f in batch:
                    f.set_exception(exc)
            else:
                for (_, f), r in zip(batch, results):
                    f.set_result(r)
            if stopping:
                return

    def close(self) -> None:
        """Finish everything already submitted, then stop the worker (the Exchange stays open)."""
        self._q.put(self._stop)
        self._thread.join()
