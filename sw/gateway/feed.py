"""The FPGA ring feed: batches of ring entries into the gateway's sequencer.

The host driver (``sw/driver``) polls the DMA'd ring and hands over batches as numpy structured
arrays of ``ringgate.contracts.entry.ENTRY_DTYPE``. :class:`RingFeed` turns each batch into engine
commands (``ringgate.sw.exchange.from_ring``: a ring entry *is* an ``OrderCommand``) and submits it through
the same :class:`~ringgate.sw.gateway.bridge.Bridge` as REST orders, so ring and REST commands share one
total order, one journal and the same WebSocket topics.

Contract with the driver:

* ``submit(entries) -> concurrent.futures.Future[list[CommandResult]]``, callable from any thread.
  The future completes when the batch is durable under the journal policy; a driver that must
  not lose an accepted entry releases the ring slots (writes the consumed sequence to the
  doorbell) only after that, or keeps its own journal of the ring.
* Entries are checked before sequencing: the dtype must be ENTRY_DTYPE and the hardware ``seq``
  must continue the previous batch without a gap (a gap or repeat means the driver lost or
  re-read entries: the batch is refused with :class:`FeedError`, nothing of it is sequenced).
  Values (unknown user, bad size, unknown command code...) are the engine's to judge: they come
  back as result codes and as rejected orders on the owners' topics, like a REST order.
* ``run(source, stop)`` is a convenience pump for a driver exposing ``poll() -> array | None``.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import Callable

import numpy as np

from ringgate.contracts.entry import ENTRY_DTYPE
from ringgate.sw.exchange import from_ring

__all__ = ["RingFeed", "FeedError"]


class FeedError(ValueError):
    pass


class RingFeed:
    def __init__(self, bridge, check_sequence: bool = True):
        self.bridge = bridge
        self.check_sequence = check_sequence
        self.next_seq: int | None = None     # hardware seq expected next (None: accept the first)
        self.entries = 0
        self.batches = 0
        self.refused = 0
        self._lock = threading.Lock()

    def submit(self, entries: np.ndarray) -> Future:
        if not isinstance(entries, np.ndarray) or entries.dtype != ENTRY_DTYPE:
            self.refused += 1
            raise FeedError(f"ring batch must be a numpy array of ENTRY_DTYPE, got "
                            f"{getattr(entries, 'dtype', type(entries))}")
        n = len(entries)
        if n == 0:
            f: Future = Future()
            f.set_result([])
            return f
        with self._lock:                    # sequence check + enqueue are one step per batch
            if self.check_sequence:
                seqs = entries["seq"]
                first = int(seqs[0])
                if self.next_seq is not None and first != self.next_seq:
                    self.refused += 1
                    raise FeedError(f"ring sequence gap: expected entry {self.next_seq}, batch starts at {first}")
                if n > 1 and not np.array_equal(np.diff(seqs.astype(np.int64)), np.ones(n - 1, np.int64)):
                    self.refused += 1
                    raise FeedError("ring sequence not contiguous inside the batch")
                self.next_seq = first + n
            fut = self.bridge.submit_batch(from_ring(entries))
            self.entries += n
            self.batches += 1
        return fut

    def run(self, poll: Callable[[], "np.ndarray | None"], stop: threading.Event,
            idle_sleep: float = 50e-6) -> None:
        """Pump ``poll()`` into the sequencer until ``stop`` is set (run it in its own thread)."""
        while not stop.is_set():
            batch = poll()
            if batch is None or len(batch) == 0:
                time.sleep(idle_sleep)
                continue
            self.submit(batch)
