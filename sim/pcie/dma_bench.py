"""amaranth.sim harness for the DMA writer core (RingBuffer -> DmaWriter -> request stream)."""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from ringgate.contracts.entry import CURSOR_LINE, ENTRY
from ringgate.contracts.pcie import mps_code
from ringgate.contracts.regmap import DMA
from ringgate.hw.pcie.regs import register_signature
from ringgate.hw.pcie_dma import CURSOR_DWORDS, DmaWriter, MAX_TLP_ENTRIES, REQ_LAYOUT
from ringgate.hw.ringbuf import RingBuffer

LAYOUT = ENTRY.layout()


class DmaHarness(wiring.Component):
    """Ring + DMA writer with the writer's register interface exposed (the testbench plays
    BAR0), for amaranth.sim tests."""

    def __init__(self, depth=64):
        self.depth = depth
        super().__init__({
            "i": In(stream.Signature(LAYOUT)),
            "req": Out(stream.Signature(REQ_LAYOUT)),
            "regs": In(register_signature(DMA)),
            "mps": In(3), "bus_master": In(1), "timestamp": In(64),
            "take": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.ring = ring = RingBuffer(self.depth, LAYOUT)
        m.submodules.dma = dma = DmaWriter(self.depth)
        wiring.connect(m, wiring.flipped(self.i), ring.i)
        wiring.connect(m, ring.o, dma.entries)
        wiring.connect(m, dma.req, wiring.flipped(self.req))
        wiring.connect(m, wiring.flipped(self.regs), dma.regs)
        m.d.comb += [dma.fill.eq(ring.fill), dma.mps.eq(self.mps), dma.bus_master.eq(self.bus_master),
                     dma.timestamp.eq(self.timestamp), self.take.eq(dma.take)]
        return m


class RqHarness(wiring.Component):
    """Ring + DMA writer + UltraScale+ RQ adapter, with the adapter's RQ interface and sequence
    number returns exposed (the testbench plays the hard block) and the writer's register
    interface exposed (the testbench plays BAR0), for amaranth.sim tests of what crosses the
    adapter: bus-master loss, lost sequence numbers.

    Parameters
    ----------
    width : int
        RQ datapath bits, 256 or 512.
    depth : int
        BRAM ring depth.
    seq_timeout : int
        The adapter's sequence-number timeout (cycles).
    """

    def __init__(self, width=256, depth=64, *, seq_timeout=32):
        from ringgate.hw.pcie.axis import RQ_SEQ_NUM, AxiStreamSignature
        from ringgate.hw.pcie.usp import TUSER
        self.width, self.depth, self.seq_timeout = width, depth, seq_timeout
        super().__init__({
            "i": In(stream.Signature(LAYOUT)),
            "axis": Out(AxiStreamSignature(width, TUSER[width]["rq"])),
            "seq": In(RQ_SEQ_NUM),
            "regs": In(register_signature(DMA)),
            "mps": In(3), "bus_master": In(1), "timestamp": In(64), "stop": In(1),
        })

    def elaborate(self, platform):
        from ringgate.hw.pcie.usp import UspRequester
        m = Module()
        m.submodules.ring = ring = RingBuffer(self.depth, LAYOUT)
        m.submodules.dma = dma = DmaWriter(self.depth)
        m.submodules.rq = rq = UspRequester(self.width, seq_timeout=self.seq_timeout)
        wiring.connect(m, wiring.flipped(self.i), ring.i)
        wiring.connect(m, ring.o, dma.entries)
        wiring.connect(m, dma.req, rq.req)
        wiring.connect(m, rq.axis, wiring.flipped(self.axis))
        wiring.connect(m, wiring.flipped(self.seq), rq.seq)
        wiring.connect(m, wiring.flipped(self.regs), dma.regs)
        m.d.comb += [dma.fill.eq(ring.fill), dma.mps.eq(self.mps), dma.bus_master.eq(self.bus_master),
                     dma.timestamp.eq(self.timestamp),
                     dma.downstream_busy.eq(rq.busy), dma.downstream_lost.eq(rq.lost), dma.stop.eq(self.stop)]
        return m


@dataclass
class Tlp:
    cursor: bool
    addr: int
    ndw: int
    lines: list = field(default_factory=list)
    first_cycle: int = 0


class Scenario:
    """Drive the core: configure, push entries (optionally all before enable), consume the
    request stream with random back-pressure, ring the doorbell like a host would."""

    def __init__(self, *, size=64, mps=256, batch=16, interval=1, base=0x10000, cursor=0x80000,
                 n=100, backlog=False, p_ready=1.0, p_push=1.0, host_lag=None, seed=0, depth=64,
                 max_cycles=20000, ready=None):
        self.dut = DmaHarness(depth)
        self.ready = ready                  # cycle -> RQ ready, instead of the random back-pressure
        self.cfg = dict(size=size, mps=mps, batch=batch, interval=interval, base=base, cursor=cursor)
        self.n, self.backlog, self.p_ready, self.p_push = n, backlog, p_ready, p_push
        self.host_lag = host_lag            # None: doorbell follows the cursor at once
        self.rng = random.Random(seed)
        self.tlps: list[Tlp] = []
        self.cycle = 0
        self.take_cycles = []
        self.errors = []
        self.max_cycles = max_cycles
        self.doorbell_value = 0
        self.doorbell_history = []
        self.final = False            # the producer has pushed its last entry

    async def config(self, ctx, enable=True):
        c, d = self.cfg, self.dut
        ctx.set(d.regs.ring_base, c["base"])
        ctx.set(d.regs.ring_size, c["size"])
        ctx.set(d.regs.cursor_addr, c["cursor"])
        ctx.set(d.regs.batch_limit, c["batch"])
        ctx.set(d.regs.cursor_interval, c["interval"])
        ctx.set(d.mps, mps_code(c["mps"]))
        ctx.set(d.bus_master, 1)
        if enable:
            await self.command(ctx, 1)

    async def command(self, ctx, value):
        """Write CONTROL (``value``: its 32-bit word) as BAR0 does: value and strobe for a cycle."""
        regs = self.dut.regs
        ctx.set(regs.control.as_value(), value)
        ctx.set(regs.control_w, 1)
        await ctx.tick()
        ctx.set(regs.control_w, 0)
        for _ in range(4):
            await ctx.tick()

    async def producer(self, ctx):
        d, rng = self.dut, random.Random(self.rng.random())
        for k in range(self.n):
            while rng.random() > self.p_push:
                ctx.set(d.i.valid, 0)
                await ctx.tick()
            ctx.set(d.i.payload, LAYOUT.const({"uid": k, "price": rng.getrandbits(62)}))
            ctx.set(d.i.valid, 1)
            await ctx.tick().until(d.i.ready)
        ctx.set(d.i.valid, 0)

    async def consumer(self, ctx):
        d, rng = self.dut, random.Random(self.rng.random())
        cur = None
        while self.cycle < self.max_cycles:
            ctx.set(d.req.ready, self.ready(self.cycle) if self.ready else rng.random() < self.p_ready)
            _, _, valid, ready, p, take, ts = await ctx.tick().sample(
                d.req.valid, d.req.ready, d.req.payload, d.take, d.timestamp)
            self.cycle += 1
            ctx.set(d.timestamp, self.cycle)
            if take:
                self.take_cycles.append(self.cycle)
            if not (valid and ready):
                continue
            if p.first:
                cur = Tlp(bool(p.cursor), p.addr, p.ndw, first_cycle=self.cycle)
            cur.lines.append(int(p.line))
            if p.last:
                self.tlps.append(cur)
                if cur.cursor:
                    self.on_cursor(CURSOR_LINE.from_int(cur.lines[0])["cursor"])
                cur = None
            if self.done():
                return

    def on_cursor(self, c):
        if self.host_lag is None:
            self.doorbell_value = c

    def cursor_value(self):
        curs = [t for t in self.tlps if t.cursor]
        return CURSOR_LINE.from_int(curs[-1].lines[0])["cursor"] if curs else 0

    def done(self):
        curs = [t for t in self.tlps if t.cursor]
        return (self.final and bool(curs)
                and CURSOR_LINE.from_int(curs[-1].lines[0])["cursor"] >= self.n)

    async def doorbeller(self, ctx):
        d = self.dut
        last = 0
        while self.cycle < self.max_cycles and not self.done():
            await ctx.tick()
            if self.host_lag is not None:
                curs = [t for t in self.tlps if t.cursor]
                if curs and self.rng.random() < 1 / self.host_lag:
                    self.doorbell_value = CURSOR_LINE.from_int(curs[-1].lines[0])["cursor"]
            if self.doorbell_value != last:
                last = self.doorbell_value
                self.doorbell_history.append((self.cycle, last))
                ctx.set(d.regs.doorbell, last)
                ctx.set(d.regs.doorbell_w, 1)
                await ctx.tick()
                ctx.set(d.regs.doorbell_w, 0)

    async def main(self, ctx):
        await self.config(ctx, enable=not self.backlog)
        if self.backlog:
            await self.producer(ctx)
            for _ in range(5):
                await ctx.tick()
            await self.command(ctx, 1)
        else:
            await self.producer(ctx)
        self.final = True

    def run(self):
        sim = Simulator(self.dut)
        sim.add_clock(4e-9)
        sim.add_testbench(self.main)
        sim.add_testbench(self.consumer, background=True)
        sim.add_testbench(self.doorbeller, background=True)
        sim.run_until(self.max_cycles * 4e-9)
        return self

    # -- checks against the reference ------------------------------------------------------
    def data_tlps(self):
        return [t for t in self.tlps if not t.cursor]

    def check_rules(self):
        """Every TLP obeys the splitting rules; entries in order, at their slots; the cursor
        never ahead of the data; flow control against the doorbell."""
        c = self.cfg
        size, base = c["size"], c["base"]
        seen = 0
        writes = 0
        for t in self.tlps:
            if t.cursor:
                line = CURSOR_LINE.from_int(t.lines[0])
                assert t.addr == c["cursor"] and t.ndw == CURSOR_DWORDS and len(t.lines) == 1
                assert line["cursor"] <= seen, "cursor ahead of data"
                # the count restarts at 1 after a (re-)enable
                assert line["writes"] in (writes + 1, 1), (line["writes"], writes)
                writes = line["writes"]
                continue
            k = t.ndw // 16
            assert t.ndw == 16 * k and len(t.lines) == k >= 1
            assert k * 64 <= c["mps"], f"{k} entries above MPS {c['mps']}"
            assert k <= c["batch"]
            assert (t.addr & 0xFFF) + k * 64 <= 4096, "crosses 4 KiB"
            slot = (t.addr - base) // 64
            assert 0 <= slot and slot + k <= size, "outside the ring / past the wrap"
            for j, line in enumerate(t.lines):
                e = ENTRY.from_int(line)
                assert e["seq"] == seen, f"entry {e['seq']} where {seen} expected"
                assert e["uid"] == seen
                assert e["seq"] % size == slot + j
                seen += 1
        return seen
