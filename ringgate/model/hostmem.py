"""Bus-addressed host memory: what a device's DMA writes can reach.

An IOMMU maps bus addresses (IOVAs) onto pages of host buffers. :class:`HostMemory` is that
table for the in-process backends: DMA writes resolve a bus address range to a numpy
``uint8`` view of the buffer that holds it, and a write that falls outside every mapped
window is a :class:`DmaFault` (on a real machine the IOMMU would block it and log a fault).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DmaFault", "HostMemory", "Window"]


class DmaFault(RuntimeError):
    """A DMA write to a bus address range no buffer maps (an IOMMU fault on real hardware)."""


@dataclass(frozen=True)
class Window:
    bus: int
    data: np.ndarray            # uint8, the host buffer

    @property
    def end(self) -> int:
        return self.bus + self.data.size


class HostMemory:
    def __init__(self):
        self._windows: list[Window] = []

    def map(self, bus: int, buffer) -> None:
        data = np.frombuffer(buffer, dtype=np.uint8)
        if bus < 0 or bus % 4096:
            raise ValueError(f"bus address {bus:#x} is not 4 KiB aligned")
        for w in self._windows:
            if bus < w.end and w.bus < bus + data.size:
                raise ValueError(f"bus range {bus:#x}+{data.size:#x} overlaps a mapped window at {w.bus:#x}")
        self._windows.append(Window(bus, data))

    def unmap(self, bus: int) -> None:
        for i, w in enumerate(self._windows):
            if w.bus == bus:
                del self._windows[i]
                return
        raise KeyError(f"no window mapped at bus address {bus:#x}")

    def view(self, bus: int, nbytes: int) -> np.ndarray:
        """uint8 view of ``[bus, bus + nbytes)``; raises :class:`DmaFault` if not mapped."""
        for w in self._windows:
            if w.bus <= bus and bus + nbytes <= w.end:
                off = bus - w.bus
                return w.data[off:off + nbytes]
        raise DmaFault(f"DMA write to unmapped bus range {bus:#x}..{bus + nbytes:#x}")

    def contains(self, bus: int, nbytes: int) -> bool:
        try:
            self.view(bus, nbytes)
        except DmaFault:
            return False
        return True
