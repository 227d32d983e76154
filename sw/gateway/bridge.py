"""The gateway's path into the one sequencer, shared by REST and the FPGA ring feed.

REST handlers call :meth:`Bridge.submit` from the event loop; commands submitted in one loop tick
are handed to the sequencer thread as one batch. Ring batches arrive from the driver's thread via
:meth:`Bridge.submit_batch` into the same queue. The sequencer thread merges whatever is queued
into one ``Exchange.submit_many`` call: one journal frame and one fsync for all of it (group
commit), and a single total order for REST and ring commands.

Results come back on two paths, both in the loop thread and in sequence order:

* every result (whoever submitted it, even code outside the gateway calling the Exchange
  directly) reaches :attr:`on_results` through ``Exchange.subscribe``: this drives the order
  registry, bars and WebSocket topics;
* REST futures are completed afterwards (``call_soon_threadsafe`` is FIFO, and the results were
  queued for the drain inside ``submit_many``, before it returned), so an HTTP reply is written
  only after its command is durable per the journal policy *and* its events are in the registry.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import deque
from concurrent.futures import Future
from typing import Callable

from ringgate.sw.exchange import Exchange

__all__ = ["Bridge"]

_log = logging.getLogger(__name__)


class _Snapshot:
    """Marker in the result queue: the exchange took a snapshot at ``seq``."""
    __slots__ = ("seq",)

    def __init__(self, seq: int):
        self.seq = seq


class Bridge:
    def __init__(self, exchange: Exchange, loop: asyncio.AbstractEventLoop,
                 on_results: Callable[[list], None], max_batch: int = 8192, inline: bool | None = None,
                 on_snapshot: Callable[[int], None] | None = None):
        """``inline``: REST batches are sequenced on the loop thread at the end of each tick
        instead of in the sequencer thread. Handing a batch to another thread and back costs up
        to CPython's GIL switch interval (5 ms) each way under load, which dominates latency;
        inline avoids it, and is right whenever the journal write does not block for long (no
        journal, or NEVER fsync). With BATCH or INTERVAL fsync the thread lets the loop go on serving
        while the disk syncs. Ring batches always
        come through the thread (they arrive from the driver's thread).

        ``on_snapshot(seq)`` runs on the loop when the exchange has taken a snapshot at ``seq``,
        after ``on_results`` has seen every result up to ``seq`` and none beyond."""
        if inline is None:
            from ringgate.sw.exchange import FsyncPolicy
            # INTERVAL fsyncs inside the write that finds the interval elapsed: a 4 ms fsync on
            # the loop thread would stall every connection, so only NEVER runs inline
            inline = exchange.journal is None or exchange.fsync is FsyncPolicy.NEVER
        self.inline = inline
        self.ex = exchange
        self.loop = loop
        self.on_results = on_results
        self.max_batch = max_batch
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._cmds: list = []
        self._futs: list = []
        self._flush_scheduled = False
        self._results: deque = deque()
        self._drain_scheduled = False
        self.batches = self.commands = 0
        self.failed: BaseException | None = None
        self._stop = object()
        self._loop_thread = threading.get_ident()      # built on the loop's thread
        self.on_snapshot = on_snapshot
        self._unsubscribe = exchange.subscribe(self._on_result)
        self._unsnapshot = exchange.on_snapshot(self._on_snapshot)
        self._thread = threading.Thread(target=self._run, name="gateway-sequencer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ loop side

    def submit(self, command, build: Callable | None = None, on_error: Callable | None = None) -> asyncio.Future:
        """From the loop: a future resolved with the CommandResult once durable and drained, or
        with ``build(result)`` (the HTTP reply, built right there: no extra loop iteration);
        ``on_error(exc)`` turns a sequencer failure into the future's result."""
        fut = self.loop.create_future()
        if build is not None:
            fut._rg_build = (build, on_error)
        self._cmds.append(command)
        self._futs.append(fut)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)
        return fut

    def _flush(self):
        self._flush_scheduled = False
        cmds, futs = self._cmds, self._futs
        self._cmds, self._futs = [], []
        if not cmds:
            return
        if not self.inline:
            self._q.put((cmds, futs))
            return
        try:
            results = self.ex.submit_many(cmds)
        except BaseException as e:              # journal failure: nobody in the batch is acknowledged
            self.failed = e
            _log.exception("sequencer batch failed")
            self._complete(futs, None, e)
            return
        self.batches += 1
        self.commands += len(cmds)
        # the drain was scheduled inside submit_many; completing the futures schedules the
        # handlers' continuations after it, so replies still see the registry updated
        self._complete(futs, results, None)

    def _complete(self, futs: list, results: list | None, exc: BaseException | None):
        if self._results:                       # inline: results not drained yet, do it first
            self._drain()
        if exc is not None:
            for f in futs:
                if f.done():
                    continue
                b = getattr(f, "_rg_build", None)
                if b is not None and b[1] is not None:
                    try:
                        f.set_result(b[1](exc))
                    except Exception as e:
                        f.set_exception(e)
                else:
                    f.set_exception(exc)
            return
        for f, r in zip(futs, results):
            if f.done():
                continue
            b = getattr(f, "_rg_build", None)
            if b is None:
                f.set_result(r)
                continue
            try:
                f.set_result(b[0](r))
            except Exception as e:              # the HTTP layer logs it and answers 500
                f.set_exception(e)

    # ------------------------------------------------------------------ any thread

    def submit_batch(self, commands: list) -> Future:
        """From any thread (the ring feed): a concurrent Future of the results list."""
        fut: Future = Future()
        if commands:
            self._q.put((commands, fut))
        else:
            fut.set_result([])
        return fut

    # ------------------------------------------------------------------ sequencer thread

    def _on_result(self, r):
        # called by Exchange.submit_many under the sequencer lock: hand off only
        self._results.append(r)
        if not self._drain_scheduled:
            self._drain_scheduled = True
            if threading.get_ident() == self._loop_thread:
                self.loop.call_soon(self._drain)
            else:
                self.loop.call_soon_threadsafe(self._drain)

    def _on_snapshot(self, seq: int):
        # under the sequencer lock, after this batch's results were queued: a marker keeps the order
        self._on_result(_Snapshot(seq))

    def _drain(self):
        self._drain_scheduled = False       # (a scheduled drain finding nothing left is harmless)
        dq = self._results
        out = []
        pop = dq.popleft
        while dq:
            r = pop()
            if type(r) is _Snapshot:
                self._deliver(out)
                out = []
                if self.on_snapshot is not None:
                    try:
                        self.on_snapshot(r.seq)
                    except Exception:
                        _log.exception("gateway snapshot failed")
                continue
            out.append(r)
        self._deliver(out)

    def _deliver(self, out: list):
        if out:
            try:
                self.on_results(out)
            except Exception:
                _log.exception("gateway result processing failed")

    def _run(self):
        q, stop = self._q, self._stop
        while True:
            item = q.get()
            if item is stop:
                return
            items = [item]
            n = len(item[0])
            stopping = False
            while n < self.max_batch:
                try:
                    nxt = q.get_nowait()
                except queue.Empty:
                    break
                if nxt is stop:
                    stopping = True
                    break
                items.append(nxt)
                n += len(nxt[0])
            cmds = items[0][0] if len(items) == 1 else [c for cmds, _ in items for c in cmds]
            try:
                results = self.ex.submit_many(cmds)
                exc = None
            except BaseException as e:          # journal failure: nobody in the batch is acknowledged
                self.failed = e
                results, exc = None, e
                _log.exception("sequencer batch failed")
            self.batches += 1
            self.commands += len(cmds)
            k = 0
            for sub, dest in items:
                part = None if results is None else results[k:k + len(sub)]
                k += len(sub)
                if isinstance(dest, Future):
                    if exc is None:
                        dest.set_result(part)
                    else:
                        dest.set_exception(exc)
                else:
                    try:
                        self.loop.call_soon_threadsafe(self._complete, dest, part, exc)
                    except RuntimeError:        # loop closed during shutdown
                        pass
            if stopping:
                return

    def close(self):
        """Finish what is queued, stop the thread, stop listening to the Exchange."""
        self._flush()
        self._q.put(self._stop)
        self._thread.join()
        self._unsubscribe()
        self._unsnapshot()
