"""A PCI function on Linux as ``lspci`` sees it: identity, driver, IOMMU group and link from
sysfs, and what the PCI Express capability of its configuration space says (negotiated
Max_Payload_Size and Max_Read_Request_Size, link speed and width).

Register layouts are the PCI Express Base Specification's (capability ID 10h: Device
Capabilities at +04h, Device Control at +08h, Link Capabilities at +0Ch, Link Status at +12h);
sysfs attributes are the kernel's (Documentation/ABI/testing/sysfs-bus-pci).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PciFunction", "PcieCapability", "find_functions", "sysfs_function", "LINK_SPEEDS"]

# Link Speeds encoding (LnkCap / LnkSta bits 3:0): index into the Supported Link Speeds vector
LINK_SPEEDS = {1: 2.5, 2: 5.0, 3: 8.0, 4: 16.0, 5: 32.0, 6: 64.0}
PCI_CAP_ID_EXP = 0x10
PCI_STATUS_CAP_LIST = 1 << 4


@dataclass(frozen=True)
class PcieCapability:
    """The fields of a function's PCI Express capability a probe reports.

    Members
    -------
    offset : where the capability sits in configuration space.
    max_payload_supported : bytes the function can take (Device Capabilities 2:0).
    max_payload, max_read_request : bytes the system negotiated (Device Control 7:5, 14:12).
    link_speed_gts, link_width : the link as trained (Link Status 3:0, 9:4).
    max_link_speed_gts, max_link_width : what the function offers (Link Capabilities).
    """
    offset: int
    max_payload_supported: int
    max_payload: int
    max_read_request: int
    link_speed_gts: float | None
    link_width: int
    max_link_speed_gts: float | None
    max_link_width: int

    @classmethod
    def parse(cls, config: bytes) -> "PcieCapability":
        """Walk the capability list of a configuration-space dump (64 bytes are not enough:
        the capability is usually beyond them; read 256)."""
        if len(config) < 0x40:
            raise ValueError(f"configuration space of {len(config)} bytes: need at least 64")
        u8 = lambda off: config[off]                                      # noqa: E731
        u16 = lambda off: int.from_bytes(config[off:off + 2], "little")   # noqa: E731
        u32 = lambda off: int.from_bytes(config[off:off + 4], "little")   # noqa: E731
        if not u16(0x06) & PCI_STATUS_CAP_LIST:
            raise ValueError("the function has no capability list (Status bit 4 clear)")
        ptr, seen = u8(0x34) & 0xFC, set()
        while ptr:
            if ptr in seen or ptr + 0x14 > len(config):
                raise ValueError(f"capability list broken or beyond the {len(config)} bytes read (at {ptr:#x}): "
                                 f"read the whole configuration space (as root, or through VFIO)")
            seen.add(ptr)
            if u8(ptr) == PCI_CAP_ID_EXP:
                devcap, devctl = u32(ptr + 0x04), u16(ptr + 0x08)
                lnkcap, lnksta = u32(ptr + 0x0C), u16(ptr + 0x12)
                return cls(offset=ptr,
                           max_payload_supported=128 << (devcap & 0x7),
                           max_payload=128 << ((devctl >> 5) & 0x7),
                           max_read_request=128 << ((devctl >> 12) & 0x7),
                           link_speed_gts=LINK_SPEEDS.get(lnksta & 0xF),
                           link_width=(lnksta >> 4) & 0x3F,
                           max_link_speed_gts=LINK_SPEEDS.get(lnkcap & 0xF),
                           max_link_width=(lnkcap >> 4) & 0x3F)
            ptr = u8(ptr + 1) & 0xFC
        raise ValueError("the function has no PCI Express capability")


@dataclass(frozen=True)
class PciFunction:
    """What sysfs says about a PCI function."""
    bdf: str
    vendor: int
    device: int
    subsystem_vendor: int
    subsystem: int
    class_code: int
    revision: int
    driver: str | None
    iommu_group: int | None
    current_link_speed: str | None
    current_link_width: int | None
    max_link_speed: str | None
    max_link_width: int | None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (FileNotFoundError, PermissionError, OSError):
        return None


def _hex(path: Path) -> int | None:
    v = _read(path)
    return int(v, 16) if v is not None else None


def _int(path: Path) -> int | None:
    v = _read(path)
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


def sysfs_function(bdf: str, sysfs: str | os.PathLike = "/sys") -> PciFunction:
    """The function at ``bdf`` (``0000:01:00.0``) from ``/sys/bus/pci/devices``."""
    dev = Path(sysfs) / "bus/pci/devices" / bdf
    if not dev.exists():
        raise FileNotFoundError(f"no PCI device {bdf} (expected {dev})")
    link = lambda name: os.path.basename(os.readlink(dev / name)) if (dev / name).is_symlink() else None  # noqa: E731
    group = link("iommu_group")
    return PciFunction(
        bdf=bdf, vendor=_hex(dev / "vendor"), device=_hex(dev / "device"),
        subsystem_vendor=_hex(dev / "subsystem_vendor"), subsystem=_hex(dev / "subsystem_device"),
        class_code=_hex(dev / "class"), revision=_hex(dev / "revision"),
        driver=link("driver"), iommu_group=int(group) if group is not None else None,
        current_link_speed=_read(dev / "current_link_speed"), current_link_width=_int(dev / "current_link_width"),
        max_link_speed=_read(dev / "max_link_speed"), max_link_width=_int(dev / "max_link_width"))


def find_functions(vendor: int, device: int, sysfs: str | os.PathLike = "/sys") -> list[str]:
    """Addresses of the functions with these IDs, in bus order."""
    root = Path(sysfs) / "bus/pci/devices"
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir()
                  if _hex(d / "vendor") == vendor and _hex(d / "device") == device)
