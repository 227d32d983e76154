"""Bus mastering cleared while the DMA writer streams through the RQ adapter (amaranth.sim,
both datapath widths): the testbench plays the hard block, which drops a TLP (and returns no
sequence number for it) when bus mastering is off at any cycle from its first beat to the
cycle it takes it in. For losses of 24 cycles at every phase of the stream: no cursor write
the host receives announces an entry whose data TLP was dropped, a drop is always reported
(ERROR.TLP_LOST), and after a disable (bounded by the adapter's sequence-number timeout) and
a restart at SENT the writer delivers again. One-cycle losses show the known gap (a cursor
write decided before the loss is visible, delivered after it): a strict xfail."""
import random

import pytest
from amaranth.sim import Simulator

from ringgate.contracts.entry import CURSOR_LINE, ENTRY
from ringgate.contracts.pcie import mps_code
from ringgate.sim.pcie.dma_bench import LAYOUT, RqHarness

BASE, CURSOR, SIZE = 0x10000, 0x80000, 64
LATENCY = 2                 # cycles from a TLP's last beat to the block taking it


class Block:
    """The hard block's RQ side: beats into TLPs, the bus-master check, sequence-number returns,
    and what reached host memory."""

    def __init__(self, dut, rng):
        self.dut, self.rng = dut, rng
        self.cycle = 0
        self.bme = {}                 # cycle -> bus mastering on
        self.low = []                 # (start, length) windows of bus mastering off
        self.beats, self.first = [], None
        self.queue = []               # (cycle taken, first beat cycle, dwords)
        self.delivered = set()        # entry sequences in host memory
        self.dropped = []             # sequences of entries in dropped data TLPs
        self.violations = []          # (cursor announced, sequences below it not delivered)
        self.floor = 0                # SENT at the last enable: entries below are not expected
        self.last_cursor = None       # the last cursor value the host received

    def bus_master(self, cycle):
        return not any(s <= cycle < s + n for s, n in self.low)

    def take(self, dwords, first):
        ndw = dwords[2] & 0x7FF
        addr = (dwords[0] | dwords[1] << 32) & ~3
        payload = b"".join(d.to_bytes(4, "little") for d in dwords[4:4 + ndw])
        dropped = not all(self.bme.get(c, True) for c in range(first, self.cycle + 1))
        if addr == CURSOR:
            line = CURSOR_LINE.decode(payload.ljust(64, b"\0"))
            if not dropped:
                self.last_cursor = line["cursor"]
                missing = [s for s in range(self.floor, line["cursor"]) if s not in self.delivered]
                if missing:
                    self.violations.append((line["cursor"], missing))
            return not dropped
        entries = [ENTRY.decode(payload[k:k + 64]) for k in range(0, len(payload), 64)]
        assert all(e["uid"] == e["seq"] for e in entries), "an entry's bytes were mixed up on RQ"
        seqs = [e["seq"] for e in entries]
        if dropped:
            self.dropped.extend(seqs)
        else:
            self.delivered.update(seqs)
        return not dropped

    async def run(self, ctx):
        d, width = self.dut, self.dut.width
        while True:
            bm = self.bus_master(self.cycle)
            self.bme[self.cycle] = bm
            ctx.set(d.bus_master, bm)
            ctx.set(d.axis.tready, self.rng.random() < 0.8)
            returned = False
            for item in [q for q in self.queue if q[0] == self.cycle]:
                self.queue.remove(item)
                returned |= self.take(item[2], item[1])
            ctx.set(d.seq.seq_num_vld0, returned)
            _, _, valid, ready, tdata, tkeep, tlast = await ctx.tick().sample(
                d.axis.tvalid, d.axis.tready, d.axis.tdata, d.axis.tkeep, d.axis.tlast)
            if valid and ready:
                if self.first is None:
                    self.first = self.cycle
                self.beats += [(tdata >> (32 * k)) & 0xFFFF_FFFF for k in range(width // 32) if tkeep >> k & 1]
                if tlast:
                    self.queue.append((self.cycle + LATENCY, self.first, self.beats))
                    self.beats, self.first = [], None
            self.cycle += 1


async def command(ctx, regs, value):
    ctx.set(regs.control.as_value(), value)
    ctx.set(regs.control_w, 1)
    await ctx.tick()
    ctx.set(regs.control_w, 0)
    await ctx.tick().repeat(4)


def run_windows(width, windows, *, per_episode=10, seed=0):
    """One episode per (start, length) window of bus mastering off, ``start`` cycles after an
    enable with ``per_episode`` entries waiting; returns the block model and the episodes'
    (dropped, reported) flags."""
    dut = RqHarness(width, seq_timeout=32)
    block = Block(dut, random.Random(seed))
    episodes = []
    reported = []

    async def errors(ctx):
        async for _, _, lost in ctx.tick().sample(dut.regs.error_set.tlp_lost):
            if lost:
                reported.append(block.cycle)

    async def main(ctx):
        regs = dut.regs
        for name, value in (("ring_base", BASE), ("ring_size", SIZE), ("cursor_addr", CURSOR),
                            ("batch_limit", 16), ("cursor_interval", 1)):
            ctx.set(getattr(regs, name), value)
        ctx.set(dut.mps, mps_code(128))                 # two entries per data TLP
        uid = 0
        for start, length in windows:
            for _ in range(per_episode):
                ctx.set(dut.i.payload, LAYOUT.const({"uid": uid}))
                ctx.set(dut.i.valid, 1)
                await ctx.tick().until(dut.i.ready)
                uid += 1
            ctx.set(dut.i.valid, 0)
            sent = ctx.get(regs.sent)
            ctx.set(regs.doorbell, sent)
            ctx.set(regs.doorbell_w, 1)
            await ctx.tick()
            ctx.set(regs.doorbell_w, 0)
            block.floor = sent
            dropped0, reported0 = len(block.dropped), len(reported)
            block.low.append((block.cycle + start, length))
            await command(ctx, regs, 1)
            await ctx.tick().repeat(100 if length else 500)    # the clean one drains the backlog
            await command(ctx, regs, 0)
            for _ in range(200):
                if not ctx.get(regs.status.busy):
                    break
                await ctx.tick()
            else:
                raise AssertionError("disable did not complete")
            await command(ctx, regs, 2)                  # CONTROL.RESET
            episodes.append((len(block.dropped) > dropped0, len(reported) > reported0))

    sim = Simulator(dut)
    sim.add_clock(4e-9)
    sim.add_testbench(main)
    sim.add_testbench(block.run, background=True)
    sim.add_process(errors)
    sim.run()
    return block, episodes


def check(block, episodes, windows):
    assert not block.violations, f"cursor writes announcing dropped entries: {block.violations[:3]}"
    assert any(dropped for dropped, _ in episodes), "no window hit a TLP: the sweep tests nothing"
    unreported = [w for w, (dropped, rep) in zip(windows, episodes) if dropped and not rep]
    assert not unreported, f"TLPs dropped without ERROR.TLP_LOST: windows {unreported}"


@pytest.mark.parametrize("width", [256, 512])
def test_bus_master_loss_never_announces_a_dropped_entry(width):
    """Windows of 24 cycles, starting at every third cycle of a stream of data and cursor
    TLPs; then a clean episode: everything after the losses arrives and is announced."""
    windows = [(start, 24) for start in range(2, 44, 3)] + [(0, 0)]
    block, episodes = run_windows(width, windows)
    check(block, episodes, windows)
    assert block.last_cursor == 10 * len(windows), "the clean episode did not announce every entry"
    assert all(s in block.delivered for s in range(block.floor, block.last_cursor))


@pytest.mark.xfail(strict=True, reason="a cursor write decided before a short loss is visible is "
                   "delivered after it, announcing a data TLP the block dropped (docs/pcie.md)")
def test_bus_master_short_losses_never_announce_a_dropped_entry():
    windows = [(start, 1) for start in range(2, 44, 3)]
    block, episodes = run_windows(256, windows)
    check(block, episodes, windows)
