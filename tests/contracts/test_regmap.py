"""The BAR0 register map contract: consistency, bit fields (pack/unpack, flags, layouts),
composition from register groups, the frozen binary layout, and the generated docs tables."""
import random
from pathlib import Path

import pytest

from ringgate.contracts.regmap import (DEVICE, DMA, REGMAP, RING, VERSION_VALUE, Access, BitField, BusErrors, Control,
                                       Error, MaxPayload, Reg, RegGroup, RegisterMap, Status)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "pcie.md"

# The binary contract of register map VERSION_VALUE: (name, offset, bits, access, reset, fields as
# (name, lowest bit, width)). A change here is a change a driver can see: bump VERSION_VALUE
# (minor for additions, major otherwise) and update this table with it.
FROZEN_VERSION = 0x0001_0002
FROZEN = {
    "ID": (0x000, 32, "RO", 0x5247_4754, ()),
    "VERSION": (0x004, 32, "RO", 0x0001_0002, (("MINOR", 0, 16), ("MAJOR", 16, 16))),
    "CAPS": (0x008, 32, "RO", None, (("DATAPATH_BITS", 0, 16), ("RING_DEPTH_LOG2", 16, 8))),
    "SCRATCH": (0x00C, 32, "RW", 0, ()),
    "CONTROL": (0x010, 32, "CMD", 0, (("ENABLE", 0, 1), ("RESET", 1, 1))),
    "STATUS": (0x014, 32, "RO", None, (("ENABLED", 0, 1), ("BUSY", 1, 1), ("HOST_FULL", 2, 1),
                                       ("BUS_MASTER", 3, 1), ("CURSOR_CURRENT", 4, 1), ("MPS", 8, 3))),
    "ERROR": (0x018, 32, "W1C", 0, (("RING_BASE_UNALIGNED", 0, 1), ("RING_SIZE_INVALID", 1, 1),
                                    ("CURSOR_ADDR_UNALIGNED", 2, 1), ("CURSOR_IN_RING", 3, 1),
                                    ("LIMIT_INVALID", 4, 1), ("DOORBELL_RANGE", 5, 1),
                                    ("CONFIG_LOCKED", 6, 1), ("BAD_ACCESS", 7, 1), ("RING_WRAPS", 8, 1),
                                    ("TLP_LOST", 9, 1))),
    "BAD_ACCESSES": (0x01C, 32, "RO", 0, ()),
    "RING_BASE": (0x020, 64, "RW", 0, ()),
    "CURSOR_ADDR": (0x028, 64, "RW", 0, ()),
    "RING_SIZE": (0x030, 32, "RW", 0, ()),
    "BATCH_LIMIT": (0x034, 32, "RW", 16, ()),
    "CURSOR_INTERVAL": (0x038, 32, "RW", 1, ()),
    "DOORBELL": (0x040, 64, "RW", 0, ()),
    "HOST_CONSUMED": (0x048, 64, "RO", 0, ()),
    "PUBLISHED": (0x050, 64, "RO", 0, ()),
    "SENT": (0x058, 64, "RO", 0, ()),
    "CURSOR_WRITTEN": (0x060, 64, "RO", 0, ()),
    "CURSOR_WRITES": (0x068, 64, "RO", 0, ()),
    "DATA_TLPS": (0x070, 64, "RO", 0, ()),
    "HOST_FULL_CYCLES": (0x078, 64, "RO", 0, ()),
    "RQ_STALL_CYCLES": (0x080, 64, "RO", 0, ()),
    "RING_FULL_CYCLES": (0x088, 64, "RO", 0, ()),
    "TIMESTAMP": (0x090, 64, "RO", None, ()),
    "RING_FILL": (0x098, 32, "RO", 0, ()),
    "INGRESS_CONTROL": (0x200, 32, "CMD", 0x0, (('ENABLE', 0, 1), ('SNAPSHOT', 1, 1))),
    "INGRESS_STATUS": (0x204, 32, "RO", None, (('ENABLED', 0, 1), ('SNAPSHOT_BUSY', 1, 1))),
    "INGRESS_CAPS": (0x208, 32, "RO", None, (('SESSIONS', 0, 8), ('MAX_MESSAGES', 8, 8))),
    "UDP_PORT": (0x20c, 32, "RW", 0x0, (('PORT', 0, 16),)),
    "MAC_ADDR": (0x210, 64, "RW", 0x0, (('ADDR', 0, 48),)),
    "IP_ADDR": (0x218, 32, "RW", 0x0, ()),
    "SNAP_MAC_TIMESTAMP": (0x220, 64, "RO", 0x0, ()),
    "SNAP_TIMESTAMP": (0x228, 64, "RO", 0x0, ()),
    "FRAMES": (0x240, 32, "RO", 0x0, ()),
    "ACCEPTED": (0x244, 32, "RO", 0x0, ()),
    "ENTRIES": (0x248, 32, "RO", 0x0, ()),
    "DROP_MAC_ERROR": (0x24c, 32, "RO", 0x0, ()),
    "DROP_DISABLED": (0x250, 32, "RO", 0x0, ()),
    "DROP_SHORT": (0x254, 32, "RO", 0x0, ()),
    "DROP_DST_MAC": (0x258, 32, "RO", 0x0, ()),
    "DROP_ETHERTYPE": (0x25c, 32, "RO", 0x0, ()),
    "DROP_IP_HEADER": (0x260, 32, "RO", 0x0, ()),
    "DROP_IP_OPTIONS": (0x264, 32, "RO", 0x0, ()),
    "DROP_IP_CHECKSUM": (0x268, 32, "RO", 0x0, ()),
    "DROP_IP_FRAGMENT": (0x26c, 32, "RO", 0x0, ()),
    "DROP_PROTOCOL": (0x270, 32, "RO", 0x0, ()),
    "DROP_DST_IP": (0x274, 32, "RO", 0x0, ()),
    "DROP_DST_PORT": (0x278, 32, "RO", 0x0, ()),
    "DROP_LENGTH": (0x27c, 32, "RO", 0x0, ()),
    "DROP_UDP_CHECKSUM": (0x280, 32, "RO", 0x0, ()),
    "DROP_MAGIC": (0x284, 32, "RO", 0x0, ()),
    "DROP_COUNT": (0x288, 32, "RO", 0x0, ()),
    "DROP_COMMAND": (0x28c, 32, "RO", 0x0, ()),
    "DROP_SESSION": (0x290, 32, "RO", 0x0, ()),
    "DROP_STALE": (0x294, 32, "RO", 0x0, ()),
    "DROP_RING_FULL": (0x298, 32, "RO", 0x0, ()),
    "GAPS": (0x29c, 32, "RO", 0x0, ()),
    "GAP_DATAGRAMS": (0x2a0, 32, "RO", 0x0, ()),
    "LAST_GAP_SESSION": (0x2a4, 32, "RO", 0x0, ()),
    "LAST_GAP_FIRST": (0x2a8, 32, "RO", 0x0, ()),
    "LAST_GAP_LAST": (0x2ac, 32, "RO", 0x0, ()),
}


def test_pcie_regmap_binary_layout_is_frozen_per_version():
    got = {r.name: (r.offset, r.width, r.access.value, r.reset,
                    tuple((f.name, f.offset, f.width) for f in r.fields)) for r in REGMAP}
    if VERSION_VALUE == FROZEN_VERSION:
        assert got == FROZEN, "the register map changed: bump VERSION_VALUE and update FROZEN"
    assert Status.BUSY == 1 << 1 and Error.BAD_ACCESS == 1 << 7 and Control.RESET == 1 << 1


def test_pcie_regmap_is_consistent():
    names = [r.name for r in REGMAP]
    assert len(set(names)) == len(names)
    assert [r.offset for r in REGMAP] == sorted(r.offset for r in REGMAP)
    for r in REGMAP:
        assert REGMAP.at(r.offset) is r
        assert REGMAP.dword(r.offset) == (r, 0)
        if r.width == 64:
            assert REGMAP.dword(r.offset + 4) == (r, 1)
        assert REGMAP.group_of[r.name] in REGMAP.groups
    assert REGMAP.dword(0x03C) is None and REGMAP.at(0x024) is None
    assert [g.name for g in REGMAP.groups] == ["device", "dma", "ring", "ingress"]
    with pytest.raises(ValueError, match="overlaps"):
        RegisterMap.compose(RegGroup("a", (Reg(0, "A", 64, Access.RO, 0, ""), Reg(4, "B", 32, Access.RO, 0, "")), ""))
    with pytest.raises(ValueError, match="misaligned"):
        Reg(4, "C", 64, Access.RO, 0, "")
    with pytest.raises(KeyError, match="no register named"):
        REGMAP["NOPE"]


def test_pcie_fields_pack_and_unpack():
    rng = random.Random(1)
    for r in REGMAP:
        for f in r.fields:
            assert f.offset + f.width <= r.width
        for _ in range(20):
            values = {f.name: rng.randrange(1 << f.width) for f in r.fields}
            word = r.pack(**values)
            assert word & ~sum(f.mask for f in r.fields) == 0
            assert {k: int(v) for k, v in r.unpack(word).items()} == values
    status = REGMAP["STATUS"]
    assert status.unpack(status.pack(BUSY=1, MPS=2)) == {
        "ENABLED": 0, "BUSY": 1, "HOST_FULL": 0, "BUS_MASTER": 0, "CURSOR_CURRENT": 0, "MPS": MaxPayload.B512}
    assert REGMAP["VERSION"].unpack(VERSION_VALUE) == {"MINOR": 2, "MAJOR": 1}
    with pytest.raises(ValueError, match="does not fit"):
        status.pack(MPS=8)
    with pytest.raises(KeyError, match="no field"):
        status.pack(SPEED=1)


def test_pcie_flags_come_from_the_one_bit_fields():
    for reg, flags in (("CONTROL", Control), ("STATUS", Status), ("ERROR", Error)):
        r = REGMAP[reg]
        assert {m.name: int(m) for m in flags} == {f.name: 1 << f.offset for f in r.fields if f.width == 1}
        assert r.flags is flags
    assert REGMAP["RING_BASE"].flags is None


def test_pcie_field_layouts_follow_the_fields():
    from amaranth.hdl import Shape

    for r in REGMAP:
        layout = r.layout()
        assert Shape.cast(layout).width == r.width
        if not r.fields:
            continue
        for f in r.fields:
            member = layout[f.attr]
            assert member.offset == f.offset and Shape.cast(member.shape).width == f.width
        if r.fields and r.reset is not None:
            assert r.pack(**{f.name: v for f, v in zip(r.fields, r.init().values())}) == r.reset
    mps = REGMAP["STATUS"].layout()["mps"].shape
    assert {m.name: m.value for m in mps} == {m.name: m.value for m in MaxPayload}
    assert REGMAP["STATUS"].layout() == REGMAP["STATUS"].layout()      # one enum class per field


@pytest.mark.parametrize("build,message", [
    (lambda: Reg(0, "A", 32, Access.RO, 0, "", fields=(BitField("X", 30, 4),)), "outside"),
    (lambda: Reg(0, "A", 32, Access.RO, 0, "", fields=(BitField("X", 0, 4), BitField("Y", 3))), "overlap"),
    (lambda: Reg(0, "A", 32, Access.RO, 0, "", fields=(BitField("X", 0), BitField("X", 1))), "duplicate"),
    (lambda: Reg(0, "A", 32, Access.RO, 0x10, "", fields=(BitField("X", 0),)), "outside its fields"),
    (lambda: Reg(0, "A", 32, Access.RW, 1, "", constant=True), "constant"),
    (lambda: BitField("lower", 0), "upper-case"),
    (lambda: BitField("X", 0, 1, enum=MaxPayload), "does not fit"),
    (lambda: RegGroup("Bad", (), ""), "lower-case"),
])
def test_pcie_malformed_fields_and_groups_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_pcie_map_composes_from_groups():
    base = RegisterMap.compose(DEVICE, DMA, RING, bus_errors=REGMAP.bus_errors)
    extra = RegGroup("feed", (
        Reg(0x100, "DST_PORT", 32, Access.RW, 0, "UDP port",
            fields=(BitField("PORT", 0, 16, "destination port"),)),
        Reg(0x108, "DROPS", 64, Access.RO, 0, "frames dropped"),
    ), "the ingress")
    grown = base.with_groups(extra)
    assert grown["DST_PORT"].offset == 0x100 and grown.group_of["DROPS"] is extra
    assert [r.name for r in grown][-2:] == ["DST_PORT", "DROPS"]
    assert base.dword(0x100) is None                        # the original map is unchanged
    assert REGMAP.groups == base.groups + (REGMAP.group("ingress"),)
    assert REGMAP.without("ingress") == base and REGMAP.without("ingress").dword(0x200) is None
    with pytest.raises(KeyError, match="no register group named 'nope'"):
        REGMAP.without("ingress", "nope")
    with pytest.raises(ValueError, match="overlaps SENT"):
        REGMAP.with_groups(RegGroup("x", (Reg(0x05C, "CLASH", 32, Access.RO, 0, ""),), ""))
    with pytest.raises(ValueError, match="duplicate register SENT"):
        REGMAP.with_groups(RegGroup("x", (Reg(0x100, "SENT", 32, Access.RO, 0, ""),), ""))
    with pytest.raises(ValueError, match="duplicate register group dma"):
        REGMAP.with_groups(RegGroup("dma", (), ""))
    with pytest.raises(KeyError, match="no register group"):
        REGMAP.group("nope")
    assert REGMAP.group("dma") is DMA and DMA.hold and not DEVICE.hold and not RING.hold


@pytest.mark.parametrize("errors,message", [
    (BusErrors("SCRATCH", "BAD_ACCESS", "CONFIG_LOCKED", "BAD_ACCESSES"), "W1C"),
    (BusErrors("ERROR", "NOPE", "CONFIG_LOCKED", "BAD_ACCESSES"), "no field"),
    (BusErrors("ERROR", "BAD_ACCESS", "CONFIG_LOCKED", "SCRATCH"), "RO"),
])
def test_pcie_bus_error_destination_is_checked(errors, message):
    with pytest.raises((ValueError, KeyError), match=message):
        RegisterMap.compose(DEVICE, DMA, RING, bus_errors=errors)


def test_pcie_docs_tables_are_generated_from_the_map():
    text = DOCS.read_text()
    assert REGMAP.markdown() in text, "docs/pcie.md register table is stale: paste REGMAP.markdown()"
    assert REGMAP.fields_markdown() in text, "docs/pcie.md bit-field tables are stale: paste REGMAP.fields_markdown()"
