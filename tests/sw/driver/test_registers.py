"""The driver's named register accessors (ringgate.sw.driver.registers): 64-bit access order,
the enable sequence and its refusal path, host-side config checks, error decoding, fields."""
import asyncio

import pytest

from ringgate.contracts.datagram import COUNTER_NAMES, Endpoint, IngressControl, IngressStatus
from ringgate.contracts.regmap import ID_VALUE, REGMAP, Control, Error, MaxPayload
from ringgate.sw.driver.registers import (INGRESS_CONFIG, AsyncRegisters, ConfigError, IngressError, Registers,
                                          TlpLostError, check_config, decode_errors)


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


def test_driver_accessors_64bit_order_and_names():
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


def test_driver_fields_by_name():
    dev = FakeDevice()
    dev.mem[REGMAP.offset("STATUS")] = REGMAP["STATUS"].pack(BUSY=1, MPS=MaxPayload.B512)
    f = Registers(dev).fields("STATUS")
    assert f["BUSY"] == 1 and f["ENABLED"] == 0 and f["MPS"] is MaxPayload.B512


def test_driver_start_sequence_and_refusal():
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


def test_driver_start_refuses_a_foreign_device():
    dev = FakeDevice()
    dev.mem[REGMAP.offset("ID")] = 0x1234
    with pytest.raises(RuntimeError, match="not ringgate's"):
        Registers(dev).start(0x10000, 256, 0x40000)


@pytest.mark.parametrize("base,size,cursor,msg", [
    (0x10040, 64, 0x40000, "4 KiB"), (0x10000, 48, 0x40000, "power of two"),
    (0x10000, 0, 0x40000, "power of two"), (0x10000, 1 << 27, 0x40000, "power of two"),
    (0x10000, 64, 0x40008, "64 B"), (0x10000, 64, 0x10FC0, "overlaps"), (0x10000, 64, 0xFFC0, None),
    (0, 64, 0x40, "CURSOR_IN_RING"), (0, 64, 0, "CURSOR_IN_RING"), (0, 64, 0x1000, None),
    ((1 << 64) - 4096, 64, 0, None), ((1 << 64) - 4096, 128, 0, "RING_WRAPS"),
    ((1 << 64) - 4096, 64, (1 << 64) - 64, "CURSOR_IN_RING"),
])
def test_driver_check_config(base, size, cursor, msg):
    if msg is None:
        check_config(base, size, cursor)
    else:
        with pytest.raises(ValueError, match=msg):
            check_config(base, size, cursor)


def test_driver_check_lost_names_the_resume_point():
    dev = FakeDevice()
    regs = Registers(dev)
    regs.check_lost()                                # nothing lost: no error
    dev.mem[REGMAP.offset("ERROR")] = int(Error.TLP_LOST)
    dev.mem[REGMAP.offset("SENT")] = 1234
    with pytest.raises(TlpLostError, match="SENT=1234") as ex:
        regs.check_lost()
    assert ex.value.sent == 1234


def test_driver_decode_errors():
    assert decode_errors(Error.RING_SIZE_INVALID | Error.BAD_ACCESS) == ["RING_SIZE_INVALID", "BAD_ACCESS"]


async def _async_roundtrip():
    dev = FakeDevice()

    class AIO:
        async def read32(self, off):
            return dev.read32(off)

        async def write32(self, off, v):
            dev.write32(off, v)
    regs = AsyncRegisters(AIO())
    await regs.write("CURSOR_ADDR", 0xABCD_0040)
    first = await regs.start(0x10000, 64, 0x40000)
    return await regs.read("CURSOR_ADDR"), first, dev.log


def test_driver_async_accessors_run_the_same_plan():
    value, first, alog = asyncio.run(_async_roundtrip())
    assert value == 0x40000 and first == 0
    dev = FakeDevice()
    Registers(dev).write("CURSOR_ADDR", 0xABCD_0040)
    Registers(dev).start(0x10000, 64, 0x40000)
    assert alog[:len(dev.log)] == dev.log


class FakeIngress(FakeDevice):
    """FakeDevice with an ingress: ENABLE and snapshots take ``lag`` status reads to cross into the
    MAC clock (never, with ``lag=None``), and the destination is locked while enabled."""

    def __init__(self, lag=2, caps=0x0410):
        super().__init__()
        self.lag, self.pending = lag, None
        self.mem[REGMAP.offset("INGRESS_CAPS")] = caps
        for i, name in enumerate(COUNTER_NAMES):
            self.mem[REGMAP.offset(name)] = 100 + i

    def read32(self, off):
        if off == REGMAP.offset("INGRESS_STATUS") and self.pending is not None and self.lag is not None:
            if self.pending[1] == 0:
                self.mem[off] = self.pending[0]
                self.pending = None
            else:
                self.pending = (self.pending[0], self.pending[1] - 1)
        return super().read32(off)

    def write32(self, off, v):
        name = REGMAP.at(off).name if REGMAP.at(off) else None
        status = REGMAP.offset("INGRESS_STATUS")
        if name == "INGRESS_CONTROL":
            self.log.append(("w", off, v))
            enabled = self.mem[status] & IngressStatus.ENABLED
            if v & IngressControl.SNAPSHOT:
                self.mem[status] |= IngressStatus.SNAPSHOT_BUSY
                self.pending = (enabled, self.lag or 0)
            else:
                self.pending = (IngressStatus.ENABLED if v & IngressControl.ENABLE else 0, self.lag or 0)
            return
        if name in INGRESS_CONFIG and self.mem[status] & IngressStatus.ENABLED:
            self.log.append(("w", off, v))          # locked: ignored
            return
        super().write32(off, v)


A = Endpoint.of("02:52:47:00:00:01", "10.0.0.2", 9000)
B = Endpoint.of("02:52:47:00:00:02", "10.0.0.3", 9001)


def test_driver_starts_the_ingress_and_leaves_a_running_one_alone():
    dev = FakeIngress()
    regs = Registers(dev)
    assert regs.start_ingress(A) is True
    assert {n: regs.read(n) for n in INGRESS_CONFIG} == {"MAC_ADDR": A.mac_int, "IP_ADDR": A.ip_int,
                                                        "UDP_PORT": A.port}
    assert regs.read("INGRESS_STATUS") & IngressStatus.ENABLED
    writes = len([x for x in dev.log if x[0] == "w"])
    assert regs.start_ingress(A) is False                      # same destination: no write at all
    assert len([x for x in dev.log if x[0] == "w"]) == writes
    assert regs.start_ingress(B) is True                       # another one: disable, rewrite, enable
    assert regs.read("UDP_PORT") == B.port and regs.read("INGRESS_STATUS") & IngressStatus.ENABLED


def test_driver_ingress_refusals_say_why():
    with pytest.raises(IngressError, match="no Ethernet ingress"):
        Registers(FakeIngress(caps=0)).start_ingress(A)
    with pytest.raises(IngressError, match="no ingress group"):
        Registers(FakeIngress(), REGMAP.without("ingress")).start_ingress(A)
    with pytest.raises(IngressError, match="did not rise.*not running"):
        Registers(FakeIngress(lag=None)).start_ingress(A)
    dev = FakeIngress()
    dev.mem[REGMAP.offset("INGRESS_STATUS")] = IngressStatus.ENABLED
    dev.lag = None                                             # enabled, and the disable never crosses
    with pytest.raises(IngressError, match="did not fall"):
        Registers(dev).start_ingress(A)


def test_driver_reads_the_ingress_counters_from_one_snapshot():
    dev = FakeIngress(lag=3)
    got = Registers(dev).ingress_counters()
    assert got == {name: 100 + i for i, name in enumerate(COUNTER_NAMES)}
    assert not dev.mem[REGMAP.offset("INGRESS_STATUS")] & IngressStatus.SNAPSHOT_BUSY
    with pytest.raises(IngressError, match="SNAPSHOT_BUSY never cleared"):
        Registers(FakeIngress(lag=None)).ingress_counters()
