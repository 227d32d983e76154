"""The golden model's BAR0 register semantics against the RTL: the same random program of 1-DW and
2-DW reads and writes (configuration, enable/disable/reset, doorbells, sticky errors, scratch,
read-only registers, unknown offsets, 64-bit halves) and of entries offered to the ring runs on
ring + DMA writer + BAR0 block (wired as in hw/pcie/top.py, in amaranth.sim) and on FpgaModel;
every read must return the same value, and host memory must end up the same."""
from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.sim import Simulator

from ..sw.driver.helpers import make_entries
from ringgate.hw.pcie.bar0 import REG_REQ, Bar0
from ringgate.hw.pcie_dma import REQ_LAYOUT, DmaWriter
from ringgate.hw.ringbuf import RingBuffer
from ringgate.contracts.entry import ENTRY, ENTRY_DTYPE
from ringgate.contracts.regmap import REGMAP, Control
from ringgate.model.hostmem import HostMemory
from ringgate.model.fpga import FpgaModel

DEPTH = 64
MPS_CODE = 1                       # 256 B
LAYOUT = ENTRY.layout()
MEM_BASE, MEM_SIZE = 0x10000, 0x10000
# registers whose value depends on cycle timing, not on the access sequence
TIMING = {"TIMESTAMP", "HOST_FULL_CYCLES", "RQ_STALL_CYCLES"}
REQ_FIELDS = [(name, f.offset, f.width) for name, f in REQ_LAYOUT]


class Core(wiring.Component):
    """Ring + DMA writer + BAR0, connected as in hw/pcie/top.py without the hard-block adapter."""

    def __init__(self):
        self.ring = RingBuffer(DEPTH, LAYOUT)
        self.dma = DmaWriter(DEPTH)
        caps = REGMAP["CAPS"].pack(DATAPATH_BITS=256, RING_DEPTH_LOG2=self.ring.addr_bits)
        self.bar = Bar0(fixed={"CAPS": caps})
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        ring, dma, bar = self.ring, self.dma, self.bar
        m.submodules += [ring, dma, bar]
        wiring.connect(m, ring.o, dma.entries)
        wiring.connect(m, bar.dma, dma.regs)
        ts = Signal(64)
        m.d.sync += ts.eq(ts + 1)
        m.d.comb += [
            dma.fill.eq(ring.fill), dma.mps.eq(MPS_CODE), dma.bus_master.eq(1), dma.timestamp.eq(ts),
            dma.downstream_busy.eq(0), dma.req.ready.eq(1),
            bar.ring.published.eq(ring.cursor), bar.ring.ring_full_cycles.eq(ring.full_cycles),
            bar.ring.ring_fill.eq(ring.fill), bar.device.timestamp.eq(ts), bar.device.rq_stall_cycles.eq(0),
        ]
        return m


def program(seed: int, n_ops: int):
    """A random access program biased towards meaningful sequences."""
    rng = random.Random(seed)
    regs = list(REGMAP)
    ring_base = MEM_BASE
    cursor = MEM_BASE + 0x8000
    ops = []
    pushed = 0
    for _ in range(n_ops):
        r = rng.random()
        if r < 0.12:          # a proper configuration, sometimes with a bad field
            size = rng.choice([16, 32, 64, 128, 48, 0])
            base = ring_base + rng.choice([0, 0, 0, 64])
            cur = rng.choice([cursor, cursor, cursor + 8, ring_base + 64])
            ops += [("w", "CONTROL", 0, "two" if rng.random() < 0.5 else "one"),
                    ("w", "RING_BASE", base, rng.choice(["two", "halves"])),
                    ("w", "RING_SIZE", size, "one"),
                    ("w", "CURSOR_ADDR", cur, rng.choice(["two", "halves"])),
                    ("w", "BATCH_LIMIT", rng.choice([1, 3, 16, 0]), "one"),
                    ("w", "CURSOR_INTERVAL", rng.choice([1, 2, 5]), "one"),
                    ("rd", "SENT"),
                    ("w", "ERROR", 0xFFFF_FFFF, "one"),
                    ("w", "CONTROL", int(Control.ENABLE), "one")]
        elif r < 0.22:
            ops.append(("push", rng.choice([1, 1, 3, 10, 25])))
            pushed += 1
        elif r < 0.32:
            ops.append(("doorbell", rng.choice([0, 1, 5, 40])))
        elif r < 0.38:
            ops.append(("w", "CONTROL", rng.choice([0, 1, 2, 3]), "one"))
        elif r < 0.45:
            ops.append(("w", "ERROR", rng.getrandbits(8), "one"))
        elif r < 0.55:        # any register, any value, any access width
            reg = rng.choice(regs)
            ops.append(("w", reg.name, rng.getrandbits(reg.width) if rng.random() < 0.3 else rng.randrange(64),
                        rng.choice(["one", "two", "halves", "lo", "hi"]) if reg.width == 64 else "one"))
        elif r < 0.58:        # unknown offsets
            ops.append(("w_off", rng.choice([0x03C, 0x09C, 0x0A0, 0x0F8, 0xFFC]), rng.getrandbits(32)))
        else:                 # reads: 1-DW anywhere (including holes), or 2-DW rows
            if rng.random() < 0.6:
                ops.append(("r32", 4 * rng.randrange(0, 0xA8 // 4)))
            else:
                ops.append(("r64", 8 * rng.randrange(0, 0xA8 // 8)))
    return ops


def accesses(op, sent):
    """The BAR0 accesses of one program step: (kind, offset[, value]); both sides run the same."""
    kind = op[0]
    if kind == "w":
        _, name, value, how = op
        reg = REGMAP[name]
        value &= reg.mask
        if reg.width == 32:
            return [("w32", reg.offset, value)]
        if how == "two":
            return [("w64", reg.offset, value)]
        if how == "lo":
            return [("w32", reg.offset, value & 0xFFFF_FFFF)]
        if how == "hi":
            return [("w32", reg.offset + 4, value >> 32)]
        return [("w32", reg.offset, value & 0xFFFF_FFFF), ("w32", reg.offset + 4, value >> 32)]
    if kind == "w_off":
        return [("w32", op[1], op[2])]
    if kind == "doorbell":
        return [("w64", REGMAP["DOORBELL"].offset, max(0, sent - op[1]))]
    if kind == "rd":
        return [("r64", REGMAP[op[1]].offset)]
    if kind in ("r32", "r64"):
        return [(kind, op[1])]
    return []


def skip_compare(kind, offset):
    names = set()
    for off in ([offset] if kind == "r32" else [offset, offset + 4]):
        hit = REGMAP.dword(off)
        if hit is not None:
            names.add(hit[0].name)
    return bool(names & TIMING)


def run_model(ops, entries):
    host = HostMemory()
    mem = np.zeros(MEM_SIZE, dtype=np.uint8)
    host.map(MEM_BASE, mem)
    m = FpgaModel(host, depth=DEPTH, max_payload=128 << MPS_CODE, datapath_bits=256)
    reads = []
    nxt = 0
    for op in ops:
        if op[0] == "push":
            k = op[1] if not m.enabled else 1
            k = min(k, DEPTH - m.fill)
            if k:
                m.push(entries[nxt:nxt + k], entries["ts"][nxt:nxt + k])
                nxt += k
        for kind, off, *val in accesses(op, m.sent):
            if kind == "w32":
                m.write32(off, val[0])
            elif kind == "w64":
                m.write64(off, val[0])
            elif kind == "r32":
                reads.append((kind, off, m.read32(off)))
            else:
                reads.append((kind, off, m.read64(off)))
            m.run()
        m.run()
    return reads, mem


def run_rtl(ops, entries):
    dut = Core()
    bar, ring, dma = dut.bar, dut.ring, dut.dma
    mem = np.zeros(MEM_SIZE, dtype=np.uint8)
    reads = []
    state = {"done": False, "stray": []}

    async def bus(ctx, req):
        """One BAR0 request; returns the read data (None for writes)."""
        while ctx.get(dma.regs.hold):
            await ctx.tick()
        kind, off, *val = req
        ctx.set(bar.req.payload, req_const(off, kind, val[0] if val else 0))
        ctx.set(bar.req.valid, 1)
        await ctx.tick().until(bar.req.ready)
        ctx.set(bar.req.valid, 0)
        data = None
        if kind.startswith("r"):
            ctx.set(bar.resp.ready, 1)
            while True:
                _, _, valid, p = await ctx.tick().sample(bar.resp.valid, bar.resp.payload)
                if valid:
                    break
            ctx.set(bar.resp.ready, 0)
            data = p.rdata
            data = data & 0xFFFF_FFFF if kind == "r32" else data
        await settle(ctx)
        return data

    async def settle(ctx):
        """Until the writer has sent all it may and written the cursor covering it (the model
        does that in one call). ENABLE and CURSOR_CURRENT reach the register interface a
        cycle late, so the condition must hold two cycles in a row."""
        for _ in range(4):
            await ctx.tick()
        quiet = 0
        regs = dma.regs
        for _ in range(5000):
            enabled, sent, published, consumed, size, current, hold = (
                ctx.get(regs.control_r.enable), ctx.get(regs.sent), ctx.get(ring.cursor),
                ctx.get(regs.host_consumed), ctx.get(regs.ring_size), ctx.get(regs.status.cursor_current),
                ctx.get(regs.hold))
            quiet = quiet + 1 if not hold and current and (
                not enabled or sent == min(published, consumed + size)) else 0
            if quiet == 2:
                return
            await ctx.tick()
        raise AssertionError("the RTL did not settle")

    async def host(ctx):
        nxt = 0
        for op in ops:
            if op[0] == "push":
                enabled = ctx.get(dma.regs.control_r.enable)
                fill = ctx.get(ring.fill)
                k = min(op[1] if not enabled else 1, DEPTH - fill)
                for i in range(nxt, nxt + k):
                    ctx.set(ring.i.payload, LAYOUT.const({f: int(entries[i][f]) for f in ENTRY_DTYPE.names}))
                    ctx.set(ring.i.valid, 1)
                    await ctx.tick().until(ring.i.ready)
                ctx.set(ring.i.valid, 0)
                nxt += k
                await settle(ctx)
            sent = ctx.get(dma.regs.sent)
            for acc in accesses(op, sent):
                data = await bus(ctx, acc)
                if data is not None:
                    reads.append((acc[0], acc[1], data))
        state["done"] = True

    async def sink(ctx):
        tlp = None
        while not state["done"]:
            _, _, valid, payload = await ctx.tick().sample(dma.req.valid, dma.req.payload)
            if not valid:
                continue
            v = payload.as_value().value
            f = {name: (v >> off) & ((1 << width) - 1) for name, off, width in REQ_FIELDS}
            if f["first"]:
                tlp = dict(addr=f["addr"], ndw=f["ndw"], lines=[])
            tlp["lines"].append(f["line"].to_bytes(64, "little"))
            if f["last"]:
                body = np.frombuffer(b"".join(tlp["lines"])[:tlp["ndw"] * 4], np.uint8)
                off = tlp["addr"] - MEM_BASE
                if not 0 <= off <= MEM_SIZE - len(body):
                    state["stray"].append(tlp["addr"])
                else:
                    mem[off:off + len(body)] = body

    sim = Simulator(dut)
    sim.add_clock(4e-9)
    sim.add_testbench(host)
    sim.add_testbench(sink)
    sim.run()
    assert not state["stray"], f"stray writes at {state['stray']}"
    return reads, mem


def req_const(off, kind, value):
    return REG_REQ.const({"dw": off // 4, "write": int(kind.startswith("w")), "two": int(kind.endswith("64")),
                          "wdata": value})


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_driver_model_registers_match_rtl(seed):
    ops = program(seed, 250)
    entries = make_entries(2000)
    model_reads, model_mem = run_model(ops, entries)
    rtl_reads, rtl_mem = run_rtl(ops, entries)
    assert len(model_reads) == len(rtl_reads)
    compared = [r for r in model_reads if not skip_compare(r[0], r[1])]
    assert len(compared) > 80
    assert any(REGMAP.dword(off) and REGMAP.dword(off)[0].name == "SENT" and v > 0 for _, off, v in compared)
    for i, ((kind, off, mv), (_, _, rv)) in enumerate(zip(model_reads, rtl_reads)):
        if skip_compare(kind, off):
            continue
        reg = REGMAP.dword(off)
        name = reg[0].name if reg else "hole"
        assert mv == rv, f"read #{i} {kind} at {off:#x} ({name}): model {mv:#x}, RTL {rv:#x}"
    # host memory: byte-identical except the cursor line's timestamp word
    cur = 0x8000
    model_mem[cur + 8:cur + 16] = rtl_mem[cur + 8:cur + 16]
    assert model_mem.tobytes() == rtl_mem.tobytes()
