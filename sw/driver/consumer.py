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
   the ring, and once when the ring has been quiet for ``idle_flush`` polls.

Layout of the DMA buffer: one 4 KiB page holding the cursor line (offset 0, device-written)
and the consumer's state line (offset 64, host-written: magic, next sequence, epoch, ring
size), so a restarted host process that maps the same buffer knows exactly where it stopped;
then the ring (``ring_size * 64`` bytes at offset 4096, 4 KiB aligned).

Resynchronisation
-----------------
* Host restart (:meth:`RingConsumer.attach`): the device kept running and its ring still sits
  in the (persistent) buffer. The consumer resumes at the state line's ``next`` (the entry
  after the last callback that returned; or ``next_seq`` from the application's journal),
  checked against the device's ``HOST_CONSUMED`` and ``SENT``: nothing lost, nothing
  delivered twice (except a batch whose callback was interrupted by the crash).
* Device stopped or reset (:meth:`RingConsumer.resync`; run automatically when the idle health
  check finds ``STATUS.ENABLED`` clear or the cursor line inconsistent). ``CONTROL = 0`` and
  ``CONTROL.RESET`` keep the device's sequences: every entry below ``SENT`` is in host memory
  (an MMIO read completion cannot pass the device's earlier posted writes), so the consumer
  delivers up to ``SENT`` and restarts the device where it stopped. A power cycle, FPGA reload
  or function-level reset loses them (``SENT`` is behind the consumer): the consumer delivers
  what the last cursor write announced (intact, the device writes nothing until enabled),
  then restarts the device at its new sequence (0) and counts an :attr:`epoch`.
* Device gone (PERST#, a link down, hot reset, an FPGA reload): every BAR0 read returns all
  ones (the root port completes a read to a vanished function with all ones) and writes are
  lost. The health check and the disable sequence recognise it (``ERROR`` or ``STATUS`` all
  ones and ``ID`` not ringgate's), count an :attr:`outages`, wait up to ``gone_timeout``
  seconds for ``ID`` to read back, then resynchronise as after a power loss: the entries the
  last cursor write announced are delivered once, the device restarts at its new sequence.
  What the device held and had not announced is gone with its state; the host cannot see it.
"""
from __future__ import annotations

import os
import time
from typing import Callable

import numpy as np

from ringgate.contracts.datagram import Endpoint
from ringgate.contracts.entry import CURSOR_LINE_BYTES, ENTRY_BYTES, ENTRY_DTYPE

from .device import Device, DeviceError, DmaBuffer
from .registers import IngressError
from .regs import ID_VALUE, REGMAP, ConfigError, R, Status, describe_errors

__all__ = ["RingConsumer", "SequenceError", "ResyncError", "DeviceGone", "STATE_MAGIC", "buffer_bytes",
           "POLL_MODES"]

STATE_MAGIC = 0x5247_4154_4553_5431          # "1TSETAGR": consumer state line v1
PAGE = 4096
POLL_MODES = ("busy", "adaptive", "sleep")


class SequenceError(RuntimeError):
    """An entry's sequence is not the one expected: a gap or a repeat in the ring."""

    def __init__(self, expected: int, got: int, slot: int):
        kind = "gap" if got > expected else "repeat"
        super().__init__(f"ring sequence {kind}: expected seq {expected}, found {got} in slot {slot}")
        self.expected, self.got, self.slot = expected, got, slot


class ResyncError(RuntimeError):
    """The consumer cannot resume consistently (the reason is in the message)."""


class DeviceGone(DeviceError):
    """The device stopped answering (BAR0 reads all ones) and did not come back in time."""


def _all_ones(name: str, value: int) -> bool:
    return value == REGMAP[name].mask


def buffer_bytes(ring_size: int) -> int:
    """Bytes of a DMA buffer for a ring of ``ring_size`` entries (ring + cursor/state page)."""
    return ring_size * ENTRY_BYTES + PAGE


Callback = Callable[[np.ndarray], object]


class RingConsumer:
    """Polls the cursor line, hands new entries on as zero-copy views, checks every sequence and
    writes the consumed sequence back to the doorbell.

    Parameters
    ----------
    device : Device
    ring_size : int
        Host ring size in entries, a power of two.
    callback : callable(entries) -> None
        Called with each zero-copy batch (an ``ENTRY_DTYPE`` array view).
    doorbell_every : int
        Write the doorbell after this many consumed entries (at the latest at half ring).
    idle_flush : int
        In :meth:`run`, also write it every this many consecutive empty polls if it moved (the
        ring went quiet, or releases arrived from another thread), so the device's
        HOST_CONSUMED never lags for long and a full ring of released entries cannot stall.
    manual_release : bool
        The doorbell never passes what the application released with :meth:`release` (e.g.
        once a batch is journaled), instead of everything delivered. The device waits (the BRAM ring
        absorbs) when releases lag by a whole ring. Views stay valid until released.
    poll : "busy", "adaptive" or "sleep"
        How :meth:`run` waits for the cursor line to move (:data:`POLL_MODES`):

        * ``busy`` spins on it: the lowest latency, a whole core for ever;
        * ``adaptive`` backs off in three steps after the last batch: it spins for
          ``spin_time`` seconds, then polls with ``os.sched_yield()`` between polls until
          ``yield_time`` seconds have passed (another runnable thread gets the core), then sleeps,
          starting at ``idle_sleep`` and doubling up to ``max_sleep``; the first batch resets
          it. A batch that follows another within ``spin_time`` is seen at busy-poll latency;
          after a long quiet spell the wake-up costs up to ``max_sleep`` plus the kernel's timer
          slack, and the idle thread wakes about ``1 / max_sleep`` times a second;
        * ``sleep`` spins ``spin`` polls, then sleeps ``idle_sleep`` between polls (fixed period:
          the idle thread wakes ``1 / idle_sleep`` times a second).
    health_every : float
        While idle, read the device's ERROR and STATUS registers at most this often (seconds)
        to notice a stopped, reset or vanished device, or an error; 0 disables the check.
    gone_timeout : float
        Seconds to wait for a vanished device (BAR0 reads all ones) to answer again before
        :class:`DeviceGone` is raised.
    batch_limit, cursor_interval : int
        Written to the device's BATCH_LIMIT (entries per data TLP) and CURSOR_INTERVAL (data
        TLPs per cursor write under backlog) registers.
    buffer : DmaBuffer
        Use this buffer (e.g. a shared-memory or persistent one) instead of allocating.
    ingress : Endpoint
        Also set up the device's Ethernet ingress to take order datagrams addressed to this MAC,
        IPv4 address and UDP port, after each ring enable (so again after the device lost its
        state); an ingress already running with this destination is left alone.
    """

    def __init__(self, device: Device, ring_size: int = 1 << 16, *, callback: Callback | None = None,
                 doorbell_every: int | None = None, poll: str = "busy", spin: int = 1000,
                 idle_sleep: float = 50e-6, spin_time: float = 50e-6, yield_time: float = 500e-6,
                 max_sleep: float = 1e-3, health_every: float = 0.1, buffer: DmaBuffer | None = None,
                 batch_limit: int = 16, cursor_interval: int = 1, idle_flush: int = 64,
                 manual_release: bool = False, gone_timeout: float = 30.0, ingress: Endpoint | None = None):
        if ring_size < 1 or ring_size & (ring_size - 1):
            raise ValueError(f"ring size must be a power of two, not {ring_size}")
        if poll not in POLL_MODES:
            raise ValueError(f"poll mode must be one of {', '.join(POLL_MODES)}, not {poll!r}")
        if idle_sleep <= 0 or (poll == "adaptive" and (idle_sleep > max_sleep or not 0 <= spin_time <= yield_time)):
            raise ValueError(f"poll back-off needs 0 <= spin_time <= yield_time and 0 < idle_sleep <= max_sleep, "
                             f"not spin_time={spin_time}, yield_time={yield_time}, idle_sleep={idle_sleep}, "
                             f"max_sleep={max_sleep}")
        if doorbell_every is None:
            doorbell_every = max(1, ring_size // 4)
        if doorbell_every < 1:
            raise ValueError(f"doorbell_every must be >= 1, not {doorbell_every}")
        self.device = device
        self.ingress = ingress
        self.ring_size = ring_size
        self.mask = ring_size - 1
        self.callback = callback
        self.doorbell_every = min(doorbell_every, max(1, ring_size // 2))
        self.poll_mode = poll
        self.spin = spin
        self.idle_sleep = idle_sleep
        self.spin_time = spin_time
        self.yield_time = yield_time
        self.max_sleep = max_sleep
        self.sleeps = 0                  # sleeps taken by run() (how often an idle thread woke up)
        self.health_every = health_every
        self.gone_timeout = gone_timeout
        self.batch_limit = batch_limit
        self.cursor_interval = cursor_interval
        self.idle_flush = idle_flush
        self.released: int | None = 0 if manual_release else None
        if buffer is None:
            buffer = device.alloc(buffer_bytes(ring_size))
        if buffer.nbytes < buffer_bytes(ring_size):
            raise ValueError(f"buffer of {buffer.nbytes} B is too small for a ring of {ring_size} "
                             f"entries ({buffer_bytes(ring_size)} B needed)")
        if buffer.bus % PAGE:
            raise ValueError(f"buffer bus address {buffer.bus:#x} is not 4 KiB aligned")
        self.buffer = buffer
        self.ring = buffer.array(ENTRY_DTYPE, PAGE, ring_size)
        self.ring_bus = buffer.bus + PAGE
        self.cursor_bus = buffer.bus
        self._line = buffer.array(np.uint64, 0, CURSOR_LINE_BYTES // 8)
        self._state = buffer.array(np.uint64, CURSOR_LINE_BYTES, 8)
        self._seqs = self.ring["seq"]            # strided uint64 view: no field lookup per batch
        self._ramp = np.arange(ring_size, dtype=np.uint64)
        self._tmp = np.empty(ring_size, dtype=np.uint64)
        self.next = 0                    # sequence of the next entry to deliver
        self.rung = 0                    # last doorbell value written
        self.epoch = 0                   # device state losses seen (power cycle, reload, FLR)
        self.delivered = 0
        self.batches = 0
        self.doorbells = 0
        self.resyncs = 0
        self.outages = 0                 # times the device vanished (reads all ones) and came back
        self.seen_ns = 0                 # wall clock (perf_counter_ns) of the poll that found the last batch
        self.cursor_timestamp = 0        # device cycle counter of the last cursor write seen
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
    def attach(cls, device: Device, buffer: DmaBuffer, ring_size: int, *, next_seq: int | None = None,
               **kw) -> "RingConsumer":
        """Host restart: resume on ``buffer`` (the one the previous process configured).

        ``next_seq``: the first sequence the application has not processed (from its own journal);
        by default the state line's, i.e. the entry after the last batch whose callback returned."""
        c = cls(device, ring_size, buffer=buffer, **kw)
        magic, nxt, epoch, size = (int(x) for x in c._state[:4])
        if magic != STATE_MAGIC:
            raise ResyncError("buffer holds no consumer state line; use RingConsumer.open for a fresh start")
        if size != ring_size:
            raise ResyncError(f"buffer was configured for {size} entries, not {ring_size}")
        if next_seq is not None:
            nxt = next_seq
        c.next, c.epoch = nxt, epoch
        if c.released is not None:
            c.released = nxt
        dev = device
        consumed = dev.read(R.HOST_CONSUMED)
        if nxt < consumed:
            raise ResyncError(f"resume at {nxt} but the device was told entries below {consumed} were "
                              "consumed: they may be overwritten already")
        c.rung = consumed
        ours = dev.read(R.RING_BASE) == c.ring_bus and dev.read(R.RING_SIZE) == ring_size
        if not ours or not dev.read(R.STATUS) & Status.ENABLED:
            c.resync()
            return c
        sent = dev.read(R.SENT)
        if nxt > sent:
            raise ResyncError(f"resume at {nxt} but the device has only sent entries below {sent}")
        c._save_state()
        c._ring_doorbell(force=True)
        return c

    def _configure(self) -> None:
        """The contract's enable sequence on this consumer's buffer; the consumer continues at SENT."""
        dev = self.device
        sent = self._stop_device()
        # Before enabling: a stale cursor must never be taken for a new one.
        self._line[:3] = 0
        self._line[0] = sent
        self.next = self.rung = sent
        if self.released is not None:
            self.released = sent
        self._save_state()
        try:
            first = dev.regs.start(self.ring_bus, self.ring_size, self.cursor_bus,
                                   batch_limit=self.batch_limit, cursor_interval=self.cursor_interval)
        except ConfigError as exc:
            raise DeviceError(f"device refused the ring configuration (base {self.ring_bus:#x}, "
                              f"{self.ring_size} entries, cursor line {self.cursor_bus:#x}): {exc}") from exc
        if first != sent:
            raise ResyncError(f"device SENT moved from {sent} to {first} while stopped")
        if self.ingress is not None:
            try:
                dev.regs.start_ingress(self.ingress)
            except IngressError as exc:
                raise DeviceError(f"Ethernet ingress for {self.ingress}: {exc}") from exc

    def _stop_device(self) -> int:
        """CONTROL = 0, wait until the writer is idle (cursor line written); returns SENT.
        A device that vanishes meanwhile is waited for, then stopped again (its state is new)."""
        dev = self.device
        dev.write(R.CONTROL, 0)
        for _ in range(100_000):
            status = dev.read(R.STATUS)
            if _all_ones(R.STATUS, status) and self._gone():
                self._wait_for_device()
                dev.write(R.CONTROL, 0)
                continue
            if not status & Status.BUSY:
                break
            dev.service()
        else:
            raise DeviceError("DMA writer still BUSY after disable")
        return dev.read(R.SENT)

    def _gone(self) -> bool:
        """The function does not answer: ``ID`` is not ringgate's (all ones while it is gone)."""
        self._last_id = self.device.read(R.ID)
        return self._last_id != ID_VALUE

    def _wait_for_device(self) -> None:
        """The device vanished (PERST#, link down, reload): wait until ``ID`` reads back."""
        self.outages += 1
        deadline = time.monotonic() + self.gone_timeout
        pause = 1e-3
        while self._gone():
            if time.monotonic() > deadline:
                raise DeviceGone(f"the device stopped answering (BAR0 reads all ones) and was not back "
                                 f"after {self.gone_timeout} s (ID reads {self._last_id:#010x}): link down, "
                                 f"PERST# held, FPGA not loaded or another bitstream")
            self.device.recover()
            self.device.service()
            time.sleep(pause)
            pause = min(2 * pause, 0.05)

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
        if cur == self.next:
            return 0
        if not 0 < cur - self.next <= self.ring_size:
            self._inconsistent(cur)
            return 0
        self.cursor_timestamp = int(self._line[1])
        n = self._deliver(cur)
        if self._releasable() - self.rung >= self.doorbell_every:
            self._ring_doorbell()
        return n

    def _deliver(self, cur: int) -> int:
        """Check and hand over entries [next, cur) in at most two zero-copy views."""
        self.seen_ns = time.perf_counter_ns()
        nxt = self.next
        n = cur - nxt
        ring, mask, size, cb, state = self.ring, self.mask, self.ring_size, self.callback, self._state
        while nxt < cur:
            slot = nxt & mask
            k = min(cur - nxt, size - slot)
            view = ring[slot:slot + k]
            self._check(slot, k, nxt)
            if cb is not None:
                cb(view)
            nxt += k
            self.next = nxt
            state[1] = nxt
            self.batches += 1
        self.delivered += n
        return n

    def _check(self, slot: int, k: int, first: int) -> None:
        """Every entry's seq must be first, first + 1, ...: a gap or repeat raises."""
        seq = self._seqs[slot:slot + k]
        if k <= 128:                                  # small batches: cheaper in plain Python
            got = seq.tolist()
            if got != list(range(first, first + k)):
                i = next(i for i, s in enumerate(got) if s != first + i)
                raise SequenceError(first + i, got[i], slot + i)
            return
        d = np.subtract(seq, self._ramp[:k], out=self._tmp[:k])
        if d[0] != first or d[k - 1] != first or not (d == np.uint64(first)).all():
            i = int(np.nonzero(d != np.uint64(first))[0][0])
            raise SequenceError(first + i, int(seq[i]), slot + i)

    def _releasable(self) -> int:
        """Highest sequence the device may overwrite below: everything delivered, or (manual
        release) only what the application released."""
        return self.next if self.released is None else min(self.released, self.next)

    def release(self, upto: int) -> None:
        """Manual release mode: the application is done with entries below ``upto`` (e.g. its
        journal made them durable). Safe to call from another thread (an int store); the
        doorbell follows at the next poll that reaches ``doorbell_every``, or when idle."""
        if self.released is None:
            raise RuntimeError("release() needs RingConsumer(..., manual_release=True)")
        if upto > self.released:
            self.released = upto

    def _ring_doorbell(self, force: bool = False) -> None:
        if self._draining:
            return
        target = self._releasable()
        if target > self.rung or force:
            self.device.write(R.DOORBELL, target)
            self.rung = target
            self.doorbells += 1

    def flush(self) -> None:
        """Write the doorbell now if entries were consumed since the last one."""
        self._ring_doorbell()

    def idle(self) -> None:
        """Nothing new: let an in-process device run, check the device's health now and then."""
        self.device.service()
        if self.health_every:
            now = time.monotonic()
            if now - self._last_health >= self.health_every:
                self._last_health = now
                self.check_device()

    def check_device(self) -> None:
        """Read the device's error and status registers (MMIO); resynchronise if it stopped."""
        dev = self.device
        errors = dev.read(R.ERROR)
        if _all_ones(R.ERROR, errors) and self._gone():
            self._wait_for_device()
            self.resync(state_lost=True)
            return
        if errors:
            raise DeviceError(f"device reports errors: {describe_errors(errors)} (ERROR {errors:#x})")
        if not dev.read(R.STATUS) & Status.ENABLED:
            self.resync()

    def _inconsistent(self, cur: int) -> None:
        status = self.device.read(R.STATUS)
        if not status & Status.ENABLED or _all_ones(R.STATUS, status) and self._gone():
            self.resync()
            return
        raise ResyncError(f"cursor line says {cur} but the consumer is at {self.next} "
                          f"(ring of {self.ring_size}): host memory was written by someone else")

    def resync(self, *, state_lost: bool = False) -> int:
        """Deliver every entry that reached host memory, then restart the device on this ring.

        ``state_lost``: the device is known to have lost its sequences (it vanished), even if its
        new ``SENT`` happens to look plausible. Returns the number of entries delivered on the way."""
        outages = self.outages
        sent = self._stop_device()
        state_lost = state_lost or self.outages != outages
        cur = int(self._line[0])
        if not state_lost and 0 <= sent - self.next <= self.ring_size:
            target = sent                      # sequences kept: all below SENT is in host memory
        else:
            # The device lost its state: what the last cursor write announced is intact.
            target = cur if 0 <= cur - self.next <= self.ring_size else self.next
            self.epoch += 1
        drained = self._deliver_to(target)
        self._configure()
        self.resyncs += 1
        return drained

    def _deliver_to(self, target: int) -> int:
        # The device is stopped: no doorbell writes until it is reconfigured.
        self._draining = True
        try:
            return self._deliver(target)
        finally:
            self._draining = False

    # -- loops -----------------------------------------------------------------------

    def run(self, *, count: int | None = None, timeout: float | None = None,
            stop: Callable[[], bool] | None = None) -> int:
        """Poll until ``count`` entries were delivered, ``timeout`` seconds passed without reaching
        it, or ``stop()`` is true (checked when idle). Returns entries delivered by this call.
        Waits between empty polls as the ``poll`` mode says."""
        start = self.delivered
        deadline = None if timeout is None else time.monotonic() + timeout
        idle_polls = 0
        poll, idle = self.poll, self.idle
        mode = self.poll_mode
        clock, sleep, yield_ = time.perf_counter, time.sleep, os.sched_yield
        quiet_since = clock()            # adaptive: when the last batch was seen
        nap = self.idle_sleep
        while count is None or self.delivered - start < count:
            if poll():
                idle_polls = 0
                continue
            idle()
            if poll():
                idle_polls = 0
                continue
            if idle_polls == 0:
                quiet_since = clock()
                nap = self.idle_sleep
            idle_polls += 1
            if idle_polls % self.idle_flush == 0:
                # The ring is quiet: tell the device what was consumed (or released meanwhile, from
                # another thread); writes only if the value moved, so a quiet ring costs no MMIO.
                self._ring_doorbell()
            if stop is not None and stop():
                break
            if mode == "busy":
                if deadline is not None and idle_polls % 64 == 0 and time.monotonic() > deadline:
                    break
                continue
            if mode == "sleep":
                if deadline is not None and idle_polls % 64 == 0 and time.monotonic() > deadline:
                    break
                if idle_polls > self.spin:
                    sleep(self.idle_sleep)
                    self.sleeps += 1
                continue
            quiet = clock() - quiet_since
            if quiet < self.spin_time:
                continue
            if deadline is not None and time.monotonic() > deadline:
                break
            if quiet < self.yield_time:
                yield_()
                continue
            # the ring has been quiet for a while: sleep, longer each time, so an idle consumer
            # wakes ~1/max_sleep times a second; a batch found resets the back-off
            self._ring_doorbell()          # releases that arrived meanwhile reach the device first
            sleep(nap)
            self.sleeps += 1
            nap = min(nap * 2, self.max_sleep)
        self._ring_doorbell()
        return self.delivered - start

    def close(self, *, disable: bool = False) -> None:
        self._ring_doorbell()
        if disable:
            self.device.write(R.CONTROL, 0)
