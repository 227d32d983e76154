"""A machine with a ringgate board bound to vfio-pci, faked: a sysfs tree and the VFIO kernel
interface (container, group and device file descriptors, the ioctls the driver issues, the BAR
mmap and the configuration-space region), so the linux backend runs its real code path.

The fake is strict where the kernel is: ioctls on the wrong fd, a group used before it is
attached, an IOMMU type set twice, a region index that does not exist, an argsz that is not the
struct's size all fail as the kernel fails them (EINVAL/EBADF), and every call is logged.
"""
from __future__ import annotations

import ctypes
import errno
import mmap
import os
from pathlib import Path

from ringgate.contracts.pcie import PCI_IDENTITY
from ringgate.contracts.regmap import BAR0_SIZE, ID_VALUE, REGMAP, VERSION_VALUE
from ringgate.sw.driver import vfio

CONFIG_SIZE = 4096
PCIE_CAP = 0x70


def config_space(*, mps: int = 256, mps_supported: int = 1024, speed: int = 3, width: int = 8,
                 max_speed: int = 3, max_width: int = 8, mrrs: int = 512) -> bytearray:
    """Type 0 configuration space with a capability list: PM at 40h, MSI at 50h, PCI Express at 70h."""
    c = bytearray(CONFIG_SIZE)
    c[0:2] = PCI_IDENTITY.vendor.to_bytes(2, "little")
    c[2:4] = PCI_IDENTITY.device.to_bytes(2, "little")
    c[0x06:0x08] = (1 << 4).to_bytes(2, "little")             # Status: capabilities list
    c[0x08] = PCI_IDENTITY.revision
    c[0x09:0x0C] = PCI_IDENTITY.class_code.to_bytes(3, "little")
    c[0x34] = 0x40
    c[0x40:0x42] = bytes([0x01, 0x50])                       # PM -> MSI
    c[0x50:0x52] = bytes([0x05, PCIE_CAP])                   # MSI -> PCIe
    c[PCIE_CAP:PCIE_CAP + 2] = bytes([0x10, 0x00])           # PCI Express, end of list
    code = {128: 0, 256: 1, 512: 2, 1024: 3, 2048: 4, 4096: 5}
    c[PCIE_CAP + 4:PCIE_CAP + 8] = code[mps_supported].to_bytes(4, "little")
    c[PCIE_CAP + 8:PCIE_CAP + 10] = (code[mps] << 5 | code[mrrs] << 12).to_bytes(2, "little")
    c[PCIE_CAP + 0xC:PCIE_CAP + 0x10] = (max_speed | max_width << 4).to_bytes(4, "little")
    c[PCIE_CAP + 0x12:PCIE_CAP + 0x14] = (speed | width << 4).to_bytes(2, "little")
    return c


def status_word(mps_code: int) -> int:
    """A STATUS value reporting max payload code ``mps_code``."""
    return REGMAP["STATUS"].pack(MPS=mps_code)


def sysfs_tree(root: Path, bdf: str = "0000:01:00.0", *, group: int = 7, driver: str | None = "vfio-pci",
               vendor: int = PCI_IDENTITY.vendor, device: int = PCI_IDENTITY.device,
               class_code: int = PCI_IDENTITY.class_code, speed: str = "8.0 GT/s PCIe", width: int = 8,
               others: tuple[str, ...] = ()) -> Path:
    """``root/sys`` with the function at ``bdf`` (and ``others``, devices of other vendors)."""
    sysfs = root / "sys"
    for b, (v, d, cls) in [(bdf, (vendor, device, class_code)), *((o, (0x8086, 0x1533, 0x020000)) for o in others)]:
        dev = sysfs / "bus/pci/devices" / b
        dev.mkdir(parents=True)
        for name, value in (("vendor", f"{v:#06x}"), ("device", f"{d:#06x}"), ("class", f"{cls:#08x}"),
                            ("subsystem_vendor", "0x10ee"), ("subsystem_device", "0x90c8"),
                            ("revision", f"{PCI_IDENTITY.revision:#04x}"), ("current_link_speed", speed),
                            ("current_link_width", str(width)), ("max_link_speed", "8.0 GT/s PCIe"),
                            ("max_link_width", "16")):
            (dev / name).write_text(value + "\n")
        if b == bdf:
            groups = sysfs / "kernel/iommu_groups" / str(group) / "devices"
            groups.mkdir(parents=True)
            os.symlink(dev, groups / b)
            os.symlink(groups.parent, dev / "iommu_group")
            if driver:
                drv = sysfs / "bus/pci/drivers" / driver
                drv.mkdir(parents=True, exist_ok=True)
                os.symlink(drv, dev / "driver")
    return sysfs


class FakeVfio:
    """The kernel side of VFIO for one device. Install with :meth:`install` (monkeypatch)."""

    BAR0_OFFSET = 0
    CONFIG_OFFSET = 7 << 40          # vfio-pci puts region i at i << 40 (VFIO_PCI_INDEX_TO_OFFSET)

    def __init__(self, devdir: Path, bdf: str = "0000:01:00.0", *, group: int = 7, bar_size: int = BAR0_SIZE,
                 config: bytearray | None = None, viable: bool = True, mps_code: int = 1, caps: int = 256 | 10 << 16):
        self.devdir, self.bdf, self.group, self.viable = devdir, bdf, group, viable
        self.bar_size = bar_size
        self.config = config if config is not None else config_space()
        self.bar = mmap.mmap(-1, max(bar_size, mmap.PAGESIZE))
        words = memoryview(self.bar).cast("I")
        words[REGMAP["ID"].offset // 4] = ID_VALUE
        words[REGMAP["VERSION"].offset // 4] = VERSION_VALUE
        words[REGMAP["CAPS"].offset // 4] = caps
        words[REGMAP["STATUS"].offset // 4] = status_word(mps_code)
        words.release()
        self.log: list[str] = []
        self.fds: dict[int, str] = {}
        self.container_set = False
        self.iommu_set = False
        self.maps: dict[int, int] = {}
        self.map_errno = 0                # fail VFIO_IOMMU_MAP_DMA with this errno (e.g. ENOMEM)
        self._bar_saved: bytes | None = None
        (devdir / "vfio").mkdir(parents=True, exist_ok=True)
        for name in ("vfio", str(group)):
            (devdir / "vfio" / name).touch()

    def install(self, monkeypatch):
        real_open, real_ioctl, real_mmap = os.open, vfio.fcntl.ioctl, vfio.mmap.mmap
        real_pread, real_pwrite = os.pread, os.pwrite
        vdir = str(self.devdir / "vfio")

        def fake_open(path, flags, mode=0o777, **kw):
            fd = real_open(path, flags, mode, **kw)
            if str(path).startswith(vdir + "/"):
                self.fds[fd] = "container" if str(path).endswith("/vfio") else "group"
                self.log.append(f"open {self.fds[fd]}")
            return fd

        def fake_ioctl(fd, request, arg=0, *a):
            if fd not in self.fds:
                return real_ioctl(fd, request, arg, *a)
            name = next(k for k, v in vfio.IOCTLS.items() if v == request)
            self.log.append(name)
            return self._ioctl(fd, name, arg)

        def fake_mmap(fd, length, *a, **kw):
            if fd in self.fds and self.fds[fd] == "device":
                if kw.get("offset", 0) != self.BAR0_OFFSET or length > self.bar_size:
                    raise OSError(errno.EINVAL, "bad BAR mapping")
                self.log.append("mmap BAR0")
                return self.bar
            return real_mmap(fd, length, *a, **kw)

        def fake_pread(fd, n, offset):
            if self.fds.get(fd) == "device":
                off = offset - self.CONFIG_OFFSET
                return bytes(self.config[off:off + n])
            return real_pread(fd, n, offset)

        def fake_pwrite(fd, data, offset):
            if self.fds.get(fd) == "device":
                off = offset - self.CONFIG_OFFSET
                self.config[off:off + len(data)] = data
                self.log.append(f"config write {off:#x}={bytes(data).hex()}")
                if off == 4 and data[0] & 0b10 and self._bar_saved is not None:
                    # vfio-pci: Memory Space enabled on a function whose BARs changed behind its
                    # back -> vfio_bar_restore; the BAR decodes again
                    self.bar[:len(self._bar_saved)] = self._bar_saved
                    self._bar_saved = None
                    self.log.append("BAR restore")
                return len(data)
            return real_pwrite(fd, data, offset)

        monkeypatch.setattr(vfio.os, "open", fake_open)
        monkeypatch.setattr(vfio.fcntl, "ioctl", fake_ioctl)
        monkeypatch.setattr(vfio.mmap, "mmap", fake_mmap)
        monkeypatch.setattr(vfio.os, "pread", fake_pread)
        monkeypatch.setattr(vfio.os, "pwrite", fake_pwrite)
        return self

    def _struct(self, arg, cls):
        if not isinstance(arg, cls):
            raise OSError(errno.EINVAL, f"expected struct {cls.__name__}")
        if arg.argsz != ctypes.sizeof(cls):
            raise OSError(errno.EINVAL, "argsz")
        return arg

    def _ioctl(self, fd, name, arg):
        kind = self.fds[fd]
        if kind == "container":
            if name == "VFIO_GET_API_VERSION":
                return 0
            if name == "VFIO_CHECK_EXTENSION":
                return 1 if arg == vfio.VFIO_TYPE1v2_IOMMU else 0
            if name == "VFIO_SET_IOMMU":
                if not self.container_set or self.iommu_set:
                    raise OSError(errno.EINVAL, "no group attached, or IOMMU already set")
                self.iommu_set = True
                return 0
            if name == "VFIO_IOMMU_MAP_DMA":
                m = self._struct(arg, vfio.vfio_iommu_type1_dma_map)
                if self.map_errno:
                    raise OSError(self.map_errno, os.strerror(self.map_errno))
                if not self.iommu_set or m.iova in self.maps:
                    raise OSError(errno.EINVAL, "map")
                self.maps[m.iova] = m.size
                return 0
            if name == "VFIO_IOMMU_UNMAP_DMA":
                m = self._struct(arg, vfio.vfio_iommu_type1_dma_unmap)
                if self.maps.pop(m.iova, None) != m.size:
                    raise OSError(errno.EINVAL, "unmap")
                return 0
        elif kind == "group":
            if name == "VFIO_GROUP_GET_STATUS":
                s = self._struct(arg, vfio.vfio_group_status)
                s.flags = (vfio.VFIO_GROUP_FLAGS_VIABLE if self.viable else 0) | \
                          (vfio.VFIO_GROUP_FLAGS_CONTAINER_SET if self.container_set else 0)
                return 0
            if name == "VFIO_GROUP_SET_CONTAINER":
                if self.fds.get(arg.value) != "container":
                    raise OSError(errno.EBADF, "not a container")
                self.container_set = True
                return 0
            if name == "VFIO_GROUP_GET_DEVICE_FD":
                if not self.iommu_set:
                    raise OSError(errno.EINVAL, "IOMMU not set")
                if arg.value.decode() != self.bdf:
                    raise OSError(errno.ENODEV, "no such device")
                fd = os.dup(fd)
                self.fds[fd] = "device"
                return fd
        elif kind == "device":
            if name == "VFIO_DEVICE_GET_INFO":
                info = self._struct(arg, vfio.vfio_device_info)
                info.flags = vfio.VFIO_DEVICE_FLAGS_PCI | vfio.VFIO_DEVICE_FLAGS_RESET
                info.num_regions = 9
                return 0
            if name == "VFIO_DEVICE_GET_REGION_INFO":
                r = self._struct(arg, vfio.vfio_region_info)
                if r.index == vfio.VFIO_PCI_BAR0_REGION_INDEX:
                    r.size, r.offset = self.bar_size, self.BAR0_OFFSET
                    r.flags = vfio.VFIO_REGION_INFO_FLAG_READ | vfio.VFIO_REGION_INFO_FLAG_WRITE | \
                        vfio.VFIO_REGION_INFO_FLAG_MMAP
                elif r.index == vfio.VFIO_PCI_CONFIG_REGION_INDEX:
                    r.size, r.offset = len(self.config), self.CONFIG_OFFSET
                    r.flags = vfio.VFIO_REGION_INFO_FLAG_READ | vfio.VFIO_REGION_INFO_FLAG_WRITE
                else:
                    raise OSError(errno.EINVAL, "region")
                return 0
            if name == "VFIO_DEVICE_RESET":
                return 0
        raise OSError(errno.ENOTTY, f"{name} on a {kind} fd")

    def backdoor_reset(self) -> None:
        """PERST# / link down behind the kernel's back: the function's BARs and command register
        are at their reset values, so BAR0 reads return all ones until vfio-pci restores them."""
        self._bar_saved = bytes(self.bar[:self.bar_size])
        self.bar[:self.bar_size] = b"\xff" * self.bar_size
        self.config[4:6] = b"\0\0"
        self.log.append("backdoor reset")

    @property
    def command(self) -> int:
        return int.from_bytes(self.config[4:6], "little")

