"""Ring consumer: the host side of the FPGA ring, identical on every backend.

The device writes entries into a ring in host memory and then, with a later posted write,
the cursor line; the consumer only reads memory on the fast path (no MMIO reads):

1. read the cursor (entries ``[0, cursor)`` are in host memory);
2. view the new entries as a numpy structured array, zero-copy, in at most two pieces
   (before and after the wrap point);
3. check every entry's ``seq``: a gap or a repeat raises :class:`SequenceError`, nothing is
   ever skipped;
4. hand each piece to the callback (the view is valid during the callback; copy to keep it);
5. write the doorbell (consumed sequence) lazily: after ``doorbell_every`` entries, or half
   the ring, and once when the ring goes idle.

Layout of the DMA buffer: the ring (``ring_size * 64`` bytes, 4 KiB aligned), then one 4 KiB
page holding the cursor line (device-written) and the consumer's state line (host-written:
next sequence, device epoch), so a restarted host process that maps the same buffer knows
exactly where it stopped.

Resynchronisation
-----------------
* Host restart (:meth:`RingConsumer.attach`): the device kept running and its ring still sits
  in the (persistent) buffer. The consumer resumes at the state line's ``next`` (the entry
  after the last callback that returned), checked against the device's doorbell and cursor:
  nothing lost, nothing delivered twice (except a batch whose callback was interrupted).
* Device reset (:meth:`RingConsumer.resync`, also run automatically when a health check in
  the poll loop finds the device's epoch changed, disabled, or the cursor inconsistent): the
  entries the device wrote before the reset are still in host memory up to the last cursor it
  wrote; they are delivered first, then the device is reconfigured on the same buffer and the
  consumer continues with the device's new sequence numbers (the ring restarts at 0 after a
  reset; :attr:`epoch` tells the two apart).
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

from ringgate.contracts.entry import CURSOR_LINE_BYTES, ENTRY_BYTES, ENTRY_DTYPE

from .device import Device, DeviceError, DmaBuffer, describe_errors
from .regs import Control, R

__all__ = ["RingConsumer", "SequenceError", "ResyncError", "STATE_MAGIC", "buffer_bytes"]

STATE_MAGIC = 0x5247_4154_4553_5431          # "1TSETAGR": consumer state line v1
PAGE = 4096


class SequenceError(RuntimeError):
    """An entry's sequence is not the one expected: a gap or a repeat in the ring."""

    def __init__(self, expected: int, got: int, slot: int):
        kind = "gap" if got > expected else "repeat"
        super().__init__(f"ring sequence {kind}: expected seq {expected}, found {got} in slot {slot}")
        self.expected, self.got, self.slot = expected, got, slot


class ResyncError(RuntimeError):
    """The consumer cannot resume consistently (the reason is in the message)."""


def buffer_bytes(ring_size: int) -> int:
    """Bytes of a DMA buffer for a ring of ``ring_size`` entries (ring + cursor/state page)."""
    return ring_size * ENTRY_BYTES + PAGE


Callback = Callable[[np.ndarray], object]


class RingConsumer:
    """Parameters
    ----------
    device : Device
    ring_size : int
        Host ring size in entries, a power of two.
    callback : callable(entries) -> None
        Called with each zero-copy batch (an ``ENTRY_DTYPE`` array view).
    doorbell_every : int
        Write the doorbell after this many consumed entries (also at half ring, and when idle).
    poll : "busy" or "sleep"
        ``busy`` spins on the cursor line; ``sleep`` spins ``spin`` times, then sleeps
        ``idle_sleep`` seconds between polls (low CPU, adds up to that much latency when idle).
    health_every : float
        While idle, read the device's epoch, control and error registers at most this often
        (seconds) to notice a device reset or error; 0 disables the check.
    buffer : DmaBuffer
        Use this buffer (e.g. a shared-memory or persistent one) instead of allocating.
    """

    def __init__(self, device: Device, ring_size: int = 1 << 16, *, callback: Callback | None = None,
                 doorbell_every: int | None = None, poll: str = "busy", spin: int = 1000,
                 idle_sleep: float = 50e-6, health_every: float = 0.1, buffer: DmaBuffer | None = None,
                 batch_limit: int | None = None):
        if ring_size < 1 or ring_size & (ring_size - 1):
            raise ValueError(f"ring size must be a power of two, not {ring_size}")
        if poll not in ("busy", "sleep"):
            raise ValueError(f"poll mode must be 'busy' or 'sleep', not {poll!r}")
        if doorbell_every is None:
            doorbell_every = max(1, ring_size // 4)
        if doorbell_every < 1:
            raise ValueError(f"doorbell_every must be >= 1, not {doorbell_every}")
        self.device = device
        self.ring_size = ring_size
        self.mask = ring_size - 1
        self.callback = callback
        self.doorbell_every = min(doorbell_every, max(1, ring_size // 2))
        self.poll_mode = poll
        self.spin = spin
        self.idle_sleep = idle_sleep
        self.health_every = health_every
        self.batch_limit = batch_limit
        if buffer is None:
            buffer = device.alloc(buffer_bytes(ring_size))
        if buffer.nbytes < buffer_bytes(ring_size):
            raise ValueError(f"buffer of {buffer.nbytes} B is too small for a ring of {ring_size} "
                             f"entries ({buffer_bytes(ring_size)} B needed)")
        if buffer.bus % PAGE:
            raise ValueError(f"buffer bus address {buffer.bus:#x} is not 4 KiB aligned")
        self.buffer = buffer
        ring_bytes = ring_size * ENTRY_BYTES
        self.ring = buffer.array(ENTRY_DTYPE, 0, ring_size)
        self.cursor_bus = buffer.bus + ring_bytes
        self._line = buffer.array(np.uint64, ring_bytes, CURSOR_LINE_BYTES // 8)
        self._state = buffer.array(np.uint64, ring_bytes + CURSOR_LINE_BYTES, 8)
        self._ramp = np.arange(ring_size, dtype=np.uint64)
        self._tmp = np.empty(ring_size, dtype=np.uint64)
        self.next = 0                    # sequence of the next entry to deliver
        self.rung = 0                    # last doorbell value written
        self.epoch = 0
        self.delivered = 0
        self.batches = 0
        self.doorbells = 0
        self.resyncs = 0
        self.seen_ns = 0                 # wall clock (perf_counter_ns) of the poll that found the last batch
        self.cursor_timestamp = 0        # device cycle counter of the last cursor write seen
        self._idle_flushed = True
        self._draining = False
        self._last_health = time.monotonic()

    # -- setup -----------------------------------------------------------------------

    @classmethod
    def open(cls, device: Device, ring_size: int = 1 << 16, **kw) -> "RingConsumer":
        """Fresh start: configure the device on a new (or given) buffer and enable it."""
        c = cls(device, ring_size, **kw)
        c._configure()
        return c

    @classmethod
    def attach(cls, device: Device, buffer: DmaBuffer, ring_size: int, **kw) -> "RingConsumer":
        """Host restart: resume on ``buffer`` (the one the previous process configured)."""
        c = cls(device, ring_size, buffer=buffer, **kw)
        magic, nxt, epoch, size = (int(x) for x in c._state[:4])
        dev = device
        if magic != STATE_MAGIC:
            raise ResyncError("buffer holds no consumer state line; use RingConsumer.open for a fresh start")
        if size != ring_size:
            raise ResyncError(f"buffer was configured for {size} entries, not {ring_size}")
        c.next, c.epoch = nxt, epoch
        c.rung = min(nxt, dev.read(R.DOORBELL))
        if (dev.read(R.EPOCH) != epoch or not dev.read(R.CONTROL) & Control.ENABLE
                or dev.read(R.RING_BASE) != buffer.bus or dev.read(R.RING_SIZE) != ring_size):
            c.resync()
            return c
        doorbell, cursor = dev.read(R.DOORBELL), int(c._line[0])
        if not doorbell <= nxt <= cursor:
            raise ResyncError(f"state line says next={nxt}, device doorbell {doorbell}, cursor {cursor}: "
                              "the buffer does not belong to this device's ring")
        c._ring_doorbell(force=True)
        return c

    def _configure(self) -> None:
        dev = self.device
        dev.write(R.CONTROL, 0)
        errors = dev.read(R.ERRORS)
        if errors:
            dev.write(R.ERRORS, errors)         # stale errors from a previous owner: clear and report
        self._line[:] = 0                        # a stale cursor must never be taken for a new one
        sent = dev.read(R.SENT)
        dev.write(R.RING_BASE, self.buffer.bus)
        dev.write(R.RING_SIZE, self.ring_size)
        dev.write(R.CURSOR_ADDR, self.cursor_bus)
        if self.batch_limit is not None:
            dev.write(R.BATCH_LIMIT, self.batch_limit)
        dev.write(R.DOORBELL, sent)
        self.next = self.rung = sent
        # The cursor line is 0 until the first write; entries before ``sent`` went to an old ring.
        self._line[0] = sent
        self.epoch = dev.read(R.EPOCH)
        self._save_state()
        dev.write(R.CONTROL, Control.ENABLE)
        errors = dev.read(R.ERRORS)
        if errors or not dev.read(R.CONTROL) & Control.ENABLE:
            raise DeviceError(f"device refused the ring configuration: {describe_errors(errors)} "
                              f"(base {self.buffer.bus:#x}, size {self.ring_size}, cursor line {self.cursor_bus:#x})")

    def _save_state(self) -> None:
        s = self._state
        s[0], s[1], s[2], s[3] = STATE_MAGIC, self.next, self.epoch, self.ring_size

    # -- the fast path ---------------------------------------------------------------

    @property
    def cursor(self) -> int:
        """The cursor the device last wrote (a host-memory read, no MMIO)."""
        return int(self._line[0])

    def poll(self) -> int:
        """Deliver whatever the cursor line announces; returns the number of entries delivered."""
        cur = int(self._line[0])
        nxt = self.next
        if cur == nxt:
            return 0
        n = cur - nxt
        if n < 0 or n > self.ring_size:
            self._inconsistent(cur)
            return 0
        self.seen_ns = time.perf_counter_ns()
        self.cursor_timestamp = int(self._line[1])
        delivered = 0
        while delivered < n:
            slot = nxt & self.mask
            k = min(n - delivered, self.ring_size - slot)
            view = self.ring[slot:slot + k]
            self._check(view, nxt, slot)
            if self.callback is not None:
                self.callback(view)
            nxt += k
            delivered += k
            self.next = nxt
            self._state[1] = nxt
            self.batches += 1
        self.delivered += n
        self._idle_flushed = False
        if nxt - self.rung >= self.doorbell_every:
            self._ring_doorbell()
        return n

    def _check(self, view: np.ndarray, first: int, slot: int) -> None:
        k = len(view)
        seq = view["seq"]
        d = np.subtract(seq, self._ramp[:k], out=self._tmp[:k])
        if d[0] != first or d[k - 1] != first or not (d == np.uint64(first)).all():
            i = int(np.nonzero(d != np.uint64(first))[0][0])
            raise SequenceError(first + i, int(seq[i]), slot + i)

    def _ring_doorbell(self, force: bool = False) -> None:
        if self._draining:
            return
        if self.next != self.rung or force:
            self.device.write(R.DOORBELL, self.next)
            self.rung = self.next
            self.doorbells += 1

    def idle(self) -> None:
        """Nothing new: flush the doorbell once, let an in-process device run, check health."""
        if not self._idle_flushed:
            self._ring_doorbell()
            self._idle_flushed = True
        self.device.service()
        if self.health_every:
            now = time.monotonic()
            if now - self._last_health >= self.health_every:
                self._last_health = now
                self.check_device()

    def check_device(self) -> None:
        """Read the device's epoch/control/errors (MMIO) and resynchronise after a reset."""
        dev = self.device
        errors = dev.read(R.ERRORS)
        if errors:
            raise DeviceError(f"device reports errors: {describe_errors(errors)}")
        if dev.read(R.EPOCH) != self.epoch or not dev.read(R.CONTROL) & Control.ENABLE:
            self.resync()

    def _inconsistent(self, cur: int) -> None:
        dev = self.device
        if dev.read(R.EPOCH) != self.epoch or not dev.read(R.CONTROL) & Control.ENABLE:
            self.resync()
            return
        raise ResyncError(f"cursor line says {cur} but the consumer is at {self.next} "
                          f"(ring of {self.ring_size}): host memory was written by someone else")

    def resync(self) -> int:
        """After a device reset or disable: deliver what reached host memory, then reconfigure.

        Returns the number of entries drained from the old epoch."""
        cur = int(self._line[0])
        drained = 0
        if 0 < cur - self.next <= self.ring_size:
            # Written before the reset, announced by a cursor write: still intact, deliver them.
            drained = self._drain_to(cur)
        self._configure()
        self.resyncs += 1
        return drained

    def _drain_to(self, cur: int) -> int:
        # The device lost its configuration: no doorbell writes until it is reconfigured.
        self._draining = True
        try:
            return self.poll()
        finally:
            self._draining = False

    # -- loops -----------------------------------------------------------------------

    def run(self, *, count: int | None = None, timeout: float | None = None,
            stop: Callable[[], bool] | None = None) -> int:
        """Poll until ``count`` entries were delivered, ``timeout`` seconds passed without reaching
        it, or ``stop()`` is true (checked when idle). Returns entries delivered by this call."""
        start = self.delivered
        deadline = None if timeout is None else time.monotonic() + timeout
        idle_polls = 0
        poll, idle = self.poll, self.idle
        sleep = self.poll_mode == "sleep"
        while count is None or self.delivered - start < count:
            if poll():
                idle_polls = 0
                continue
            idle()
            if poll():
                idle_polls = 0
                continue
            idle_polls += 1
            if stop is not None and stop():
                break
            if deadline is not None and idle_polls % 64 == 0 and time.monotonic() > deadline:
                break
            if sleep and idle_polls > self.spin:
                time.sleep(self.idle_sleep)
        self._ring_doorbell()
        return self.delivered - start

    def close(self, *, disable: bool = False) -> None:
        self._ring_doorbell()
        if disable:
            self.device.write(R.CONTROL, 0)
