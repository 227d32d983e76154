"""cocotb tests of hw/pcie/top.py under Verilator with the cocotbext-pcie UltraScale+ model.

Run through tests/pcie/test_pcie_cocotb.py (one Verilator build per datapath width).
The negotiated MPS comes from the PCIE_MPS environment variable (default 256)."""
from __future__ import annotations

import itertools
import os
import random

import cocotb
from cocotb.triggers import RisingEdge, Timer
from cocotb.utils import get_sim_time

from ringgate.contracts.entry import CURSOR_LINE
from ringgate.contracts.regmap import (Access, BAR0_SIZE, Control, Error, ID_VALUE, MaxPayload, REGMAP, Status,
                                       VERSION_VALUE)
from ringgate.contracts.pcie import mps_code
from ringgate.sw.driver.registers import ConfigError
from ringgate.sim.pcie.tb import TB, HostConsumer, clear_pause, set_random_pause

MPS = int(os.environ.get("PCIE_MPS", "256"))
SEED = int(os.environ.get("PCIE_SEED", "1"))


async def setup(dut, mps=MPS):
    tb = TB(dut, mps=mps, seed=SEED)
    await tb.init()
    return tb


async def stop(tb):
    await tb.regs.write("CONTROL", 0)
    for _ in range(100):
        if not await tb.regs.read("STATUS") & Status.BUSY:
            return
    raise AssertionError("writer still busy after disable")


async def clocks(dut, n):
    for _ in range(n):
        await RisingEdge(dut.clk)


@cocotb.test(timeout_time=2000, timeout_unit="us")
async def registers(dut):
    """Enumeration, bus mastering, every register, access rules, unknown offsets, UR."""
    tb = await setup(dut)
    regs, bar = tb.regs, tb.bar
    assert int(dut.cfg_function_status.value) & 4, "bus mastering not enabled"
    assert await regs.read("ID") == ID_VALUE
    assert await regs.read("VERSION") == VERSION_VALUE
    assert (await regs.fields("CAPS"))["DATAPATH_BITS"] == tb.width
    # Reset values of every register with a fixed reset.
    for r in REGMAP:
        if r.reset is not None and r.name not in ("STATUS",):
            got = await regs.read(r.name)
            assert got == r.reset, f"{r.name} resets to {got:#x}, map says {r.reset:#x}"
    st = await regs.read("STATUS")
    assert st & Status.BUS_MASTER and not st & Status.ENABLED
    assert REGMAP["STATUS"].unpack(st)["MPS"] == MaxPayload(mps_code(MPS))
    # RW registers: 32-bit and 64-bit access, low/high halves.
    rng = random.Random(SEED)
    for r in REGMAP:
        if r.access is not Access.RW or r.name == "DOORBELL":
            continue
        v = rng.getrandbits(r.width)
        await regs.write(r.name, v)
        # a register with fields keeps only their bits (unlisted bits read 0)
        assert await regs.read(r.name) == v & r.field_mask, r.name
        if r.width == 64:
            v2 = rng.getrandbits(64)
            await bar.write_qword(r.offset, v2)
            assert await bar.read_qword(r.offset, timeout=2000, timeout_unit="ns") == v2 & r.field_mask
            # a lone low-half write is staged, not applied
            await bar.write_dword(r.offset, 0x1234_5678)
            assert await regs.read(r.name) == v2 & r.field_mask
            await bar.write_dword(r.offset + 4, 0x9ABC_DEF0)
            assert await regs.read(r.name) == 0x9ABC_DEF0_1234_5678 & r.field_mask
        await regs.write(r.name, r.reset)
    # 2-DW access to a row of two 32-bit registers.
    await bar.write_qword(REGMAP.offset("SCRATCH") - 4, 0xDEAD_BEEF_0000_0000)
    assert await regs.read("SCRATCH") == 0xDEAD_BEEF
    assert await regs.read("ERROR") & Error.BAD_ACCESS, "write to read-only CAPS not flagged"
    await regs.write("ERROR", 0xFFFF_FFFF)
    assert await regs.read("ERROR") == 0
    # RO counters: TIMESTAMP runs, 64-bit read is consistent.
    t0 = await regs.read("TIMESTAMP")
    t1 = await bar.read_qword(REGMAP.offset("TIMESTAMP"), timeout=2000, timeout_unit="ns")
    assert t1 > t0
    # Writes to read-only registers are ignored and counted.
    bad0 = await regs.read("BAD_ACCESSES")
    await bar.write_dword(REGMAP.offset("ID"), 0)
    assert await regs.read("ID") == ID_VALUE
    # Unknown offsets read as zero and ignore writes.
    holes = [o for o in range(0, 0x100, 4) if REGMAP.dword(o) is None] + [0x100, 0xFFC]
    for o in holes:
        await bar.write_dword(o, 0xFFFF_FFFF)
        assert await bar.read_dword(o, timeout=2000, timeout_unit="ns") == 0, f"hole {o:#x}"
    assert await regs.read("BAD_ACCESSES") == bad0 + 1 + 2 * len(holes)
    assert await regs.errors() == ["BAD_ACCESS"]
    # Partial byte-enable write: dropped.
    await regs.write("SCRATCH", 0x1111_1111)
    await bar.write_byte(REGMAP.offset("SCRATCH"), 0x22)
    assert await regs.read("SCRATCH") == 0x1111_1111
    # A 3-DW read, and a 2-DW read not 8-byte aligned, get an Unsupported Request
    # completion at once (never a hang, never a timeout).
    statuses = []

    async def cc_watch():
        while True:
            await RisingEdge(dut.clk)
            if dut.s_axis_cc_tvalid.value and dut.s_axis_cc_tready.value:
                statuses.append((int(dut.s_axis_cc_tdata.value) >> 43) & 7)
    watcher = cocotb.start_soon(cc_watch())
    for off, n in ((0x20, 12), (0x24, 8)):
        statuses.clear()
        t0 = get_sim_time("ns")
        try:
            await bar.read(off, n, timeout=5000, timeout_unit="ns")
        except Exception as e:          # the RC raises on a non-SC completion
            assert "Unsuccessful completion" in str(e), e
        else:
            raise AssertionError(f"{n}-byte read at {off:#x} completed successfully")
        assert get_sim_time("ns") - t0 < 1000, "unsupported read not answered promptly"
        assert 1 in statuses, f"no UR completion for a {n}-byte read at {off:#x}: {statuses}"
    statuses.clear()
    assert await regs.read("ID") == ID_VALUE and statuses == [0]
    watcher.cancel()
    # the device answered: a following read works
    assert await regs.read("ID") == ID_VALUE
    # Status/Control: RESET clears the sticky errors and the bad-access counter.
    await regs.write("CONTROL", Control.RESET)
    await clocks(dut, 10)
    assert await regs.read("ERROR") == 0
    assert await regs.read("BAD_ACCESSES") == 0
    assert not tb.monitor.tlps, "no DMA write may happen in this test"


@cocotb.test(timeout_time=2000, timeout_unit="us")
async def config_errors(dut):
    """Each invalid configuration is refused with its error bit; nothing reaches host memory."""
    tb = await setup(dut)
    regs = tb.regs
    ring, base = tb.alloc(64 * 64)
    _, caddr = tb.alloc(4096)
    await tb.push(tb.new_entries(3))
    tb.cfg = (base, 64, caddr)
    cases = [
        (dict(RING_SIZE=0), Error.RING_SIZE_INVALID),
        (dict(RING_SIZE=48), Error.RING_SIZE_INVALID),
        (dict(RING_SIZE=1 << 27), Error.RING_SIZE_INVALID),
        (dict(RING_BASE=base + 64), Error.RING_BASE_UNALIGNED),
        (dict(CURSOR_ADDR=caddr + 8), Error.CURSOR_ADDR_UNALIGNED),
        (dict(CURSOR_ADDR=base + 64 * 63), Error.CURSOR_IN_RING),
        (dict(BATCH_LIMIT=0), Error.LIMIT_INVALID),
        (dict(CURSOR_INTERVAL=0), Error.LIMIT_INVALID),
        (dict(DOORBELL=100), Error.DOORBELL_RANGE),
    ]
    good = dict(RING_BASE=base, RING_SIZE=64, CURSOR_ADDR=caddr, BATCH_LIMIT=16, CURSOR_INTERVAL=1, DOORBELL=0)
    for change, err in cases:
        for k, v in {**good, **change}.items():
            await regs.write(k, v)
        await regs.write("ERROR", 0xFFFF_FFFF)
        await regs.write("CONTROL", Control.ENABLE)
        await clocks(dut, 8)
        assert not await regs.read("CONTROL") & Control.ENABLE, change
        e = await regs.read("ERROR")
        assert e == err, f"{change}: error {e:#x}, expected {err!r}"
        assert not await regs.read("STATUS") & Status.BUSY
    await clocks(dut, 50)
    assert not tb.monitor.tlps, "a refused configuration wrote to host memory"
    # Config writes while enabled are refused.
    first = await tb.start(base, 64, caddr)
    await tb.wait_cursor(3)
    await regs.write("RING_SIZE", 128)
    assert await regs.read("RING_SIZE") == 64
    assert await regs.read("ERROR") & Error.CONFIG_LOCKED
    # Doorbell backwards or beyond SENT is ignored.
    await regs.write("ERROR", 0xFFFF_FFFF)
    await regs.doorbell(10)
    await clocks(dut, 8)
    assert await regs.read("ERROR") == Error.DOORBELL_RANGE
    assert await regs.read("HOST_CONSUMED") == first
    # ConfigError from the driver accessor names the reason.
    await regs.write("CONTROL", 0)
    try:
        await regs.start(base + 4096 * 0, 64, caddr, batch_limit=0)
    except ConfigError as ex:
        assert ex.errors == Error.LIMIT_INVALID
    else:
        raise AssertionError("zero batch limit accepted")


async def run_traffic(tb, *, n, ring_size, batch=16, interval=1, p_gap=0.0, rq_pause_p=0.0,
                      consumer_delay=(0, 400), consumer_batch=1):
    ring, base = tb.alloc(ring_size * 64)
    cmem, caddr = tb.alloc(4096)
    if rq_pause_p:
        set_random_pause(tb.dev.rq_sink, random.Random(SEED + 7), rq_pause_p)
    first = await tb.start(base, ring_size, caddr, batch_limit=batch, cursor_interval=interval)
    host = HostConsumer(tb, ring.mem if hasattr(ring, "mem") else ring, ring_size, cmem, first,
                        delay=consumer_delay, batch=consumer_batch)
    await tb.push(tb.new_entries(n), p_gap=p_gap)
    for _ in range(4000):
        if host.consumed >= first + n:
            break
        await Timer(500, "ns")
    assert host.consumed == first + n, f"host consumed {host.consumed}, expected {first + n}"
    await host.stop()
    if rq_pause_p:
        clear_pause(tb.dev.rq_sink)
    return ring, cmem, base, caddr, first


@cocotb.test(timeout_time=2000, timeout_unit="us")
async def end_to_end(dut):
    """>= 5 laps of a 64-entry host ring, slow lagging doorbell, random RQ back-pressure,
    random producer gaps; host memory and cursor line byte-exact."""
    tb = await setup(dut)
    size = 64
    n = 5 * size + 37
    ring, cmem, base, caddr, first = await run_traffic(
        tb, n=n, ring_size=size, p_gap=0.5, rq_pause_p=0.3, consumer_delay=(50, 1500), consumer_batch=8)
    await tb.wait_cursor(first + n)
    await clocks(dut, 50)
    line = CURSOR_LINE.decode(bytes(cmem[0:64]))
    assert line["cursor"] == first + n
    assert line["writes"] == await tb.regs.read("CURSOR_WRITES") == len(tb.monitor.cursor_writes)
    assert line["timestamp"] < await tb.regs.read("TIMESTAMP")
    assert all(x == 0 for x in bytes(cmem[24:64])), "cursor line beyond 24 bytes touched"
    # Final host memory against the golden model: the latest lap in every slot.
    for slot in range(size):
        s = max(q for q in range(first, first + n) if q % size == slot)
        assert bytes(ring[slot * 64:(slot + 1) * 64]) == tb.expected_entry(s), slot
    assert tb.monitor.entries_seen == n
    assert await tb.regs.read("SENT") == first + n
    assert await tb.regs.read("HOST_FULL_CYCLES") > 0, "the slow consumer never filled the ring"
    assert await tb.regs.read("RQ_STALL_CYCLES") > 0
    # Batches: never above MPS, and larger than one entry when backlogged.
    sizes = [t[2] for t in tb.monitor.tlps if t[0] == "data"]
    assert max(sizes) * 4 <= MPS and max(sizes) * 4 == min(MPS, 1024)


def data_tlps(tb):
    return [t for t in tb.monitor.tlps if t[0] == "data"]


@cocotb.test(timeout_time=2000, timeout_unit="us")
async def mps_split(dut):
    """Backlog at the negotiated MPS: TLPs are exactly min(MPS, batch, 4 KiB, wrap) long; the
    wrap point and 4 KiB boundary cut TLPs; the batch limit applies."""
    tb = await setup(dut)
    size = 128                       # 8 KiB: one 4 KiB boundary inside, one wrap
    ring, base = tb.alloc(size * 64)
    cmem, caddr = tb.alloc(4096)
    # Start at sequence 0 with 2 entries, then a backlog that spans the 4 KiB boundary.
    first = await tb.start(base, size, caddr, batch_limit=16, cursor_interval=1)
    await tb.push(tb.new_entries(60))
    await tb.wait_cursor(first + 60)
    await tb.doorbell(first + 60)
    await stop(tb)
    await tb.push(tb.new_entries(100))           # backlog of 100 queued while disabled
    await tb.regs.write("CONTROL", Control.ENABLE)
    await tb.wait_cursor(first + 160)
    per = min(MPS, 1024) // 64
    tl = data_tlps(tb)
    # The backlogged part: from slot 60 to slot 128 (4 KiB at slot 64, wrap at 128) then 32 more.
    back = [(((a - base) // 64), nd // 16) for _, a, nd, *_ in tl if (a - base) // 64 >= 0][-200:]
    seq = first + 60
    expect = []
    left = 100
    while left:
        slot = seq % size
        k = min(left, per, 64 - slot % 64, size - slot, 16)
        expect.append((slot, k))
        seq += k
        left -= k
    got = back[-len(expect):]
    assert got == expect, f"splits {got} != expected {expect}"
    # Batch limit 3, cursor interval 4.
    await tb.doorbell(first + 160)
    await stop(tb)
    await tb.regs.write("BATCH_LIMIT", 3)
    await tb.regs.write("CURSOR_INTERVAL", 4)
    await tb.push(tb.new_entries(40))
    ncur = len(tb.monitor.cursor_writes)
    await tb.regs.write("CONTROL", Control.ENABLE)
    await tb.wait_cursor(first + 200)
    tl = data_tlps(tb)[-(40 // 1):]
    newt = [t for t in data_tlps(tb) if t[3] > 0][-14:]
    assert all(t[2] // 16 <= 3 for t in data_tlps(tb)[-14:])
    curs = tb.monitor.cursor_writes[ncur:]
    assert len(curs) <= 40 // 3 // 4 + 3, f"{len(curs)} cursor writes with interval 4"


@cocotb.test(timeout_time=2000, timeout_unit="us")
async def latency_and_throughput(dut):
    """Exact idle latency in cycles and backlog throughput in entries per cycle."""
    tb = await setup(dut)
    size = 1024
    ring, base = tb.alloc(size * 64)
    cmem, caddr = tb.alloc(4096)
    first = await tb.start(base, size, caddr, batch_limit=16, cursor_interval=1)
    dut_ = tb.dut
    results = {}
    # Idle latency: one entry; cycles from ring handshake (ring_take) to the first RQ beat
    # of its data TLP and to the last beat of the cursor TLP.
    lat_first, lat_cursor, lat_push = [], [], []
    mon = tb.monitor
    for k in range(5):
        await clocks(dut_, 30)
        await tb.push(tb.new_entries(1))
        await tb.wait_cursor(first + k + 1)
        d = data_tlps(tb)[-1]
        cur = mon.cursor_writes[-1][0]
        take, push = mon.take_cycles[-1], mon.push_cycles[-1]
        lat_first.append(d[3] - take)
        lat_cursor.append(cur - take)
        lat_push.append(d[3] - push)
    assert len(set(lat_first)) == 1 and len(set(lat_cursor)) == 1, (lat_first, lat_cursor)
    results["take_to_first_beat"] = lat_first[0]
    results["take_to_cursor_last_beat"] = lat_cursor[0]
    results["push_to_first_beat"] = lat_push[0]
    exp = {256: (2, 6, 4), 512: (2, 4, 4)}[tb.width]
    assert (lat_first[0], lat_cursor[0], lat_push[0]) == exp, (lat_first[0], lat_cursor[0], lat_push[0])
    # Backlog throughput: queue N entries while disabled, enable, count RQ cycles.
    await tb.doorbell(first + 5)
    await stop(tb)
    interval = int(os.environ.get("PCIE_INTERVAL", "1"))
    await tb.regs.write("CURSOR_INTERVAL", interval)
    N = 256
    await tb.push(tb.new_entries(N))
    n0 = len(tb.monitor.tlps)
    await tb.regs.write("CONTROL", Control.ENABLE)
    await tb.wait_cursor(first + 5 + N)
    tl = tb.monitor.tlps[n0:]
    cycles = tl[-1][4] - tl[0][3] + 1
    beats = sum(-(-(16 + t[2] * 4) // (tb.width // 8)) for t in tl)
    results["backlog_entries"] = N
    results["backlog_cycles"] = cycles
    results["rq_beats"] = beats
    results["entries_per_cycle"] = N / cycles
    results["mps"] = MPS
    results["cursor_interval"] = interval
    results["data_tlps"] = sum(1 for t in tl if t[0] == "data")
    results["cursor_tlps"] = sum(1 for t in tl if t[0] == "cursor")
    dut._log.info("PCIE_RESULTS %r", results)
    results["rq_idle_cycles"] = cycles - beats
    # The split limits settle 3 cycles after a data TLP's header, so a data TLP plus the
    # cursor TLP after it (if any) shorter than 4 RQ beats leaves 4 - beats idle cycles
    # (a one-entry TLP cut by a 4 KiB boundary, or MPS 128 at 512 bits without cursor).
    # Nothing else may idle RQ during a backlog.
    width_b = tb.width // 8
    slack = 0
    for k, t in enumerate(tl):
        if t[0] != "data" or k == len(tl) - 1:
            continue
        b = -(-(16 + t[2] * 4) // width_b)
        if tl[k + 1][0] == "cursor":
            b += -(-(16 + 24) // width_b)
        slack += max(0, 4 - b)
    results["rq_idle_bound"] = slack
    assert 0 <= cycles - beats <= slack, f"RQ idle inside a backlog: {beats} beats in {cycles} cycles (allowed {slack})"
    with open(os.environ.get("PCIE_RESULTS", "/dev/null"), "a") as fh:
        fh.write(f"{tb.width} {results!r}\n")


@cocotb.test(timeout_time=2000, timeout_unit="us")
async def reconfigure_and_reset(dut):
    """Disable, move the ring, RESET, and re-enable while entries keep arriving: every write
    lands in the ring configured at that moment or its cursor line, and no entry is lost."""
    tb = await setup(dut)
    rng = random.Random(SEED)
    host_rings = []
    total = 0
    first_seq = await tb.regs.read("SENT")
    producer = None
    seqs_written = 0
    for round_ in range(4):
        size = rng.choice([16, 32, 64])
        ring, base = tb.alloc(size * 64)
        cmem, caddr = tb.alloc(4096)
        set_random_pause(tb.dev.rq_sink, random.Random(round_), 0.2)
        first = await tb.start(base, size, caddr, batch_limit=rng.choice([1, 4, 16]))
        host = HostConsumer(tb, ring, size, cmem, first, delay=(0, 300), batch=4)
        producer = cocotb.start_soon(tb.push(tb.new_entries(60), p_gap=0.3))
        await Timer(rng.randint(200, 1500), "ns")
        if round_ % 2:
            await tb.regs.write("CONTROL", Control.RESET)
        else:
            await tb.regs.write("CONTROL", 0)
        for _ in range(1000):
            if not await tb.regs.read("STATUS") & Status.BUSY:
                break
        else:
            raise AssertionError("never idle after disable")
        await host.stop()
        sent = await tb.regs.read("SENT")
        line = CURSOR_LINE.decode(bytes(cmem[0:64]))
        assert line["cursor"] == sent == tb.monitor.seen_upto, "cursor not caught up at disable"
        tb.cfg = None            # from here any RQ write is a stray write
        await producer
        await clocks(dut, 30)
        if round_ % 2:
            assert await tb.regs.read("CURSOR_WRITES") == 0
            assert await tb.regs.read("RING_SIZE") in (0, size)
    # drain the rest through a final ring
    ring, base = tb.alloc(64 * 64)
    cmem, caddr = tb.alloc(4096)
    clear_pause(tb.dev.rq_sink)
    first = await tb.start(base, 64, caddr)
    host = HostConsumer(tb, ring, 64, cmem, first, delay=(0, 100), batch=4)
    for _ in range(2000):
        if host.consumed == len(tb.pushed):
            break
        await Timer(200, "ns")
    assert host.consumed == len(tb.pushed), (host.consumed, len(tb.pushed))
    assert tb.monitor.entries_seen == len(tb.pushed)


@cocotb.test(timeout_time=2000, timeout_unit="us")
async def bus_master_loss(dut):
    """Bus mastering cleared and set again while TLPs are in flight (cocotbext-pcie drops
    them and returns no sequence number): the host never reads an entry that did not reach
    its memory, the writer stops with ERROR.TLP_LOST, disable completes within the adapter's
    sequence-number timeout, and a restart at SENT delivers everything after the loss."""
    tb = await setup(dut)
    size = 64
    ring, base = tb.alloc(size * 64)
    cmem, caddr = tb.alloc(4096)
    first = await tb.start(base, size, caddr, batch_limit=4)
    host = HostConsumer(tb, ring, size, cmem, first, delay=(0, 100), batch=4)
    producer = cocotb.start_soon(tb.push(tb.new_entries(300)))
    await Timer(400, "ns")
    await tb.pdev.clear_master()
    await clocks(dut, 20)
    await tb.pdev.set_master()
    await producer
    await clocks(dut, 5000)                     # past the sequence-number timeout (4096)
    err = await tb.regs.read("ERROR")
    assert err & Error.TLP_LOST, f"ERROR {err:#x}: the loss was not reported"
    assert not await tb.regs.read("STATUS") & Status.ENABLED, "the writer carried on after the loss"
    await stop(tb)                              # bounded: BUSY drops
    await host.stop()
    sent = await tb.regs.read("SENT")
    line = CURSOR_LINE.decode(bytes(cmem[0:64]))
    assert host.consumed == line["cursor"] <= sent
    dut._log.info("bus master loss: cursor %d, SENT %d, %d entries lost", line["cursor"], sent, sent - line["cursor"])
    # Resynchronise: a restart continues at SENT (DOORBELL = SENT); every later entry arrives.
    tb.cfg = None
    ring2, base2 = tb.alloc(size * 64)
    cmem2, caddr2 = tb.alloc(4096)
    first2 = await tb.start(base2, size, caddr2)
    assert first2 == sent
    host2 = HostConsumer(tb, ring2, size, cmem2, first2, delay=(0, 100), batch=4)
    await tb.push(tb.new_entries(40))
    for _ in range(400):
        if host2.consumed == len(tb.pushed):
            break
        await Timer(200, "ns")
    assert host2.consumed == len(tb.pushed), (host2.consumed, len(tb.pushed))
    assert not await tb.regs.read("ERROR") & Error.TLP_LOST


@cocotb.test(timeout_time=2000, timeout_unit="us")
async def function_level_reset(dut):
    """Function-level resets while TLPs are in flight (cocotbext-pcie does not model FLR: the
    bench plays the hard block, raising cfg_flr_in_process[0] and clearing bus mastering), once
    with cfg_flr_in_process first (the writer stops before the block drops anything) and once
    with bus mastering cleared first (the block drops TLPs, the wait ends at the adapter's
    sequence-number timeout): each time cfg_flr_done[0] is one pulse within that bound, no
    request follows it, every register reads its reset value; then a new configuration
    delivers entries from sequence 0."""
    tb = await setup(dut)
    size = 1024                                 # room for everything: no doorbell write to race the reset
    for bme_first in (False, True):
        ring, base = tb.alloc(size * 64)
        cmem, caddr = tb.alloc(4096)
        await tb.start(base, size, caddr, batch_limit=4)
        seen0 = tb.monitor.entries_seen
        await tb.push(tb.new_entries(150))      # faster than the writer drains it: it is streaming
        done_cycles = []

        async def watch_done():
            while True:
                await RisingEdge(dut.clk)
                if int(dut.cfg_flr_done.value):
                    assert int(dut.cfg_flr_done.value) == 1, "done for a function that is not being reset"
                    done_cycles.append(tb.cycle)

        watcher = cocotb.start_soon(watch_done())
        start = tb.cycle
        if bme_first:
            await tb.pdev.clear_master()        # the block clears the command register, then ...
            dut.cfg_flr_in_process.value = 1
        else:
            dut.cfg_flr_in_process.value = 1
            await tb.pdev.clear_master()
        while not done_cycles and tb.cycle - start < 6000:
            await RisingEdge(dut.clk)
        await clocks(dut, 20)
        watcher.cancel()
        written = tb.monitor.entries_seen - seen0
        assert len(done_cycles) == 1, f"cfg_flr_done pulses: {done_cycles}"
        dut._log.info("FLR (bus mastering cleared %s) done %d cycles after it started, %d of 150 entries on RQ",
                      "first" if bme_first else "second", done_cycles[0] - start, written)
        assert 0 < written < 150, "the reset did not interrupt a stream"
        if bme_first:                           # TLPs dropped: the wait ends at the 4096-cycle timeout
            assert 4096 <= done_cycles[0] - start < 4096 + 100, done_cycles[0] - start
        else:                                   # the writer stops at once, everything returns
            assert done_cycles[0] - start < 100, done_cycles[0] - start
        tlps = len(tb.monitor.tlps)
        tb.cfg = None                           # from here any RQ write is a stray write
        await clocks(dut, 20)
        dut.cfg_flr_in_process.value = 0
        await tb.pdev.set_master()
        assert len(tb.monitor.tlps) == tlps, "a request after cfg_flr_done"
        for r in REGMAP:
            if r.reset is not None and r.name != "STATUS":
                got = await tb.regs.read(r.name)
                assert got == r.reset, f"{r.name} reads {got:#x} after the FLR, its reset value is {r.reset:#x}"
        assert not await tb.regs.read("STATUS") & (Status.ENABLED | Status.BUSY)
        # The function's sequences restarted: what was in the ring is gone, sequence 0 is next.
        tb.pushed.clear()
    ring2, base2 = tb.alloc(size * 64)
    cmem2, caddr2 = tb.alloc(4096)
    assert await tb.start(base2, size, caddr2) == 0
    host2 = HostConsumer(tb, ring2, size, cmem2, 0, delay=(0, 100), batch=4)
    await tb.push(tb.new_entries(40))
    for _ in range(400):
        if host2.consumed == 40:
            break
        await Timer(200, "ns")
    assert host2.consumed == 40, host2.consumed
