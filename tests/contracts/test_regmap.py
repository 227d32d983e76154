"""The BAR0 register map contract: consistency, the driver accessors, the generated docs table,
and that the Amaranth decoder is generated from it (ports follow the map)."""
from pathlib import Path

import pytest

from ringgate.hw.pcie.bar0 import Bar0
from ringgate.contracts.regmap import (Access, AsyncRegisters, ConfigError, Control, Error, ID_VALUE,
                                       REGMAP, Reg, RegisterMap, Registers, Status, check_config,
                                       decode_errors)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "pcie.md"


class FakeDevice:
    """Register I/O model of the device's documented 32-bit access rules."""

    def __init__(self):
        self.mem = {r.offset: r.reset or 0 for r in REGMAP}
        self.mem[REGMAP.offset("ID")] = ID_VALUE
        self.staged = {}
        self.log = []

    def read32(self, off):
        self.log.append(("r", off))
        hit = REGMAP.dword(off)
        if hit is None:
            return 0
        r, half = hit
        return (self.mem[r.offset] >> (32 * half)) & 0xFFFF_FFFF

    def write32(self, off, v):
        self.log.append(("w", off, v))
        hit = REGMAP.dword(off)
        if hit is None:
            return
        r, half = hit
        if r.name == "CONTROL":
            self.mem[r.offset] = v & Control.ENABLE
            return
        if r.width == 64 and half == 0:
            self.staged[r.offset] = v
            return
        if r.width == 64:
            v = self.staged.pop(r.offset, self.mem[r.offset] & 0xFFFF_FFFF) | v << 32
        self.mem[r.offset] = v


def test_pcie_regmap_is_consistent():
    names = [r.name for r in REGMAP]
    assert len(set(names)) == len(names)
    for r in REGMAP:
        assert REGMAP.at(r.offset) is r
        assert REGMAP.dword(r.offset) == (r, 0)
        if r.width == 64:
            assert REGMAP.dword(r.offset + 4) == (r, 1)
    with pytest.raises(ValueError, match="overlaps"):
        RegisterMap((Reg(0, "A", 64, Access.RO, 0, ""), Reg(4, "B", 32, Access.RO, 0, "")))
    with pytest.raises(ValueError, match="misaligned"):
        Reg(4, "C", 64, Access.RO, 0, "")
    assert Error.CONFIG_LOCKED == 1 << 6 and Error.BAD_ACCESS == 1 << 7


def test_pcie_accessors_64bit_order_and_names():
    dev = FakeDevice()
    regs = Registers(dev)
    regs.write("RING_BASE", 0x1234_5678_9ABC_D000)
    assert dev.log[-2:] == [("w", 0x20, 0x9ABC_D000), ("w", 0x24, 0x1234_5678)]   # low, then high
    assert regs.read("RING_BASE") == 0x1234_5678_9ABC_D000
    assert dev.log[-2:] == [("r", 0x20), ("r", 0x24)]                           # low first
    with pytest.raises(ValueError, match="does not fit"):
        regs.write("RING_SIZE", 1 << 32)
    with pytest.raises(KeyError, match="no register"):
        regs.read("NOPE")


def test_pcie_start_sequence_and_refusal():
    dev = FakeDevice()
    dev.mem[REGMAP.offset("SENT")] = 77
    regs = Registers(dev)
    assert regs.start(0x10000, 256, 0x40000) == 77
    assert dev.mem[REGMAP.offset("DOORBELL")] == 77
    assert dev.mem[REGMAP.offset("RING_SIZE")] == 256
    assert regs.read("CONTROL") & Control.ENABLE
    # the device refusing: CONTROL reads 0, ERROR says why
    dev2 = FakeDevice()
    dev2.write32 = (lambda orig: lambda off, v: orig(off, 0 if off == 0x10 else v))(dev2.write32)
    dev2.mem[REGMAP.offset("ERROR")] = Error.DOORBELL_RANGE
    dev2.staged.clear()
    with pytest.raises(ConfigError, match="DOORBELL_RANGE"):
        Registers(dev2).start(0x10000, 256, 0x40000)


@pytest.mark.parametrize("base,size,cursor,msg", [
    (0x10040, 64, 0x40000, "4 KiB"), (0x10000, 48, 0x40000, "power of two"),
    (0x10000, 0, 0x40000, "power of two"), (0x10000, 1 << 27, 0x40000, "power of two"),
    (0x10000, 64, 0x40008, "64 B"), (0x10000, 64, 0x10FC0, "overlaps"), (0x10000, 64, 0xFFC0, None),
])
def test_pcie_check_config(base, size, cursor, msg):
    if msg is None:
        check_config(base, size, cursor)
    else:
        with pytest.raises(ValueError, match=msg):
            check_config(base, size, cursor)


def test_pcie_decode_errors():
    assert decode_errors(Error.RING_SIZE_INVALID | Error.BAD_ACCESS) == ["RING_SIZE_INVALID", "BAD_ACCESS"]


def test_pcie_decoder_ports_follow_the_map():
    bar = Bar0(fixed={"CAPS": 0})
    members = bar.signature.members
    for r in REGMAP:
        a = r.attr
        if r.access is Access.RO:
            assert (a in members) == (r.name not in ("ID", "VERSION", "CAPS")), a
        elif r.access is Access.RW:
            assert a in members and a + "_w" in members
            assert members[a].init == r.reset
        elif r.access is Access.CMD:
            assert {a, a + "_w", a + "_r"} <= set(members)
        elif r.access is Access.W1C:
            assert {a, a + "_set", a + "_clear"} <= set(members)


def test_pcie_docs_table_is_generated_from_the_map():
    assert REGMAP.markdown() in DOCS.read_text(), \
        "docs/pcie.md register table is stale: paste REGMAP.markdown()"


async def _async_roundtrip():
    dev = FakeDevice()

    class AIO:
        async def read32(self, off):
            return dev.read32(off)

        async def write32(self, off, v):
            dev.write32(off, v)
    regs = AsyncRegisters(AIO())
    await regs.write("CURSOR_ADDR", 0xABCD_0040)
    return await regs.read("CURSOR_ADDR")


def test_pcie_async_accessors():
    import asyncio
    assert asyncio.run(_async_roundtrip()) == 0xABCD_0040
