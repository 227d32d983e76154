"""amaranth.sim unit tests of the DMA writer core (hw/pcie_dma.py) against the Python
reference of its splitting decisions (ringgate/model/tlp.py)."""
import random

import pytest

from ringgate.model.tlp import plan_backlog, split_limit
from ringgate.sim.pcie.dma_bench import Scenario
from ringgate.contracts.entry import CURSOR_LINE, ENTRY
from ringgate.contracts.regmap import Error


def test_pcie_split_reference_examples():
    # 4 KiB boundary at slot 64, wrap at the ring size, MPS and batch limits.
    assert split_limit(60, 128, 1024, 16, 128) == 4
    assert split_limit(64, 128, 1024, 16, 128) == 16
    assert split_limit(14, 16, 1024, 16, 16) == 2
    assert split_limit(0, 1024, 256, 16, 1024) == 4
    assert split_limit(0, 1024, 1024, 3, 1024) == 3
    assert split_limit(0, 1024, 1024, 16, 2) == 2
    assert plan_backlog(60, 10, 128, 512, 16, 0) == [(60, 4), (64, 6)]


@pytest.mark.parametrize("size,mps,batch,first", [
    (128, 256, 16, 0), (128, 1024, 16, 60), (16, 512, 16, 5), (1, 128, 16, 0), (2, 1024, 16, 1),
    (4096, 1024, 16, 4090), (256, 512, 5, 250), (128, 128, 1, 3),
])
def test_pcie_backlog_splits_match_reference(size, mps, batch, first):
    """After `first` entries sent one by one, a backlog of 90 queued while disabled goes out
    in exactly the reference split (when the host ring has room for all of it), and never
    above the reference limit otherwise."""
    n = 90
    s = Scenario(size=size, mps=mps, batch=batch, max_cycles=40000, depth=256)
    _run_two_phase(s, first, n)
    assert s.check_rules() == first + n
    backlog = [(ENTRY.from_int(t.lines[0])["seq"], len(t.lines)) for t in s.data_tlps()]
    backlog = [b for b in backlog if b[0] >= first]
    if size >= n:
        assert backlog == plan_backlog(first, n, size, mps, batch, consumed=first)
    for seq, k in backlog:
        assert k <= split_limit(seq, size, mps, batch, size)


def _run_two_phase(s, first, n):
    from amaranth.sim import Simulator

    async def main(ctx):
        await s.config(ctx, enable=True)
        s.n = first
        await s.producer(ctx)
        while s.cursor_value() < first:
            await ctx.tick()
        await s.command(ctx, 0)
        for _ in range(30):
            await ctx.tick()
        s.n = first + n
        d = s.dut
        from ringgate.sim.pcie.dma_bench import LAYOUT
        for k in range(first, first + n):
            ctx.set(d.i.payload, LAYOUT.const({"uid": k}))
            ctx.set(d.i.valid, 1)
            await ctx.tick().until(d.i.ready)
        ctx.set(d.i.valid, 0)
        for _ in range(3):
            await ctx.tick()
        await s.command(ctx, 1)
        s.final = True

    sim = Simulator(s.dut)
    sim.add_clock(4e-9)
    sim.add_testbench(main)
    sim.add_testbench(s.consumer, background=True)
    sim.add_testbench(s.doorbeller, background=True)
    sim.run_until(s.max_cycles * 4e-9)
    return s


@pytest.mark.parametrize("seed", range(12))
def test_pcie_random_traffic_rules(seed):
    """Random sizes, MPS, batch limits, cursor intervals, producer gaps, request back-pressure
    and a lagging host: every TLP obeys the rules, every entry arrives once and in order, the
    cursor catches up."""
    rng = random.Random(seed)
    size = rng.choice([1, 2, 4, 16, 64, 128])
    s = Scenario(n=150, size=size, mps=rng.choice([128, 256, 512, 1024]), batch=rng.choice([1, 2, 5, 16, 100]),
                 interval=rng.choice([1, 2, 4]), p_ready=rng.choice([1.0, 0.8, 0.4]),
                 p_push=rng.choice([1.0, 0.6, 0.2]), host_lag=rng.choice([None, 5, 40]), seed=seed,
                 max_cycles=40000).run()
    assert s.check_rules() == 150
    last = CURSOR_LINE.from_int([t for t in s.tlps if t.cursor][-1].lines[0])
    assert last["cursor"] == 150


def test_pcie_latency_first_single_entries():
    """Lone entries go out at once, one per TLP, each followed by its cursor write; the
    entry's ring handshake precedes its first request line by exactly one cycle."""
    s = Scenario(n=6, size=64, p_push=0.02, seed=3, max_cycles=4000).run()
    s.check_rules()
    data = s.data_tlps()
    assert [len(t.lines) for t in data] == [1] * 6
    kinds = [t.cursor for t in s.tlps]
    assert kinds == [False, True] * 6
    for t, take in zip(data, s.take_cycles):
        assert t.first_cycle - take == 1


def test_pcie_flow_control_waits_for_doorbell():
    """With the host never ringing the doorbell, exactly `size` entries are written."""
    s = Scenario(n=40, size=16, host_lag=10 ** 9, max_cycles=3000).run()
    assert s.check_rules() == 16
    assert sum(len(t.lines) for t in s.data_tlps()) == 16


def test_pcie_cursor_interval_coalesces_under_backlog():
    s = Scenario(n=128, size=256, mps=256, interval=4, backlog=True, max_cycles=6000, depth=256).run()
    s.check_rules()
    curs = [t for t in s.tlps if t.cursor]
    assert len(s.data_tlps()) == 32 and len(curs) == 8


@pytest.mark.parametrize("field,value,err", [
    ("size", 0, Error.RING_SIZE_INVALID), ("size", 12, Error.RING_SIZE_INVALID),
    ("base", 0x10040, Error.RING_BASE_UNALIGNED), ("cursor", 0x80020, Error.CURSOR_ADDR_UNALIGNED),
    ("cursor", 0x10000 + 64 * 63, Error.CURSOR_IN_RING), ("cursor", 0x10000 - 32, Error.CURSOR_ADDR_UNALIGNED | Error.CURSOR_IN_RING),
    ("batch", 0, Error.LIMIT_INVALID), ("interval", 0, Error.LIMIT_INVALID),
])
def test_pcie_config_validation(field, value, err):
    s = Scenario(n=4, size=64, max_cycles=400)
    s.cfg[field] = value
    errs = []

    async def watch(ctx):
        async for _, _, e in ctx.tick().sample(s.dut.regs.error_set.as_value()):
            if e:
                errs.append(e)

    from amaranth.sim import Simulator
    sim = Simulator(s.dut)
    sim.add_clock(4e-9)
    sim.add_testbench(s.main)
    sim.add_testbench(s.consumer, background=True)
    sim.add_process(watch)
    sim.run_until(400 * 4e-9)
    assert errs and all(e == err for e in errs), errs  # one refusal, all reasons
    assert not s.tlps, "a refused configuration produced requests"


def test_pcie_host_full_not_reported_after_an_enable_with_room():
    """Entries waiting at an enable, a host ring with room for all of them: STATUS.HOST_FULL
    never reads 1 and HOST_FULL_CYCLES stays 0 (the room flag is fresh from the first cycle)."""
    from amaranth.sim import Simulator
    s = Scenario(n=20, size=64, backlog=True, max_cycles=600)
    full = []

    async def watch(ctx):
        async for _, _, st, cycles in ctx.tick().sample(s.dut.regs.status.host_full, s.dut.regs.host_full_cycles):
            full.append((st, cycles))

    sim = Simulator(s.dut)
    sim.add_clock(4e-9)
    sim.add_testbench(s.main)
    sim.add_testbench(s.consumer, background=True)
    sim.add_testbench(s.doorbeller, background=True)
    sim.add_process(watch)
    sim.run_until(s.max_cycles * 4e-9)
    assert s.check_rules() == 20
    assert not any(st for st, _ in full), "STATUS.HOST_FULL read 1 with room in the host ring"
    assert full[-1][1] == 0, f"HOST_FULL_CYCLES counted {full[-1][1]} with room in the host ring"
