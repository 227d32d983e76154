"""The BAR0 block generated from a composed register map (amaranth.sim): one interface per
register group, fields through layouts, locks, holds, the block's own bus-error reporting."""
import gc

import pytest
from amaranth.sim import Simulator

from ringgate.contracts.regmap import (DMA, ID_VALUE, REGMAP, VERSION_VALUE, Access, BitField, Error, Reg,
                                       RegGroup)
from ringgate.hw.pcie.bar0 import REG_REQ, Bar0
from ringgate.hw.pcie.regs import register_signature

EXTRA = RegGroup("extra", (
    Reg(0x100, "X_CFG", 32, Access.RW, 0x11, "a locked setting", locked=True,
        fields=(BitField("MODE", 0, 2), BitField("ON", 4))),
    Reg(0x108, "X_WIDE", 64, Access.RW, 0, "a 64-bit setting"),
    Reg(0x110, "X_CMD", 32, Access.CMD, 0, "a command"),
    Reg(0x114, "X_COUNT", 32, Access.RO, 0, "a counter"),
    Reg(0x118, "X_STICKY", 32, Access.W1C, 0, "sticky bits", fields=(BitField("A", 0), BitField("B", 3))),
), "a consumer outside the PCIe core", hold=True)
MAP = REGMAP.with_groups(EXTRA)
CAPS = 0x0008_0100


def members(component):
    """The ports of a component built only to read them (never elaborated: no warning)."""
    component._MustUse__silence = True
    return component.signature.members


def test_pcie_bar0_ports_follow_the_map():
    ports = members(Bar0(MAP, fixed={"CAPS": CAPS}))
    assert set(ports) == {"req", "resp", "bad", "bus_bad", "device", "dma", "ring", "ingress", "extra"}
    for g in MAP.groups:
        sig = ports[g.name].signature
        for r in g.regs:
            a = r.attr
            if r.name in ("ID", "VERSION", "CAPS", "BAD_ACCESSES"):      # answered by the block
                assert a not in sig.members
            elif r.access is Access.RO:
                assert a in sig.members and sig.members[a].flow.name == "In"
            elif r.access is Access.RW:
                assert {a, a + "_w"} <= set(sig.members)
                assert r.pack(**{f.name: v for f, v in zip(r.fields, r.init().values())}) == r.reset \
                    if r.fields else sig.members[a].init == r.reset
            elif r.access is Access.CMD:
                assert {a, a + "_w", a + "_r"} <= set(sig.members)
            elif r.access is Access.W1C:
                assert {a, a + "_set", a + "_clear"} <= set(sig.members)
        assert ("lock" in sig.members) == any(r.locked for r in g.regs)
        assert ("hold" in sig.members) == g.hold
    # the writer's own port has exactly the BAR0 group interface: connectable
    assert ports["dma"].signature == register_signature(DMA)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_pcie_bar0_refuses_bad_parameters():
    with pytest.raises(ValueError, match="read-only"):
        Bar0(fixed={"SCRATCH": 1})
    with pytest.raises(ValueError, match="collides"):
        Bar0(REGMAP.with_groups(RegGroup("req", (Reg(0x100, "Q", 32, Access.RO, 0, ""),), "")))
    gc.collect()            # the refused objects go now, under this test's warning filter


class Bus:
    """BAR0 dword accesses from an amaranth.sim testbench."""

    def __init__(self, bar):
        self.bar = bar

    async def access(self, ctx, offset, *, write=False, two=False, data=0):
        bar = self.bar
        ctx.set(bar.req.payload, REG_REQ.const({"dw": offset // 4, "write": write, "two": two, "wdata": data}))
        ctx.set(bar.req.valid, 1)
        await ctx.tick().until(bar.req.ready)
        ctx.set(bar.req.valid, 0)
        value = None
        if not write:
            ctx.set(bar.resp.ready, 1)
            while True:
                _, _, valid, payload = await ctx.tick().sample(bar.resp.valid, bar.resp.payload)
                if valid:
                    break
            ctx.set(bar.resp.ready, 0)
            value = payload.rdata if two else payload.rdata & 0xFFFF_FFFF
        for _ in range(2):
            await ctx.tick()
        return value

    async def read(self, ctx, name):
        r = MAP[name]
        return await self.access(ctx, r.offset, two=r.width == 64)

    async def write(self, ctx, name, value):
        r = MAP[name]
        await self.access(ctx, r.offset, write=True, two=r.width == 64, data=value)


def run(bench):
    bar = Bar0(MAP, fixed={"CAPS": CAPS})
    sim = Simulator(bar)
    sim.add_clock(4e-9)
    strobes = []

    async def watch(ctx):
        async for _, _, w, v in ctx.tick().sample(bar.extra.x_cfg_w, bar.extra.x_cfg.as_value()):
            if w:
                strobes.append(v)

    async def testbench(ctx):
        await bench(ctx, bar, Bus(bar), strobes)

    sim.add_process(watch)
    sim.add_testbench(testbench)
    sim.run()


def test_pcie_bar0_serves_a_composed_group():
    async def bench(ctx, bar, bus, strobes):
        assert await bus.read(ctx, "ID") == ID_VALUE and await bus.read(ctx, "VERSION") == VERSION_VALUE
        assert await bus.read(ctx, "CAPS") == CAPS
        assert await bus.read(ctx, "X_CFG") == 0x11                        # reset through the layout
        await bus.write(ctx, "X_CFG", MAP["X_CFG"].pack(MODE=2, ON=0))
        assert ctx.get(bar.extra.x_cfg.mode) == 2 and ctx.get(bar.extra.x_cfg.on) == 0
        assert strobes == [2]                      # one strobe, with the new value out
        await bus.access(ctx, 0x108, write=True, data=0x89AB_CDEF)         # low half: staged
        assert await bus.read(ctx, "X_WIDE") == 0
        await bus.access(ctx, 0x10C, write=True, data=0x0123_4567)
        assert await bus.read(ctx, "X_WIDE") == 0x0123_4567_89AB_CDEF
        ctx.set(bar.extra.x_count, 0xABCD)
        ctx.set(bar.extra.x_cmd_r, 0x77)
        assert await bus.read(ctx, "X_COUNT") == 0xABCD and await bus.read(ctx, "X_CMD") == 0x77
        # a 2-dword read of the row of two 32-bit registers
        assert await bus.access(ctx, 0x110, two=True) == 0xABCD << 32 | 0x77
        ctx.set(bar.extra.x_sticky_set.b, 1)
        await ctx.tick()
        ctx.set(bar.extra.x_sticky_set.b, 0)
        assert await bus.read(ctx, "X_STICKY") == MAP["X_STICKY"].pack(B=1)
        await bus.write(ctx, "X_STICKY", MAP["X_STICKY"].pack(B=1))
        assert await bus.read(ctx, "X_STICKY") == 0
        assert await bus.read(ctx, "ERROR") == 0 and await bus.read(ctx, "BAD_ACCESSES") == 0

    run(bench)


def test_pcie_bar0_command_strobe_carries_the_value():
    async def bench(ctx, bar, bus, strobes):
        ctx.set(bar.req.payload, REG_REQ.const({"dw": 0x110 // 4, "write": 1, "two": 0, "wdata": 0x5A}))
        ctx.set(bar.req.valid, 1)
        await ctx.tick().until(bar.req.ready)
        ctx.set(bar.req.valid, 0)
        seen = []
        for _ in range(4):
            if ctx.get(bar.extra.x_cmd_w):
                seen.append(ctx.get(bar.extra.x_cmd))
            await ctx.tick()
        assert seen == [0x5A]

    run(bench)


def test_pcie_bar0_reports_its_refusals_by_field():
    async def bench(ctx, bar, bus, strobes):
        ctx.set(bar.extra.lock, 1)
        await bus.write(ctx, "X_CFG", 3)                                   # locked: refused
        assert await bus.read(ctx, "X_CFG") == 0x11 and strobes == []
        assert await bus.read(ctx, "ERROR") == Error.CONFIG_LOCKED
        ctx.set(bar.extra.lock, 0)
        await bus.write(ctx, "X_COUNT", 1)                                 # read-only
        assert await bus.access(ctx, 0x104) == 0                           # a hole
        assert await bus.read(ctx, "ERROR") == Error.CONFIG_LOCKED | Error.BAD_ACCESS
        assert await bus.read(ctx, "BAD_ACCESSES") == 2
        ctx.set(bar.bus_bad, 1)                                            # the adapter refused one
        await ctx.tick()
        ctx.set(bar.bus_bad, 0)
        assert await bus.read(ctx, "BAD_ACCESSES") == 3
        ctx.set(bar.dma.error_clear, 1)                                    # CONTROL.RESET in the writer
        await ctx.tick()
        ctx.set(bar.dma.error_clear, 0)
        assert await bus.read(ctx, "ERROR") == 0 and await bus.read(ctx, "BAD_ACCESSES") == 0
        ctx.set(bar.dma.error_set.doorbell_range, 1)                        # the writer's own bits
        await ctx.tick()
        ctx.set(bar.dma.error_set.doorbell_range, 0)
        assert await bus.read(ctx, "ERROR") == Error.DOORBELL_RANGE

    run(bench)


def test_pcie_bar0_takes_no_request_while_a_group_holds():
    async def bench(ctx, bar, bus, strobes):
        ctx.set(bar.extra.hold, 1)
        ctx.set(bar.req.valid, 1)
        for _ in range(10):
            await ctx.tick()
            assert not ctx.get(bar.req.ready)
        ctx.set(bar.req.valid, 0)
        ctx.set(bar.extra.hold, 0)
        assert await bus.read(ctx, "SCRATCH") == 0

    run(bench)


def test_pcie_bar0_stores_only_the_bits_of_fields():
    """Bits a table does not list read as zero: a register with fields stores only its fields'
    bits (the map's `field_mask`), whatever a write carries; the golden model agrees."""
    from ringgate.model import FpgaModel

    assert MAP["X_CFG"].field_mask == 0b1_0011 and MAP["X_WIDE"].field_mask == (1 << 64) - 1
    ones = {name: MAP[name].mask for name in ("X_CFG", "UDP_PORT", "MAC_ADDR", "X_WIDE")}
    want = {"X_CFG": 0b1_0011, "UDP_PORT": 0xFFFF, "MAC_ADDR": (1 << 48) - 1, "X_WIDE": (1 << 64) - 1}

    async def bench(ctx, bar, bus, strobes):
        for name, value in ones.items():
            await bus.write(ctx, name, value)
            assert await bus.read(ctx, name) == want[name], name
        assert strobes == [0b1_0011]              # the consumer sees only field bits too

    run(bench)
    model = FpgaModel()
    for name in ("UDP_PORT", "MAC_ADDR"):
        model.write(name, ones[name])
        assert model.read(name) == want[name], name
