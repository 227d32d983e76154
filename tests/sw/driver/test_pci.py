"""PCI facts of the linux backend: configuration-space decoding (PCI Express capability) and
sysfs; the VFIO device's configuration-space read, against a faked kernel."""
from __future__ import annotations

import warnings

import pytest

from ringgate.contracts.pcie import PCI_IDENTITY
from ringgate.sw.driver.pci import PcieCapability, find_functions, sysfs_function
from ringgate.sw.driver.vfio import VfioDevice

from .fakevfio import PCIE_CAP, FakeVfio, config_space, sysfs_tree


@pytest.mark.parametrize("mps,mrrs,speed,width", [(128, 512, 1, 1), (256, 512, 3, 8), (512, 4096, 3, 16),
                                                  (1024, 128, 4, 4)])
def test_pcie_capability_fields(mps, mrrs, speed, width):
    cap = PcieCapability.parse(bytes(config_space(mps=mps, mrrs=mrrs, speed=speed, width=width,
                                                  max_speed=4, max_width=16)))
    assert cap.offset == PCIE_CAP
    assert (cap.max_payload, cap.max_read_request) == (mps, mrrs)
    assert cap.link_speed_gts == {1: 2.5, 3: 8.0, 4: 16.0}[speed] and cap.link_width == width
    assert (cap.max_link_speed_gts, cap.max_link_width) == (16.0, 16)
    assert cap.max_payload_supported == 1024


def test_pcie_capability_found_by_walking_the_list():
    """Moving the capability (and pointing the previous one at it) moves what is read."""
    c = config_space(mps=512)
    c[0xA0:0xC0] = c[PCIE_CAP:PCIE_CAP + 0x20]
    c[PCIE_CAP:PCIE_CAP + 0x20] = bytes(0x20)
    c[0x51] = 0xA0
    cap = PcieCapability.parse(bytes(c))
    assert cap.offset == 0xA0 and cap.max_payload == 512


def test_pcie_capability_refusals():
    c = config_space()
    with pytest.raises(ValueError, match="at least 64"):
        PcieCapability.parse(bytes(c[:32]))
    with pytest.raises(ValueError, match="beyond the 64 bytes read.*VFIO"):
        PcieCapability.parse(bytes(c[:64]))       # what sysfs gives a user without privileges
    loop = config_space()
    loop[0x51] = 0x40                             # MSI points back at PM
    with pytest.raises(ValueError, match="broken"):
        PcieCapability.parse(bytes(loop))
    none = config_space()
    none[0x06] = 0
    with pytest.raises(ValueError, match="no capability list"):
        PcieCapability.parse(bytes(none))
    nopcie = config_space()
    nopcie[0x51] = 0
    with pytest.raises(ValueError, match="no PCI Express capability"):
        PcieCapability.parse(bytes(nopcie))


def test_sysfs_function_and_search(tmp_path):
    sysfs = sysfs_tree(tmp_path, "0000:3b:00.0", group=12, others=("0000:00:1f.6", "0000:02:00.0"))
    assert find_functions(PCI_IDENTITY.vendor, PCI_IDENTITY.device, sysfs) == ["0000:3b:00.0"]
    assert find_functions(0x1234, 0x1, sysfs) == []
    assert find_functions(PCI_IDENTITY.vendor, PCI_IDENTITY.device, tmp_path / "nothing") == []
    f = sysfs_function("0000:3b:00.0", sysfs)
    assert (f.vendor, f.device, f.class_code, f.revision) == (PCI_IDENTITY.vendor, PCI_IDENTITY.device,
                                                              PCI_IDENTITY.class_code, PCI_IDENTITY.revision)
    assert (f.subsystem_vendor, f.subsystem) == (0x10EE, 0x90C8)
    assert (f.driver, f.iommu_group) == ("vfio-pci", 12)
    assert (f.current_link_speed, f.current_link_width, f.max_link_width) == ("8.0 GT/s PCIe", 8, 16)
    with pytest.raises(FileNotFoundError, match="no PCI device 0000:05:00.0"):
        sysfs_function("0000:05:00.0", sysfs)


def test_vfio_device_setup_sequence_and_config_read(tmp_path, monkeypatch):
    """The linux backend's whole open path against the faked kernel: ioctls in the kernel's
    order, BAR0 mapped, Memory Space and Bus Master set, configuration space read."""
    sysfs = sysfs_tree(tmp_path)
    fake = FakeVfio(tmp_path / "dev", config=config_space(mps=512)).install(monkeypatch)
    dev = VfioDevice("0000:01:00.0", sysfs=sysfs, devdir=tmp_path / "dev")
    try:
        assert fake.log[:10] == ["open container", "VFIO_GET_API_VERSION", "VFIO_CHECK_EXTENSION", "open group",
                                 "VFIO_GROUP_GET_STATUS", "VFIO_GROUP_SET_CONTAINER", "VFIO_SET_IOMMU",
                                 "VFIO_GROUP_GET_DEVICE_FD", "VFIO_DEVICE_GET_INFO", "VFIO_DEVICE_GET_REGION_INFO"]
        assert "mmap BAR0" in fake.log
        assert fake.command & 0b110 == 0b110                   # Memory Space + Bus Master
        assert dev.read("ID") == 0x5247_4754
        assert dev.read("CAPS") & 0xFFFF == 256
        cap = PcieCapability.parse(dev.config())
        assert cap.max_payload == 512 and cap.link_width == 8
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)     # no huge pages on this machine
            buf = dev.alloc(8192)
        assert fake.maps == {buf.bus: 2 << 20} or fake.maps == {buf.bus: 8192}
    finally:
        dev.close()
    assert fake.maps == {}                                      # every DMA mapping undone


def test_vfio_device_refuses_a_group_that_is_not_viable(tmp_path, monkeypatch):
    sysfs = sysfs_tree(tmp_path)
    FakeVfio(tmp_path / "dev", viable=False).install(monkeypatch)
    with pytest.raises(Exception, match="group 7 is not viable.*0000:01:00.0"):
        VfioDevice("0000:01:00.0", sysfs=sysfs, devdir=tmp_path / "dev")


def test_vfio_device_refuses_a_small_bar(tmp_path, monkeypatch):
    sysfs = sysfs_tree(tmp_path)
    FakeVfio(tmp_path / "dev", bar_size=1024).install(monkeypatch)
    with pytest.raises(Exception, match="BAR0 of 0000:01:00.0 is 1024 bytes; the register map needs 4096"):
        VfioDevice("0000:01:00.0", sysfs=sysfs, devdir=tmp_path / "dev")


def test_vfio_device_reset_on_open_when_asked(tmp_path, monkeypatch):
    sysfs = sysfs_tree(tmp_path)
    fake = FakeVfio(tmp_path / "dev").install(monkeypatch)
    VfioDevice("0000:01:00.0", sysfs=sysfs, devdir=tmp_path / "dev", reset=True).close()
    assert fake.log.index("VFIO_DEVICE_GET_INFO") < fake.log.index("VFIO_DEVICE_RESET") < fake.log.index("mmap BAR0")


def test_vfio_dma_map_failure_names_the_locked_memory_limit(tmp_path, monkeypatch):
    import errno

    sysfs = sysfs_tree(tmp_path)
    fake = FakeVfio(tmp_path / "dev").install(monkeypatch)
    fake.map_errno = errno.ENOMEM
    with VfioDevice("0000:01:00.0", sysfs=sysfs, devdir=tmp_path / "dev") as dev, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(Exception, match="MAP_DMA .* failed.*ulimit -l"):
            dev.alloc(4096)
    assert fake.maps == {}


def test_vfio_device_recovers_a_function_reset_behind_its_back(tmp_path, monkeypatch):
    """After PERST# / a link down the BAR reads all ones; recover() enables Memory Space through
    the VFIO config region, which makes vfio-pci restore the BARs; the registers answer again."""
    sysfs = sysfs_tree(tmp_path)
    fake = FakeVfio(tmp_path / "dev").install(monkeypatch)
    with VfioDevice("0000:01:00.0", sysfs=sysfs, devdir=tmp_path / "dev") as dev:
        fake.backdoor_reset()
        assert dev.read32(0) == 0xFFFF_FFFF and fake.command == 0
        dev.recover()
        assert fake.log[-1] == "BAR restore" and fake.command & 0b110 == 0b110
        assert dev.read("ID") == 0x5247_4754


def test_linux_backend_consumer_rides_out_a_reset_behind_its_back(tmp_path, monkeypatch):
    """The ring consumer on the linux backend (faked kernel; the BAR remembers what is written):
    the health check finds the device gone (all ones), recovers it through VFIO, waits until it
    answers, and reconfigures the writer on the same ring (a new epoch)."""
    from ringgate.sw.driver.consumer import RingConsumer
    from ringgate.sw.driver.regs import Control, R

    sysfs = sysfs_tree(tmp_path)
    fake = FakeVfio(tmp_path / "dev").install(monkeypatch)
    with VfioDevice("0000:01:00.0", sysfs=sysfs, devdir=tmp_path / "dev") as dev, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        c = RingConsumer.open(dev, 64, health_every=1e-9, gone_timeout=5)
        ring = dev.read(R.RING_BASE)
        assert ring == c.ring_bus and dev.read(R.CONTROL) & Control.ENABLE
        fake.backdoor_reset()
        c.check_device()
        assert c.outages == 1 and c.epoch == 1 and c.resyncs == 1
        assert "BAR restore" in fake.log
        assert dev.read(R.RING_BASE) == ring and dev.read(R.CONTROL) & Control.ENABLE
