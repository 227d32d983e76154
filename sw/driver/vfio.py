"""Linux backend: a real board through VFIO (IOMMU-safe user-space PCI access).

Sequence (Documentation/driver-api/vfio.rst):

1. ``/sys/bus/pci/devices/<BDF>/iommu_group`` names the device's IOMMU group; the device must
   be bound to ``vfio-pci`` and every device of the group bound to a VFIO driver (viable).
2. Open the container ``/dev/vfio/vfio`` (API version 0, Type1 v2 IOMMU) and the group
   ``/dev/vfio/<group>``; attach the group to the container and set the IOMMU type.
3. Get the device fd (``VFIO_GROUP_GET_DEVICE_FD`` with the BDF), find BAR0
   (``VFIO_DEVICE_GET_REGION_INFO`` index 0) and ``mmap`` it; set Memory Space and Bus
   Master in the PCI command register through the config region (index 7).
4. DMA buffers: 2 MiB huge pages when available (falls back to 4 KiB pages, with a warning:
   more IOMMU entries), mapped with ``VFIO_IOMMU_MAP_DMA`` at an IOVA the driver chooses; the
   IOVA is the bus address the device is given.

Every step that can fail on a misconfigured machine raises :class:`VfioError` with what is
missing and how to fix it. ioctl numbers and struct layouts are checked against the kernel
headers by the tests.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import warnings
from pathlib import Path

from .device import HUGE_PAGE, Device, DeviceError, DmaBuffer, anonymous_buffer, map_shared
from .regs import BAR0_SIZE

__all__ = ["VfioDevice", "VfioError", "MmioBar", "FileBar", "BarDevice", "IOCTLS", "STRUCTS",
           "vfio_group_status", "vfio_device_info", "vfio_region_info",
           "vfio_iommu_type1_dma_map", "vfio_iommu_type1_dma_unmap", "find_group"]

# -- kernel ABI (include/uapi/linux/vfio.h) ------------------------------------------------

VFIO_TYPE = ord(";")
VFIO_BASE = 100


def _IO(type_: int, nr: int) -> int:
    """asm-generic/ioctl.h _IO: no direction, no size (VFIO passes argsz inside the struct)."""
    return (type_ << 8) | nr


IOCTLS = {
    "VFIO_GET_API_VERSION": _IO(VFIO_TYPE, VFIO_BASE + 0),
    "VFIO_CHECK_EXTENSION": _IO(VFIO_TYPE, VFIO_BASE + 1),
    "VFIO_SET_IOMMU": _IO(VFIO_TYPE, VFIO_BASE + 2),
    "VFIO_GROUP_GET_STATUS": _IO(VFIO_TYPE, VFIO_BASE + 3),
    "VFIO_GROUP_SET_CONTAINER": _IO(VFIO_TYPE, VFIO_BASE + 4),
    "VFIO_GROUP_UNSET_CONTAINER": _IO(VFIO_TYPE, VFIO_BASE + 5),
    "VFIO_GROUP_GET_DEVICE_FD": _IO(VFIO_TYPE, VFIO_BASE + 6),
    "VFIO_DEVICE_GET_INFO": _IO(VFIO_TYPE, VFIO_BASE + 7),
    "VFIO_DEVICE_GET_REGION_INFO": _IO(VFIO_TYPE, VFIO_BASE + 8),
    "VFIO_DEVICE_RESET": _IO(VFIO_TYPE, VFIO_BASE + 11),
    "VFIO_IOMMU_GET_INFO": _IO(VFIO_TYPE, VFIO_BASE + 12),
    "VFIO_IOMMU_MAP_DMA": _IO(VFIO_TYPE, VFIO_BASE + 13),
    "VFIO_IOMMU_UNMAP_DMA": _IO(VFIO_TYPE, VFIO_BASE + 14),
}
globals().update(IOCTLS)

VFIO_API_VERSION = 0
VFIO_TYPE1_IOMMU = 1
VFIO_TYPE1v2_IOMMU = 3
VFIO_GROUP_FLAGS_VIABLE = 1 << 0
VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1
VFIO_DEVICE_FLAGS_RESET = 1 << 0
VFIO_DEVICE_FLAGS_PCI = 1 << 1
VFIO_REGION_INFO_FLAG_READ = 1 << 0
VFIO_REGION_INFO_FLAG_WRITE = 1 << 1
VFIO_REGION_INFO_FLAG_MMAP = 1 << 2
VFIO_DMA_MAP_FLAG_READ = 1 << 0
VFIO_DMA_MAP_FLAG_WRITE = 1 << 1
VFIO_PCI_BAR0_REGION_INDEX = 0
VFIO_PCI_CONFIG_REGION_INDEX = 7
PCI_COMMAND = 0x04
PCI_COMMAND_MEMORY = 1 << 1
PCI_COMMAND_MASTER = 1 << 2

CONSTANTS = {k: v for k, v in globals().items() if k.startswith(("VFIO_", "PCI_COMMAND"))
             and isinstance(v, int) and k not in IOCTLS and k not in ("VFIO_TYPE", "VFIO_BASE")}

_u32, _u64 = ctypes.c_uint32, ctypes.c_uint64


class vfio_group_status(ctypes.Structure):
    _fields_ = [("argsz", _u32), ("flags", _u32)]


class vfio_device_info(ctypes.Structure):
    _fields_ = [("argsz", _u32), ("flags", _u32), ("num_regions", _u32), ("num_irqs", _u32),
                ("cap_offset", _u32)]


class vfio_region_info(ctypes.Structure):
    _fields_ = [("argsz", _u32), ("flags", _u32), ("index", _u32), ("cap_offset", _u32),
                ("size", _u64), ("offset", _u64)]


class vfio_iommu_type1_dma_map(ctypes.Structure):
    _fields_ = [("argsz", _u32), ("flags", _u32), ("vaddr", _u64), ("iova", _u64), ("size", _u64)]


class vfio_iommu_type1_dma_unmap(ctypes.Structure):
    _fields_ = [("argsz", _u32), ("flags", _u32), ("iova", _u64), ("size", _u64)]


STRUCTS = {c.__name__: c for c in (vfio_group_status, vfio_device_info, vfio_region_info,
                                   vfio_iommu_type1_dma_map, vfio_iommu_type1_dma_unmap)}


class VfioError(RuntimeError):
    """The machine is not set up for VFIO access to this device; the message says what to do."""


# -- BAR access --------------------------------------------------------------------------

class MmioBar:
    """1-DW accesses to a memory-mapped BAR (or any mmap of its size).

    A memoryview cast to 32-bit words: each access is one aligned 4-byte load or store, which
    is what a Memory Read/Write of 1 DW needs (numpy could merge or split accesses)."""

    def __init__(self, mm: mmap.mmap, size: int = BAR0_SIZE):
        if len(mm) < size:
            raise VfioError(f"BAR0 mapping of {len(mm)} bytes is smaller than the register map's {size}")
        self._mm = mm
        self._words = memoryview(mm).cast("I")
        self.size = size

    def read32(self, offset: int) -> int:
        if offset % 4 or not 0 <= offset < self.size:
            raise ValueError(f"BAR0 offset {offset:#x} is not a 4-byte aligned offset inside the BAR")
        return self._words[offset >> 2]

    def write32(self, offset: int, value: int) -> None:
        if offset % 4 or not 0 <= offset < self.size:
            raise ValueError(f"BAR0 offset {offset:#x} is not a 4-byte aligned offset inside the BAR")
        self._words[offset >> 2] = value & 0xFFFF_FFFF

    def close(self) -> None:
        self._words.release()
        self._mm.close()


class FileBar(MmioBar):
    """A BAR backed by a file (tests and tools without a board): same code path as the real mmap."""

    def __init__(self, path: str | os.PathLike, size: int = BAR0_SIZE):
        super().__init__(map_shared(path, size), size)


# -- setup helpers -----------------------------------------------------------------------

def _open(path: str, what: str, hint: str) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        raise VfioError(f"{what} {path} does not exist: {hint}") from None
    except PermissionError:
        raise VfioError(f"permission denied opening {what} {path}: run as root, or give your user "
                        f"access (e.g. a udev rule: SUBSYSTEM==\"vfio\", OWNER=\"<user>\"), and raise "
                        f"the locked-memory limit (ulimit -l) for the DMA buffers") from None
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            raise VfioError(f"{what} {path} is busy: another process holds it (only one may open a "
                            f"VFIO group)") from None
        raise VfioError(f"cannot open {what} {path}: {exc.strerror}") from None


def find_group(bdf: str, sysfs: str | os.PathLike = "/sys") -> int:
    """IOMMU group number of a PCI device, checking the device exists and is bound to vfio-pci."""
    dev = Path(sysfs) / "bus/pci/devices" / bdf
    if not dev.exists():
        raise VfioError(f"no PCI device {bdf} (expected {dev}); list boards with `lspci -d 10ee:` "
                        f"and give the full domain:bus:device.function, e.g. 0000:01:00.0")
    link = dev / "iommu_group"
    if not link.exists():
        raise VfioError(f"PCI device {bdf} has no IOMMU group: the IOMMU is off. Enable VT-d/AMD-Vi in "
                        f"the firmware and boot with intel_iommu=on (or amd_iommu=on) iommu=pt")
    driver = dev / "driver"
    bound = os.path.basename(os.readlink(driver)) if driver.is_symlink() else None
    if bound != "vfio-pci":
        raise VfioError(f"PCI device {bdf} is bound to {bound or 'no driver'}, not vfio-pci: "
                        f"`modprobe vfio-pci; echo vfio-pci > {dev}/driver_override; "
                        f"echo {bdf} > /sys/bus/pci/drivers_probe`")
    return int(os.path.basename(os.readlink(link)))


def _ioctl(fd: int, name: str, arg=0, what: str = ""):
    try:
        return fcntl.ioctl(fd, IOCTLS[name], arg)
    except OSError as exc:
        raise VfioError(f"{name} failed{' (' + what + ')' if what else ''}: {exc.strerror}") from None


class VfioDevice(Device):
    """A ringgate board on this machine, through VFIO.

    >>> dev = VfioDevice("0000:01:00.0")        # doctest: +SKIP
    >>> consumer = RingConsumer.open(dev, 1 << 16, callback=handle)
    """

    def __init__(self, bdf: str, *, sysfs: str | os.PathLike = "/sys", devdir: str | os.PathLike = "/dev",
                 iova_base: int = 1 << 32, reset: bool = False):
        self.bdf = bdf
        self._fds: list[int] = []
        self._maps: list[tuple[int, int]] = []
        self._buffers: list[mmap.mmap] = []
        self._bar: MmioBar | None = None
        self._next_iova = iova_base
        try:
            self._setup(sysfs, Path(devdir), reset)
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, bdf: str | None = None, **kw) -> "VfioDevice":
        """The ``linux`` backend of :func:`ringgate.sw.driver.open_device`: the board at PCI
        address ``bdf``, or ``RINGGATE_VFIO_BDF``."""
        bdf = bdf or os.environ.get("RINGGATE_VFIO_BDF")
        if not bdf:
            raise DeviceError("linux backend: give the board's PCI address (bdf=, or set "
                              "RINGGATE_VFIO_BDF, e.g. 0000:01:00.0)")
        return cls(bdf, **kw)

    def _setup(self, sysfs, devdir: Path, reset: bool) -> None:
        group = find_group(self.bdf, sysfs)
        self.container = _open(str(devdir / "vfio/vfio"), "VFIO container",
                               "load the driver with `modprobe vfio-pci`")
        self._fds.append(self.container)
        version = _ioctl(self.container, "VFIO_GET_API_VERSION")
        if version != VFIO_API_VERSION:
            raise VfioError(f"VFIO API version {version}, this driver speaks {VFIO_API_VERSION}")
        if not _ioctl(self.container, "VFIO_CHECK_EXTENSION", VFIO_TYPE1v2_IOMMU):
            raise VfioError("the kernel's VFIO has no Type1 v2 IOMMU support (vfio_iommu_type1 not loaded?)")
        self.group = _open(str(devdir / f"vfio/{group}"), f"VFIO group {group}",
                           f"is {self.bdf} bound to vfio-pci? (`ls {devdir}/vfio`)")
        self._fds.append(self.group)
        status = vfio_group_status(argsz=ctypes.sizeof(vfio_group_status))
        _ioctl(self.group, "VFIO_GROUP_GET_STATUS", status)
        if not status.flags & VFIO_GROUP_FLAGS_VIABLE:
            members = sorted(p.name for p in (Path(sysfs) / f"kernel/iommu_groups/{group}/devices").iterdir())
            raise VfioError(f"IOMMU group {group} is not viable: every device in it must be bound to "
                            f"vfio-pci (or no driver): {', '.join(members)}")
        _ioctl(self.group, "VFIO_GROUP_SET_CONTAINER", ctypes.c_int(self.container), "attach group")
        _ioctl(self.container, "VFIO_SET_IOMMU", VFIO_TYPE1v2_IOMMU)
        try:
            self.device_fd = fcntl.ioctl(self.group, VFIO_GROUP_GET_DEVICE_FD,
                                         ctypes.create_string_buffer(self.bdf.encode()))
        except OSError as exc:
            raise VfioError(f"cannot get VFIO device fd for {self.bdf}: {exc.strerror}") from None
        self._fds.append(self.device_fd)
        info = vfio_device_info(argsz=ctypes.sizeof(vfio_device_info))
        _ioctl(self.device_fd, "VFIO_DEVICE_GET_INFO", info)
        if not info.flags & VFIO_DEVICE_FLAGS_PCI:
            raise VfioError(f"{self.bdf} is not a vfio-pci device")
        if reset and info.flags & VFIO_DEVICE_FLAGS_RESET:
            _ioctl(self.device_fd, "VFIO_DEVICE_RESET")
        bar = self._region(VFIO_PCI_BAR0_REGION_INDEX)
        if bar.size < BAR0_SIZE:
            raise VfioError(f"BAR0 of {self.bdf} is {bar.size} bytes; the register map needs {BAR0_SIZE}: "
                            f"wrong bitstream?")
        if not bar.flags & VFIO_REGION_INFO_FLAG_MMAP:
            raise VfioError(f"BAR0 of {self.bdf} cannot be mmapped")
        mm = mmap.mmap(self.device_fd, bar.size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE,
                       offset=bar.offset)
        self._bar = MmioBar(mm)
        self._enable()

    def _enable(self) -> None:
        """Memory Space and Bus Master on, through the VFIO config region."""
        cfg = self._region(VFIO_PCI_CONFIG_REGION_INDEX)
        cmd = int.from_bytes(os.pread(self.device_fd, 2, cfg.offset + PCI_COMMAND), "little")
        cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER
        os.pwrite(self.device_fd, cmd.to_bytes(2, "little"), cfg.offset + PCI_COMMAND)

    def recover(self) -> None:
        """The function was reset behind the kernel's back (PERST#, link down, FPGA reload): its
        BARs and command register are at their reset values, so BAR0 reads return all ones even
        once it is back. Writing Memory Space enable through the VFIO config region makes
        vfio-pci restore the BARs it saved when it sees them changed (``vfio_bar_restore`` in
        drivers/vfio/pci/vfio_pci_config.c); Bus Master goes back on with it."""
        self._enable()

    def _region(self, index: int) -> vfio_region_info:
        reg = vfio_region_info(argsz=ctypes.sizeof(vfio_region_info), index=index)
        _ioctl(self.device_fd, "VFIO_DEVICE_GET_REGION_INFO", reg, f"region {index}")
        return reg

    def read32(self, offset: int) -> int:
        return self._bar.read32(offset)

    def write32(self, offset: int, value: int) -> None:
        self._bar.write32(offset, value)

    def config(self, nbytes: int = 256) -> bytes:
        """The first ``nbytes`` of the function's configuration space (through the VFIO config
        region: complete, unlike sysfs's ``config`` for a user without CAP_SYS_ADMIN)."""
        cfg = self._region(VFIO_PCI_CONFIG_REGION_INDEX)
        return os.pread(self.device_fd, min(nbytes, cfg.size), cfg.offset)

    def alloc(self, nbytes: int) -> DmaBuffer:
        mem, huge = anonymous_buffer(nbytes, hugepage=True)
        if not huge:
            warnings.warn("no 2 MiB huge pages (vm.nr_hugepages = 0): DMA buffer uses 4 KiB pages",
                          RuntimeWarning, stacklevel=2)
        addr = ctypes.addressof(ctypes.c_char.from_buffer(mem))
        iova = self._next_iova
        m = vfio_iommu_type1_dma_map(argsz=ctypes.sizeof(vfio_iommu_type1_dma_map),
                                     flags=VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
                                     vaddr=addr, iova=iova, size=len(mem))
        try:
            fcntl.ioctl(self.container, VFIO_IOMMU_MAP_DMA, m)
        except OSError as exc:
            size = len(mem)
            mem.close()
            hint = " (locked-memory limit: raise `ulimit -l`)" if exc.errno == errno.ENOMEM else ""
            raise VfioError(f"VFIO_IOMMU_MAP_DMA of {size} bytes failed: {exc.strerror}{hint}") from None
        self._maps.append((iova, len(mem)))
        self._buffers.append(mem)
        self._next_iova += -(-len(mem) // HUGE_PAGE) * HUGE_PAGE
        return DmaBuffer(iova, memoryview(mem)[:nbytes], huge, [mem])

    def close(self) -> None:
        for iova, size in self._maps:
            u = vfio_iommu_type1_dma_unmap(argsz=ctypes.sizeof(vfio_iommu_type1_dma_unmap), iova=iova, size=size)
            try:
                fcntl.ioctl(self.container, VFIO_IOMMU_UNMAP_DMA, u)
            except OSError:
                pass
        self._maps.clear()
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        for fd in reversed(self._fds):
            os.close(fd)
        self._fds.clear()


class BarDevice(Device):
    """A device whose BAR0 is any :class:`MmioBar` (e.g. a :class:`FileBar`) and whose DMA
    buffers are plain memory at caller-chosen bus addresses: for tools and tests of the BAR path."""

    def __init__(self, bar: MmioBar, *, bus_base: int = 1 << 32):
        self._bar = bar
        self._next_bus = bus_base

    def read32(self, offset: int) -> int:
        return self._bar.read32(offset)

    def write32(self, offset: int, value: int) -> None:
        self._bar.write32(offset, value)

    def alloc(self, nbytes: int) -> DmaBuffer:
        mem, huge = anonymous_buffer(nbytes, hugepage=False)
        bus = self._next_bus
        self._next_bus += -(-len(mem) // HUGE_PAGE) * HUGE_PAGE
        return DmaBuffer(bus, memoryview(mem)[:nbytes], huge, [mem])

    def close(self) -> None:
        self._bar.close()
