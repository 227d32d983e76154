"""The ``Device`` abstraction: BAR0 registers by name plus DMA-able host buffers.

Every backend (in-process model, co-simulation, VFIO board) provides the same few things,
and the ring consumer needs nothing else:

* ``read32(offset)`` / ``write32(offset, value)``: 1-DW BAR0 accesses (a mapped BAR, a
  register mailbox); ``read(name)`` / ``write(name, value)`` on top of them through the
  register-map contract (:class:`ringgate.sw.driver.registers.Registers`: 64-bit registers as
  low half, then high half);
* ``alloc(nbytes)``: a :class:`DmaBuffer` the device can write (bus address + memoryview);
* ``service()``: called by pollers when they find nothing new. Hardware and co-simulation
  run on their own, so it does nothing there; the in-process model advances in it.
"""
from __future__ import annotations

import mmap
import os
import sys
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ringgate.contracts.entry import ENTRY_DTYPE
from ringgate.model import FpgaModel, HostMemory

from .registers import Registers
from .regs import REGMAP, describe_errors

__all__ = ["DmaBuffer", "Device", "ModelDevice", "DeviceError", "describe_errors", "file_buffer", "map_shared",
           "anonymous_buffer"]

HUGE_PAGE = 2 << 20
# Python's mmap module does not export it; 0x40000 in the Linux uapi (asm-generic/mman-common.h).
MAP_HUGETLB = getattr(mmap, "MAP_HUGETLB", 0x40000)


class DeviceError(RuntimeError):
    """The device refused a request or reports an error; the message says why."""


@dataclass
class DmaBuffer:
    """Host memory the device can write: ``bus`` is the address the device uses, ``mv`` the
    CPU's view of the same bytes."""
    bus: int
    mv: memoryview
    hugepage: bool = False
    _keep: list = field(default_factory=list, repr=False)

    @property
    def nbytes(self) -> int:
        return self.mv.nbytes

    def array(self, dtype=np.uint8, offset: int = 0, count: int = -1) -> np.ndarray:
        """Zero-copy numpy view of part of the buffer."""
        return np.frombuffer(self.mv, dtype=dtype, count=count, offset=offset)

    def region(self, offset: int, nbytes: int) -> "DmaBuffer":
        """A sub-buffer (bus address and view shifted together)."""
        if offset < 0 or offset + nbytes > self.nbytes:
            raise ValueError(f"region {offset:#x}+{nbytes:#x} outside a buffer of {self.nbytes:#x} bytes")
        return DmaBuffer(self.bus + offset, self.mv[offset:offset + nbytes], self.hugepage, [self])


def anonymous_buffer(nbytes: int, *, hugepage: bool = True) -> tuple[mmap.mmap, bool]:
    """Page-aligned anonymous memory; 2 MiB huge pages when the system has them (fewer IOMMU
    and TLB entries), else ordinary pages."""
    if hugepage and sys.platform == "linux":
        size = -(-nbytes // HUGE_PAGE) * HUGE_PAGE
        try:
            return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_HUGETLB), True
        except OSError:                 # no huge pages reserved (vm.nr_hugepages = 0)
            pass
    size = -(-nbytes // mmap.PAGESIZE) * mmap.PAGESIZE
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS), False


def map_shared(path: str | os.PathLike, nbytes: int, *, create: bool = True) -> mmap.mmap:
    """A ``MAP_SHARED`` read/write mapping of the first ``nbytes`` of ``path`` (created and grown
    to ``nbytes`` if ``create``; otherwise a shorter file is refused)."""
    fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o600)
    try:
        if create and os.fstat(fd).st_size < nbytes:
            os.ftruncate(fd, nbytes)
        size = os.fstat(fd).st_size
        if size < nbytes:
            raise ValueError(f"{path}: {size} bytes, expected at least {nbytes}")
        return mmap.mmap(fd, nbytes, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    finally:
        os.close(fd)


def file_buffer(path: str | os.PathLike, nbytes: int, bus: int) -> DmaBuffer:
    """A :class:`DmaBuffer` backed by a shared file (``/dev/shm/...`` or hugetlbfs): the host
    memory of a co-simulation that another process's consumer reads, or a ring that survives a
    restart of the host process. ``bus`` is the address the device is given for byte 0."""
    if bus % 4096:
        raise ValueError(f"bus address {bus:#x} is not 4 KiB aligned")
    mem = map_shared(path, -(-nbytes // mmap.PAGESIZE) * mmap.PAGESIZE)
    return DmaBuffer(bus, memoryview(mem)[:nbytes], False, [mem])


class Device(ABC):
    """A ringgate device as the host sees it: BAR0 registers and DMA-able host buffers."""

    regmap = REGMAP

    @abstractmethod
    def read32(self, offset: int) -> int: ...

    @abstractmethod
    def write32(self, offset: int, value: int) -> None: ...

    @property
    def regs(self) -> Registers:
        """The contract's named accessors (``start``, ``doorbell``, ``errors``...) over this BAR."""
        regs = self.__dict__.get("_regs")
        if regs is None:
            regs = self.__dict__["_regs"] = Registers(self)
        return regs

    def read(self, name: str) -> int:
        return self.regs.read(name)

    def write(self, name: str, value: int) -> None:
        self.regs.write(name, value)

    @abstractmethod
    def alloc(self, nbytes: int) -> DmaBuffer: ...

    def service(self) -> None:
        """Let an in-process device make progress (no-op for devices that run on their own)."""

    def recover(self) -> None:
        """Called while the device does not answer (BAR0 reads all ones, e.g. after PERST# or a
        link down): redo what the host must redo for a function reset behind its back. Nothing
        by default (a co-simulation's host restores the function itself)."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def check_errors(self) -> None:
        bits = self.read("ERROR")
        if bits:
            raise DeviceError(f"device reports errors: {describe_errors(bits)} (errors register {bits:#x})")


class ModelDevice(Device):
    """The in-process golden model behind the ``Device`` interface.

    Orders reach it through :meth:`feed` (entries, optional ingress cycles); :meth:`service`
    moves them into the BRAM ring as space allows (the model's wire waits instead of dropping,
    so benchmarks lose nothing; use ``model.push`` directly to model drops) and runs the DMA.
    Bus addresses are handed out from ``bus_base`` upwards; no two buffers share a page.
    """

    def __init__(self, *, bus_base: int = 0x1_0000_0000, service_entries: int | None = None, **model_args):
        self.host = HostMemory()
        self.model = FpgaModel(self.host, **model_args)
        self._next_bus = bus_base
        self._pending: deque[tuple[np.ndarray, np.ndarray | None]] = deque()
        self.pending_entries = 0
        self.service_entries = service_entries
        self._buffers: list = []

    @classmethod
    def open(cls, **kw) -> "ModelDevice":
        """The ``model`` backend of :func:`ringgate.sw.driver.open_device`."""
        return cls(**kw)

    def read32(self, offset: int) -> int:
        return self.model.read32(offset)

    def write32(self, offset: int, value: int) -> None:
        self.model.write32(offset, value)

    # A 64-bit access is atomic in the model; skipping the two 1-DW halves changes nothing
    # observable and keeps the doorbell cheap.
    def read(self, name: str) -> int:
        return self.model.read(name)

    def write(self, name: str, value: int) -> None:
        reg = REGMAP[name]
        if not 0 <= int(value) <= reg.mask:
            raise ValueError(f"{name}: value {int(value):#x} does not fit {reg.width} bits")
        self.model.write(name, value)

    def alloc(self, nbytes: int) -> DmaBuffer:
        mem, huge = anonymous_buffer(nbytes, hugepage=False)
        bus = self._next_bus
        self._next_bus += -(-len(mem) // HUGE_PAGE) * HUGE_PAGE + HUGE_PAGE   # guard gap
        self.host.map(bus, mem)
        self._buffers.append(mem)
        return DmaBuffer(bus, memoryview(mem)[:nbytes], huge, [mem])

    def feed(self, entries: np.ndarray, cycles: np.ndarray | None = None) -> None:
        """Queue order entries for the ingress (optionally with their ingress cycles)."""
        if entries.dtype != ENTRY_DTYPE:
            raise TypeError(f"entries must have ENTRY_DTYPE, not {entries.dtype}")
        if cycles is not None and len(cycles) != len(entries):
            raise ValueError("one ingress cycle per entry")
        if len(entries):
            self._pending.append((entries, cycles))
            self.pending_entries += len(entries)

    def service(self) -> None:
        m = self.model
        budget = self.service_entries
        while self._pending and m.fill < m.depth:
            entries, cycles = self._pending[0]
            k = min(len(entries), m.depth - m.fill)
            if budget is not None:
                k = min(k, budget)
                if k <= 0:
                    break
            if cycles is not None:
                m.now = max(m.now, int(cycles[k - 1]))
                m.push(entries[:k], cycles[:k])
            else:
                m.push(entries[:k])
            self.pending_entries -= k
            if budget is not None:
                budget -= k
            if k == len(entries):
                self._pending.popleft()
            else:
                self._pending[0] = (entries[k:], None if cycles is None else cycles[k:])
            m.run()
        m.run()

    def close(self) -> None:
        self._pending.clear()
