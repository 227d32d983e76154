"""Shared files between a running co-simulation and host processes.

Two files in one directory (``/dev/shm/...`` by default, any directory works):

``hostmem``
    The simulated host memory. The simulation registers it with the cocotbext-pcie
    RootComplex as a ``MemoryRegion`` whose ``mem`` is a ``MAP_SHARED`` mapping of this file,
    at bus address :data:`HOST_BASE`: every Memory Write TLP the device sends is stored straight
    into the file, in TLP order, so another process that maps it sees entries and cursor-line
    updates as they land (data before cursor: x86-64 keeps stores in order; see docs/cosim.md).

``mailbox``
    A 4 KiB header + a ring of :data:`SLOTS` requests, each ``{op u32, offset u32, value u64}``.
    Clients (``ringgate.sim.cosim.device.SimDevice``) append requests and bump ``head``; the simulation
    executes them in order through the RootComplex (BAR0 Memory Writes / Reads of 1 DW, so the
    device sees real CQ TLPs) and bumps ``tail``; a read's result is stored back into its slot.
    Writes are posted (the client does not wait, as on PCIe), reads wait for ``tail``. In-order
    execution gives PCIe's ordering for free: a read never passes an earlier write.
    Clients serialise on an ``fcntl`` lock of the mailbox file (any number of processes and
    threads). The header also carries the simulation's state, time and traffic progress and the
    host-memory bump allocator.

All words are little-endian u64 stores, naturally aligned (atomic on x86-64 and arm64).
"""
from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ringgate.sw.driver.device import map_shared

__all__ = ["HOST_BASE", "SLOTS", "MAGIC", "State", "Op", "Mailbox", "MailboxTimeout", "SimStopped",
           "default_dir"]

HOST_BASE = 0x1_0000_0000       # bus address of byte 0 of the host memory file (above the RC's pool)
MAGIC = 0x5847_4F43_4752_4721   # "!GRGCOGX": ringgate cosim mailbox v1
SLOTS = 256
HEADER = 4096
SLOT_BYTES = 16


class State:
    STARTING = 0
    READY = 1          # enumerated, bus master on: serving requests
    STOPPED = 2        # stop requested and done; results written
    FAILED = 3


class Op:
    READ32 = 1
    WRITE32 = 2


# header word indices (u64)
H_MAGIC, H_HEAD, H_TAIL, H_STOP, H_STATE, H_SIM_PS, H_OWNER, H_HOST_BYTES = range(8)
H_ALLOC, H_T0, H_FED, H_TOTAL, H_CYCLE, H_ENABLES, H_PUSH_STALLS, H_ERRORS = range(8, 16)
H_WALL_START, H_MPS, H_WIDTH = range(16, 19)


class MailboxTimeout(TimeoutError):
    """The simulation did not answer in time."""


class SimStopped(RuntimeError):
    """The simulation is not running (stopped, failed or never started)."""


def default_dir() -> Path:
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(os.environ.get("TMPDIR", "/tmp"))
    return base


class Mailbox:
    """The mailbox file, from either side. ``Mailbox.create`` (the simulation) initialises it;
    ``Mailbox(path)`` (a client) checks the magic."""

    NBYTES = HEADER + SLOTS * SLOT_BYTES

    def __init__(self, path: str | os.PathLike, *, _create: bool = False):
        self.path = Path(path)
        self.mm = map_shared(self.path, self.NBYTES, create=_create)
        self.h = np.frombuffer(self.mm, np.uint64, HEADER // 8)
        self.slots = np.frombuffer(self.mm, np.uint64, SLOTS * 2, HEADER).reshape(SLOTS, 2)
        if not _create and int(self.h[H_MAGIC]) != MAGIC:
            raise SimStopped(f"{self.path} is not a ringgate co-simulation mailbox (bad magic)")
        self._tlock = threading.Lock()
        self._fd = None

    @classmethod
    def create(cls, path: str | os.PathLike, *, host_bytes: int, owner: int = 0) -> "Mailbox":
        mb = cls(path, _create=True)
        mb.h[:] = 0
        mb.slots[:] = 0
        mb.h[H_HOST_BYTES] = host_bytes
        mb.h[H_OWNER] = owner
        mb.h[H_STATE] = State.STARTING
        mb.h[H_MAGIC] = MAGIC           # last: a client never sees a half-initialised header
        return mb

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        del self.h, self.slots
        self.mm.close()

    # -- shared state ----------------------------------------------------------------------
    def __getitem__(self, word: int) -> int:
        return int(self.h[word])

    def __setitem__(self, word: int, value: int) -> None:
        self.h[word] = value

    @property
    def state(self) -> int:
        return int(self.h[H_STATE])

    # -- client side -----------------------------------------------------------------------
    @contextmanager
    def _lock(self):
        with self._tlock:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _check_running(self) -> None:
        st = self.state
        if st != State.READY:
            what = {State.STARTING: "still starting", State.STOPPED: "stopped",
                    State.FAILED: "failed"}.get(st, f"in state {st}")
            raise SimStopped(f"the co-simulation is {what} ({self.path})")

    def _wait(self, cond, timeout: float, what: str) -> None:
        """Spin briefly, then sleep in short steps: the simulator needs the CPU more than we do."""
        deadline = time.monotonic() + timeout
        spins = 0
        while not cond():
            spins += 1
            if spins > 200:
                time.sleep(20e-6)
                if spins % 256 == 0:
                    if self.state in (State.STOPPED, State.FAILED):
                        raise SimStopped(f"the co-simulation stopped while waiting for {what}")
                    if time.monotonic() > deadline:
                        raise MailboxTimeout(f"no answer from the co-simulation to {what} in {timeout} s")

    def _post(self, op: int, offset: int, value: int, timeout: float) -> int:
        h = self.h
        head = int(h[H_HEAD])
        if head - int(h[H_TAIL]) >= SLOTS:
            self._wait(lambda: head - int(h[H_TAIL]) < SLOTS, timeout, "a free mailbox slot")
        slot = self.slots[head % SLOTS]
        slot[1] = value
        slot[0] = op | (offset << 32)
        h[H_HEAD] = head + 1             # publishes the request (stores stay in order)
        return head

    def write32(self, offset: int, value: int, *, timeout: float = 60.0) -> None:
        if not 0 <= value <= 0xFFFF_FFFF:
            raise ValueError(f"write32 value {value:#x} does not fit 32 bits")
        self._check_offset(offset)
        self._check_running()
        with self._lock():
            self._post(Op.WRITE32, offset, value, timeout)

    def read32(self, offset: int, *, timeout: float = 60.0) -> int:
        self._check_offset(offset)
        self._check_running()
        with self._lock():
            idx = self._post(Op.READ32, offset, 0, timeout)
            h = self.h
            self._wait(lambda: int(h[H_TAIL]) > idx, timeout, f"read32({offset:#x})")
            return int(self.slots[idx % SLOTS][1])

    def drain(self, *, timeout: float = 60.0) -> None:
        """Wait until the simulation has executed every request posted so far."""
        h = self.h
        head = int(h[H_HEAD])
        self._wait(lambda: int(h[H_TAIL]) >= head, timeout, "the posted writes")

    def alloc(self, nbytes: int, align: int = 4096) -> int:
        """Offset of ``nbytes`` of fresh host memory (bump allocator shared by all clients)."""
        with self._lock():
            at = -(-int(self.h[H_ALLOC]) // align) * align
            end = at + nbytes
            if end > int(self.h[H_HOST_BYTES]):
                raise MemoryError(f"host memory of the co-simulation is full: {nbytes} B wanted at "
                                  f"{at:#x}, {int(self.h[H_HOST_BYTES]):#x} B in all")
            self.h[H_ALLOC] = end
            return at

    @staticmethod
    def _check_offset(offset: int) -> None:
        if offset % 4 or not 0 <= offset < 4096:
            raise ValueError(f"BAR0 offset {offset:#x} is not a 4-byte aligned offset inside the 4 KiB BAR")

    def request_stop(self) -> None:
        self.h[H_STOP] = 1

    # -- server side -----------------------------------------------------------------------
    def pending(self):
        """Requests not yet executed: yields (index, op, offset, value)."""
        h = self.h
        tail, head = int(h[H_TAIL]), int(h[H_HEAD])
        for idx in range(tail, head):
            word, value = (int(x) for x in self.slots[idx % SLOTS])
            yield idx, word & 0xFFFF_FFFF, word >> 32, value

    def complete(self, idx: int, result: int | None = None) -> None:
        if result is not None:
            self.slots[idx % SLOTS][1] = result
        self.h[H_TAIL] = idx + 1
