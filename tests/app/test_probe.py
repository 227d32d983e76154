"""``ringgate probe`` on a machine whose sysfs and VFIO are faked: the facts it prints and every
mismatch it must report (wrong bitstream, narrow link, MPS disagreement, not bound to VFIO)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from ringgate.app.cli import main
from ringgate.app.probe import decode_caps
from ringgate.contracts.datagram import COUNTER_NAMES, IngressStatus
from ringgate.contracts.regmap import REGMAP, VERSION_VALUE

from tests.sw.driver.fakevfio import FakeVfio, config_space, sysfs_tree


def run(tmp_path, *args):
    r = CliRunner().invoke(main, ["probe", "--sysfs", str(tmp_path / "sys"), "--devdir", str(tmp_path / "dev"), *args])
    return r


def test_probe_reports_a_healthy_board(tmp_path, monkeypatch):
    sysfs_tree(tmp_path, others=("0000:00:1f.6",))
    FakeVfio(tmp_path / "dev", config=config_space(mps=256, speed=3, width=8), mps_code=1).install(monkeypatch)
    r = run(tmp_path)
    assert r.exit_code == 0, r.output
    out = r.output
    assert "ringgate board at 0000:01:00.0" in out
    assert "10ee:5247 (subsystem 10ee:90c8), class 120000" in out
    assert "vfio-pci, group 7" in out
    assert f"0x52474754, register map {VERSION_VALUE >> 16}.{VERSION_VALUE & 0xFFFF}" in out
    assert "256-bit datapath, BRAM ring of 1024 entries" in out
    assert "8.0 GT/s x8 of 8.0 GT/s x8" in out
    assert "256 B negotiated (function supports 1024 B; device reports 256 B)" in out
    assert "as a ringgate bitstream should be" in out


def test_probe_json(tmp_path, monkeypatch):
    sysfs_tree(tmp_path)
    FakeVfio(tmp_path / "dev", config=config_space(mps=512), mps_code=2, caps=512 | 8 << 16).install(monkeypatch)
    r = run(tmp_path, "--json")
    facts = json.loads(r.output)
    assert facts["bar0"]["caps"] == {"datapath_bits": 512, "ring_depth": 256}
    assert facts["pcie"]["max_payload"] == facts["bar0"]["device_mps"] == 512
    # a 512-bit build is for Gen3 x16: an x8 link is reported
    assert r.exit_code == 1
    assert any("x8" in p and "Gen3 x16" in p for p in facts["problems"])


def test_probe_reports_mps_disagreement(tmp_path, monkeypatch):
    sysfs_tree(tmp_path)
    FakeVfio(tmp_path / "dev", config=config_space(mps=512), mps_code=1).install(monkeypatch)
    r = run(tmp_path)
    assert r.exit_code == 1 and "Max_Payload_Size 512 B in configuration space, but the device reports 256 B" in r.output


def test_probe_reports_a_wrong_bitstream(tmp_path, monkeypatch):
    sysfs_tree(tmp_path)
    fake = FakeVfio(tmp_path / "dev").install(monkeypatch)
    memoryview(fake.bar).cast("I")[0] = 0xDEADBEEF
    r = run(tmp_path)
    assert r.exit_code == 1 and "BAR0 ID 0xdeadbeef is not ringgate's 0x52474754: wrong bitstream?" in r.output


def test_probe_without_vfio_binding_says_how_to_bind(tmp_path):
    sysfs_tree(tmp_path, driver=None)
    r = run(tmp_path)
    assert r.exit_code == 1
    assert "10ee:5247" in r.output and "BAR0 not reachable through VFIO" in r.output
    assert "driver_override" in r.output


def test_probe_without_a_board(tmp_path):
    sysfs_tree(tmp_path, vendor=0x8086, device=0x1533)
    r = run(tmp_path)
    assert r.exit_code == 1 and "no ringgate board (10ee:5247) on the PCI bus" in r.output and "rescan" in r.output
    r = run(tmp_path, "--bdf", "0000:09:00.0")
    assert r.exit_code == 1 and "no PCI device 0000:09:00.0" in r.output


def test_decode_caps():
    assert decode_caps(256 | 10 << 16) == {"datapath_bits": 256, "ring_depth": 1024}


def _ingress(fake, *, status=0):
    words = memoryview(fake.bar).cast("I")
    words[REGMAP.offset("INGRESS_CAPS") // 4] = 16 | 4 << 8
    words[REGMAP.offset("INGRESS_STATUS") // 4] = status
    for i, name in enumerate(COUNTER_NAMES):
        words[REGMAP.offset(name) // 4] = {"FRAMES": 12, "ACCEPTED": 9}.get(name, 1 if name == "DROP_SHORT" else 0)


def test_probe_reports_the_ethernet_ingress(tmp_path, monkeypatch):
    sysfs_tree(tmp_path)
    fake = FakeVfio(tmp_path / "dev", config=config_space(mps=256, speed=3, width=8), mps_code=1).install(monkeypatch)
    _ingress(fake)
    r = run(tmp_path)
    assert r.exit_code == 0, r.output
    assert ("Ethernet ingress  16 sessions, up to 4 orders per datagram; MAC clock running; 12 frames "
            "(9 accepted, 1 dropped) since the reset") in r.output
    _ingress(FakeVfio(tmp_path / "dev", config=config_space(mps=256, speed=3, width=8), mps_code=1)
             .install(monkeypatch))
    facts = json.loads(run(tmp_path, "--json").output)
    assert facts["ingress"]["caps"] == {"sessions": 16, "max_messages": 4}
    assert facts["ingress"]["counters"]["DROP_SHORT"] == 1


def test_probe_reports_an_ingress_whose_mac_clock_is_dead(tmp_path, monkeypatch):
    sysfs_tree(tmp_path)
    fake = FakeVfio(tmp_path / "dev", config=config_space(mps=256, speed=3, width=8), mps_code=1).install(monkeypatch)
    _ingress(fake, status=int(IngressStatus.SNAPSHOT_BUSY))      # the snapshot never comes back
    r = run(tmp_path)
    assert r.exit_code == 1 and "MAC clock not running" in r.output
    assert "SNAPSHOT_BUSY never cleared" in r.output and "LED 1" in r.output
