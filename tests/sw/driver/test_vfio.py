"""The VFIO backend as far as it runs without a board: kernel ABI numbers and layouts, the
error messages on a machine that is not set up, and the BAR path through a file-backed BAR."""
from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ringgate.sw.driver import vfio
from ringgate.sw.driver.regs import REGMAP, ID_VALUE, Registers
from ringgate.sw.driver.vfio import BarDevice, FileBar, VfioDevice, VfioError, find_group

HEADER = Path("/usr/include/linux/vfio.h")

# Kernel ABI (include/uapi/linux/vfio.h, stable since Linux 3.6): _IO(';', 100 + n) and
# the sizes/offsets of the structs, as x86-64 / arm64 compilers lay them out.
KNOWN_IOCTLS = {
    "VFIO_GET_API_VERSION": 0x3B64, "VFIO_CHECK_EXTENSION": 0x3B65, "VFIO_SET_IOMMU": 0x3B66,
    "VFIO_GROUP_GET_STATUS": 0x3B67, "VFIO_GROUP_SET_CONTAINER": 0x3B68,
    "VFIO_GROUP_UNSET_CONTAINER": 0x3B69, "VFIO_GROUP_GET_DEVICE_FD": 0x3B6A,
    "VFIO_DEVICE_GET_INFO": 0x3B6B, "VFIO_DEVICE_GET_REGION_INFO": 0x3B6C, "VFIO_DEVICE_RESET": 0x3B6F,
    "VFIO_IOMMU_GET_INFO": 0x3B70, "VFIO_IOMMU_MAP_DMA": 0x3B71, "VFIO_IOMMU_UNMAP_DMA": 0x3B72,
}
KNOWN_SIZES = {"vfio_group_status": 8, "vfio_device_info": 20, "vfio_region_info": 32,
               "vfio_iommu_type1_dma_map": 32, "vfio_iommu_type1_dma_unmap": 24}


def test_driver_vfio_ioctls_match_the_abi_table():
    assert vfio.IOCTLS == KNOWN_IOCTLS
    assert {k: ctypes.sizeof(v) for k, v in vfio.STRUCTS.items()} == KNOWN_SIZES
    assert vfio.vfio_region_info.size.offset == 16 and vfio.vfio_region_info.offset.offset == 24
    assert vfio.vfio_iommu_type1_dma_map.vaddr.offset == 8 and vfio.vfio_iommu_type1_dma_map.iova.offset == 16
    assert vfio.VFIO_TYPE1v2_IOMMU == 3 and vfio.VFIO_PCI_CONFIG_REGION_INDEX == 7


@pytest.mark.skipif(not HEADER.exists(), reason="no kernel uapi headers on this machine")
def test_driver_vfio_ioctls_match_the_kernel_header_text():
    text = HEADER.read_text()
    base = int(re.search(r"#define VFIO_BASE\s+(\d+)", text).group(1))
    assert re.search(r"#define VFIO_TYPE\s+\(';'\)", text)
    for name, value in vfio.IOCTLS.items():
        m = re.search(rf"#define {name}\s+_IO\(VFIO_TYPE, VFIO_BASE \+ (\d+)\)", text)
        assert m, name
        assert value == (ord(";") << 8) | (base + int(m.group(1))), name
    for name in ("VFIO_TYPE1v2_IOMMU", "VFIO_GROUP_FLAGS_VIABLE", "VFIO_DEVICE_FLAGS_PCI",
                 "VFIO_REGION_INFO_FLAG_MMAP", "VFIO_DMA_MAP_FLAG_READ", "VFIO_DMA_MAP_FLAG_WRITE"):
        m = re.search(rf"#define {name}\s+\(?(\d+)(?: << (\d+)\))?", text)
        assert m, name
        value = int(m.group(1)) << int(m.group(2) or 0)
        assert getattr(vfio, name) == value, name


@pytest.mark.skipif(not HEADER.exists() or shutil.which("cc") is None,
                    reason="needs a C compiler and the kernel uapi headers")
def test_driver_vfio_layouts_match_the_compiler(tmp_path):
    """sizeof/offsetof from the C compiler against the ctypes structs, ioctl numbers from the
    kernel's own macros."""
    lines = ["#include <stdio.h>", "#include <stddef.h>", "#include <linux/vfio.h>", "int main(void){"]
    for name in vfio.IOCTLS:
        lines.append(f'printf("{name} %lu\\n", (unsigned long){name});')
    for sname, cls in vfio.STRUCTS.items():
        lines.append(f'printf("sizeof.{sname} %zu\\n", sizeof(struct {sname}));')
        for fname, _ in cls._fields_:
            lines.append(f'printf("offsetof.{sname}.{fname} %zu\\n", offsetof(struct {sname}, {fname}));')
    lines.append("return 0;}")
    src = tmp_path / "abi.c"
    src.write_text("\n".join(lines))
    subprocess.run(["cc", "-o", str(tmp_path / "abi"), str(src)], check=True, capture_output=True)
    out = dict(line.split() for line in subprocess.run([str(tmp_path / "abi")], check=True,
                                                        capture_output=True, text=True).stdout.splitlines())
    for name, value in vfio.IOCTLS.items():
        assert int(out[name]) == value, name
    for sname, cls in vfio.STRUCTS.items():
        assert int(out[f"sizeof.{sname}"]) == ctypes.sizeof(cls), sname
        for fname, _ in cls._fields_:
            assert int(out[f"offsetof.{sname}.{fname}"]) == getattr(cls, fname).offset, (sname, fname)


def fake_sysfs(tmp_path, bdf="0000:01:00.0", *, group=7, driver="vfio-pci", iommu=True):
    dev = tmp_path / "sys/bus/pci/devices" / bdf
    dev.mkdir(parents=True)
    groups = tmp_path / "sys/kernel/iommu_groups"
    (groups / str(group) / "devices").mkdir(parents=True)
    if iommu:
        os.symlink(groups / str(group), dev / "iommu_group")
    if driver:
        drv = tmp_path / "sys/bus/pci/drivers" / driver
        drv.mkdir(parents=True)
        os.symlink(drv, dev / "driver")
    return tmp_path / "sys"


def test_driver_vfio_missing_device(tmp_path):
    sysfs = fake_sysfs(tmp_path)
    with pytest.raises(VfioError, match=r"no PCI device 0000:02:00.0 .*lspci"):
        find_group("0000:02:00.0", sysfs)


def test_driver_vfio_no_iommu_group(tmp_path):
    sysfs = fake_sysfs(tmp_path, iommu=False)
    with pytest.raises(VfioError, match="no IOMMU group: the IOMMU is off.*intel_iommu=on"):
        find_group("0000:01:00.0", sysfs)


@pytest.mark.parametrize("driver", [None, "xdma"])
def test_driver_vfio_not_bound_to_vfio_pci(tmp_path, driver):
    sysfs = fake_sysfs(tmp_path, driver=driver)
    with pytest.raises(VfioError, match=f"bound to {driver or 'no driver'}, not vfio-pci.*driver_override"):
        find_group("0000:01:00.0", sysfs)


def test_driver_vfio_group_number(tmp_path):
    assert find_group("0000:01:00.0", fake_sysfs(tmp_path, group=42)) == 42


def test_driver_vfio_missing_container(tmp_path):
    sysfs = fake_sysfs(tmp_path)
    (tmp_path / "dev").mkdir()
    with pytest.raises(VfioError, match=r"VFIO container .*/vfio/vfio does not exist: .*modprobe vfio-pci"):
        VfioDevice("0000:01:00.0", sysfs=sysfs, devdir=tmp_path / "dev")


def test_driver_vfio_permission_denied(tmp_path, monkeypatch):
    sysfs = fake_sysfs(tmp_path)

    def denied(path, flags, mode=0o777):
        raise PermissionError(13, "Permission denied", path)
    monkeypatch.setattr(vfio.os, "open", denied)
    with pytest.raises(VfioError, match="permission denied opening VFIO container.*udev rule.*ulimit -l"):
        VfioDevice("0000:01:00.0", sysfs=sysfs, devdir=tmp_path / "dev")


def test_driver_vfio_group_busy(tmp_path, monkeypatch):
    def busy(path, flags, mode=0o777):
        raise OSError(16, "Device or resource busy", path)
    monkeypatch.setattr(vfio.os, "open", busy)
    with pytest.raises(VfioError, match="busy: another process holds it"):
        vfio._open("/dev/vfio/7", "VFIO group 7", "")


@pytest.mark.skipif(not Path("/dev/vfio/vfio").exists(), reason="no VFIO on this machine")
def test_driver_vfio_container_api_version():                     # pragma: no cover - needs VFIO
    fd = os.open("/dev/vfio/vfio", os.O_RDWR)
    try:
        import fcntl
        assert fcntl.ioctl(fd, vfio.VFIO_GET_API_VERSION) == vfio.VFIO_API_VERSION
    finally:
        os.close(fd)


def test_driver_file_backed_bar_uses_contract_offsets(tmp_path):
    path = tmp_path / "bar0"
    bar = FileBar(path)
    dev = BarDevice(bar)
    dev.write("RING_BASE", 0x1_2345_6000)
    dev.write("RING_SIZE", 1024)
    dev.write("DOORBELL", (7 << 32) | 9)
    raw = path.read_bytes()
    assert len(raw) == 4096
    off = REGMAP["RING_BASE"].offset
    assert int.from_bytes(raw[off:off + 8], "little") == 0x1_2345_6000
    off = REGMAP["RING_SIZE"].offset
    assert int.from_bytes(raw[off:off + 4], "little") == 1024
    assert dev.read("DOORBELL") == (7 << 32) | 9
    # a second mapping of the same file (another process's view) sees the same registers
    other = BarDevice(FileBar(path))
    assert other.read("RING_BASE") == 0x1_2345_6000
    # the contract's enable sequence refuses a BAR that is not ringgate's
    with pytest.raises(RuntimeError, match="BAR0 ID 0x00000000 is not ringgate's"):
        dev.regs.start(0x10000, 64, 0x20000)
    (tmp_path / "bar0").write_bytes(ID_VALUE.to_bytes(4, "little") + raw[4:])
    assert Registers(FileBar(path)).read("ID") == ID_VALUE
    with pytest.raises(ValueError, match="not a 4-byte aligned offset"):
        bar.read32(2)
    with pytest.raises(ValueError, match="inside the BAR"):
        bar.write32(4096, 0)
    dev.close()
    other.close()


def test_driver_file_backed_bar_buffers():
    import mmap
    dev = BarDevice(vfio.MmioBar(mmap.mmap(-1, 4096)))
    a, b = dev.alloc(10_000), dev.alloc(100)
    assert a.bus % 4096 == 0 and b.bus >= a.bus + 10_000 and a.nbytes == 10_000
    a.array()[:] = 3
    assert bytes(a.mv[:2]) == b"\x03\x03"


def test_driver_dma_buffers_try_huge_pages_then_fall_back(monkeypatch):
    import mmap as mmap_mod

    from ringgate.sw.driver import device

    calls = []
    real = mmap_mod.mmap

    def fake(fd, size, flags=0, **kw):
        calls.append((size, flags))
        if flags & device.MAP_HUGETLB:
            raise OSError(12, "Cannot allocate memory")
        return real(fd, size, flags=flags, **kw)
    monkeypatch.setattr(device.mmap, "mmap", fake)
    mem, huge = device.anonymous_buffer(5000)
    assert not huge and len(mem) == 8192
    assert calls[0] == (2 << 20, mmap_mod.MAP_PRIVATE | mmap_mod.MAP_ANONYMOUS | 0x40000)
    assert not calls[1][1] & 0x40000


def test_driver_vfio_map_hugetlb_matches_the_kernel_header():
    header = Path("/usr/include/asm-generic/mman-common.h")
    if not header.exists():
        pytest.skip("no kernel uapi headers (asm-generic/mman-common.h) on this machine to check MAP_HUGETLB against")
    from ringgate.sw.driver.device import MAP_HUGETLB
    m = re.search(r"#define MAP_HUGETLB\s+(0x[0-9a-fA-F]+)", header.read_text())
    assert m and int(m.group(1), 16) == MAP_HUGETLB
