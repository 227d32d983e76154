"""cocotb testbench for hw/pcie/top.py: cocotbext-pcie RootComplex + UltraScalePlusPcieDevice,
an entry producer, a slow host consumer, an RQ monitor and a golden model of host memory."""
from __future__ import annotations

import logging
import random

from unittest import mock

import cocotb
from cocotb.triggers import Event, FallingEdge, ReadOnly, RisingEdge, Timer
from cocotbext.axi import AxiStreamBus
from cocotbext.pcie.core import RootComplex
from cocotbext.pcie.xilinx.us import UltraScalePlusPcieDevice, usp_model
from cocotbext.pcie.xilinx.us.interface import RqSink

from ringgate.contracts.entry import CURSOR_LINE, ENTRY
from ringgate.contracts.pcie import USER_CLOCK_HZ, mps_code
from ringgate.sw.driver.registers import AsyncRegisters


class ResettableRqSink(RqSink):
    """The model's RQ sink, whose TLP assembly starts afresh when the link resets
    (:meth:`link_reset`), as the hard block's transaction layer does under ``user_reset``. The
    model's own sink keeps the beats of a TLP cut short by a reset and glues them onto the next
    TLP (which then fails its length check); here the library's assembly loop runs as a task that
    a reset cancels and restarts, dropping the partial TLP."""

    def _init(self):
        super()._init()
        self._reset_event = Event()

    def link_reset(self) -> None:
        self._reset_event.set()

    async def _run(self):
        while True:
            task = cocotb.start_soon(RqSink._run(self))
            await self._reset_event.wait()
            self._reset_event.clear()
            task.cancel()
            self.sample_obj = None
            self.active = False


def attach_pcie_model(dut, width: int, mps: int):
    """A cocotbext-pcie RootComplex and UltraScale+ device bound to a ``PcieTop`` build: Gen3 x8
    (256-bit) or x16 (512-bit) at 250 MHz, one function with a 4 KiB BAR0, MPS ``mps`` bytes."""
    rc = RootComplex()
    rc.max_payload_size = mps_code(mps)
    rc.max_read_request_size = 2
    w512 = width == 512
    kw = dict(
        pcie_generation=3, pcie_link_width=16 if w512 else 8, user_clk_frequency=USER_CLOCK_HZ,
        alignment="dword", pf_count=1, max_payload_size=1024, enable_client_tag=True,
        user_clk=dut.clk, user_reset=dut.rst,
        rq_bus=AxiStreamBus.from_prefix(dut, "s_axis_rq"),
        pcie_rq_seq_num0=dut.pcie_rq_seq_num0, pcie_rq_seq_num_vld0=dut.pcie_rq_seq_num_vld0,
        cq_bus=AxiStreamBus.from_prefix(dut, "m_axis_cq"), pcie_cq_np_req=dut.pcie_cq_np_req,
        cc_bus=AxiStreamBus.from_prefix(dut, "s_axis_cc"),
        cfg_max_payload=dut.cfg_max_payload, cfg_function_status=dut.cfg_function_status,
    )
    if w512:
        kw.update(pcie_rq_seq_num1=dut.pcie_rq_seq_num1, pcie_rq_seq_num_vld1=dut.pcie_rq_seq_num_vld1)
    with mock.patch.object(usp_model, "RqSink", ResettableRqSink):     # the device builds its own sink
        dev = UltraScalePlusPcieDevice(**kw)
    assert isinstance(dev.rq_sink, ResettableRqSink)
    dev.functions[0].configure_bar(0, 4096)
    rc.make_port().connect(dev)
    for name in ("s_axis_rq", "m_axis_cq", "s_axis_cc"):
        logging.getLogger(f"cocotb.{dut._name}.{name}").setLevel(logging.WARNING)
    return rc, dev


def random_pause(rng: random.Random, p: float):
    """Endless pause pattern for a cocotbext stream: 1 (paused) with probability ``p`` per cycle."""
    while True:
        yield int(rng.random() < p)


def set_random_pause(stream, rng: random.Random, p: float) -> None:
    """Random back-pressure (sink) or gaps (source) on a cocotbext stream, ``p`` per cycle."""
    stream.set_pause_generator(random_pause(rng, p))


def clear_pause(stream) -> None:
    """Stop a pause generator and un-pause the stream. cocotbext's ``clear_pause_generator``
    only kills the generator's task and leaves ``pause`` at its last value, so a sink whose
    last drawn value was 1 would hold ``tready`` low for ever."""
    stream.clear_pause_generator()
    stream.pause = False


class BarIO:
    """AsyncRegisterIO over a cocotbext-pcie BAR window; every read has a timeout."""

    def __init__(self, bar, timeout_ns: int = 2000):
        self.bar = bar
        self.timeout_ns = timeout_ns

    async def read32(self, off):
        return await self.bar.read_dword(off, timeout=self.timeout_ns, timeout_unit="ns")

    async def write32(self, off, v):
        await self.bar.write_dword(off, v)


def make_entry(rng: random.Random, i: int) -> dict:
    vals = {f.name: rng.randint(f.min, f.max) for f in ENTRY.fields}
    vals["uid"] = i
    return vals


class RqMonitor:
    """Passive RQ checker: every TLP is a Memory Write inside the configured host ring or at
    the cursor line, never above MPS, never across 4 KiB, with 1-DW byte-enable rules, relaxed
    ordering off, each entry at base + (seq mod size) * 64, and each cursor write covering only
    data already seen on RQ. Fails the test (raises in its coroutine) on any violation."""

    def __init__(self, tb):
        self.tb = tb
        self.dut = tb.dut
        self.width = len(self.dut.s_axis_rq_tdata)
        self.tlps = []          # (kind, addr, ndw, first_cycle, last_cycle, payload bytes)
        self.errors = []
        self.seen_upto = None   # all entries below this sequence seen in data TLPs (this config)
        self.cursor_writes = []
        self.entries_seen = 0
        self.push_cycles = []   # cycles of producer handshakes into the ring
        self.take_cycles = []   # cycles an entry left the ring into the DMA writer
        self._task = cocotb.start_soon(self._run())

    def fail(self, msg):
        self.errors.append(msg)
        raise AssertionError(f"RQ monitor: {msg}")

    def stop(self):
        self._task.cancel()

    async def _run(self):
        dut = self.dut
        dw_per_beat = self.width // 32
        cur = None
        cycle = 0
        if hasattr(dut, "i__valid"):
            def accepted():
                return dut.i__valid.value and dut.i__ready.value
        else:
            def accepted():
                return dut.ring_accept.value
        while True:
            await RisingEdge(dut.clk)
            cycle = self.tb.cycle
            if accepted():
                self.push_cycles.append(cycle)
            if dut.ring_take.value:
                self.take_cycles.append(cycle)
            if not (dut.s_axis_rq_tvalid.value and dut.s_axis_rq_tready.value):
                continue
            data = int(dut.s_axis_rq_tdata.value)
            keep = int(dut.s_axis_rq_tkeep.value)
            last = int(dut.s_axis_rq_tlast.value)
            user = int(dut.s_axis_rq_tuser.value)
            dws = [(data >> (32 * k)) & 0xFFFF_FFFF for k in range(dw_per_beat) if keep >> k & 1]
            if keep & (keep + 1):
                self.fail(f"tkeep {keep:#x} not contiguous")
            if cur is None:
                desc = 0
                for k in range(4):
                    desc |= dws[k] << (32 * k)
                if self.width == 256:
                    fbe, lbe = user & 0xF, (user >> 4) & 0xF
                else:
                    fbe, lbe = user & 0xF, (user >> 8) & 0xF
                    if not (user >> 20) & 1:
                        self.fail("512-bit SOP beat without is_sop[0]")
                cur = dict(addr=desc & ~3 & (2**64 - 1), ndw=(desc >> 64) & 0x7FF,
                           typ=(desc >> 75) & 0xF, attr=(desc >> 124) & 7, fbe=fbe, lbe=lbe,
                           first=cycle, dws=dws[4:])
            else:
                cur["dws"] += dws
            if last:
                if self.width == 512 and not (user >> 26) & 1:
                    self.fail("512-bit EOP beat without is_eop[0]")
                tlp, cur = cur, None
                self._check(tlp, cycle)

    def _check(self, t, cycle):
        tb = self.tb
        ndw, addr = t["ndw"], t["addr"]
        payload = b"".join(d.to_bytes(4, "little") for d in t["dws"])
        if t["typ"] != 1:
            self.fail(f"request type {t['typ']} is not a Memory Write")
        if len(t["dws"]) != ndw:
            self.fail(f"TLP at {addr:#x}: {len(t['dws'])} dwords delivered, descriptor says {ndw}")
        mps = 128 << int(self.dut.cfg_max_payload.value)
        if ndw * 4 > mps:
            self.fail(f"TLP at {addr:#x}: {ndw * 4} B above MPS {mps}")
        if (addr & 0xFFF) + ndw * 4 > 4096:
            self.fail(f"TLP at {addr:#x} + {ndw * 4} B crosses a 4 KiB boundary")
        if ndw == 1 and t["lbe"] != 0:
            self.fail("1-DW TLP with last_be != 0")
        if ndw > 1 and (t["fbe"] != 0xF or t["lbe"] != 0xF):
            self.fail(f"byte enables {t['fbe']:#x}/{t['lbe']:#x} on a full-dword write")
        if t["attr"] & 0b010:
            self.fail("relaxed ordering set")
        cfg = tb.cfg
        if cfg is None:
            self.fail(f"write at {addr:#x} while no configuration is active")
        base, size, caddr = cfg
        if addr == caddr:
            if ndw != 6:
                self.fail(f"cursor write of {ndw} dwords")
            line = CURSOR_LINE.decode(payload + bytes(64 - len(payload)))
            c = line["cursor"]
            if self.seen_upto is None or c > self.seen_upto:
                self.fail(f"cursor {c} written before its data (data seen up to {self.seen_upto})")
            if self.cursor_writes:
                prev = self.cursor_writes[-1][1]
                if line["writes"] not in (prev["writes"] + 1, 1):    # 1: a new enable
                    self.fail(f"cursor write count {line['writes']} after {prev['writes']}")
                if line["timestamp"] <= prev["timestamp"]:
                    self.fail("cursor timestamp not increasing")
                if line["writes"] != 1 and c < prev["cursor"]:
                    self.fail(f"cursor went back from {prev['cursor']} to {c}")
            self.cursor_writes.append((cycle, line))
            self.tlps.append(("cursor", addr, ndw, t["first"], cycle, payload))
            return
        end = base + size * 64
        if not (base <= addr and addr + ndw * 4 <= end):
            self.fail(f"write {addr:#x}+{ndw * 4} outside ring [{base:#x}, {end:#x}) and cursor line")
        if ndw % 16 or (addr - base) % 64:
            self.fail(f"data TLP at {addr:#x} of {ndw} dwords is not whole entries")
        for k in range(ndw // 16):
            raw = payload[64 * k:64 * (k + 1)]
            seq = int.from_bytes(raw[:8], "little")
            slot = (addr - base) // 64 + k
            if seq % size != slot:
                self.fail(f"entry seq {seq} at slot {slot} of a {size}-entry ring")
            if seq - tb.doorbell_sent >= size:
                self.fail(f"entry {seq} written with host consumed {tb.doorbell_sent} (size {size})")
            if self.seen_upto is not None and seq != self.seen_upto:
                self.fail(f"entry {seq} out of order (expected {self.seen_upto})")
            expected = tb.expected_entry(seq)
            if raw != expected:
                self.fail(f"entry {seq} payload differs from the golden model")
            self.seen_upto = seq + 1
            self.entries_seen += 1
        self.tlps.append(("data", addr, ndw, t["first"], cycle, payload))


class TB:
    def __init__(self, dut, *, mps=256, seed=0):
        self.dut = dut
        self.width = len(dut.s_axis_rq_tdata)
        self.rng = random.Random(seed)
        self.cycle = 0
        self.pushed = []              # entry dicts, index = sequence
        self.cfg = None               # (ring_base, ring_size, cursor_addr) the monitor checks against
        self.doorbell_sent = 0
        self.rc, self.dev = attach_pcie_model(dut, self.width, mps)
        if hasattr(dut, "i__valid"):         # a top fed by the ingress has no producer stream
            dut.i__valid.value = 0
            dut.i__payload.value = 0
        self.monitor = None

    async def _count(self):
        while True:
            await RisingEdge(self.dut.clk)
            self.cycle += 1

    async def init(self):
        cocotb.start_soon(self._count())
        await FallingEdge(self.dut.rst)
        await Timer(100, "ns")
        await self.rc.enumerate()
        self.pdev = self.rc.find_device(self.dev.functions[0].pcie_id)
        await self.pdev.enable_device()
        await self.pdev.set_master()
        self.bar = self.pdev.bar_window[0]
        self.regs = AsyncRegisters(BarIO(self.bar))
        self.monitor = RqMonitor(self)
        # a dummy first region so that no ring sits at bus address 0
        self.rc.mem_pool.alloc_region(4096)

    def alloc(self, nbytes, align=4096):
        region = self.rc.mem_pool.alloc_region(max(nbytes, align))
        addr = region.get_absolute_address(0)
        assert addr % align == 0
        return region, addr

    def expected_entry(self, seq):
        return ENTRY.encode({**self.pushed[seq], "seq": seq})

    # -- producer ------------------------------------------------------------------------
    async def push(self, entries, *, p_gap=0.0):
        dut = self.dut
        for vals in entries:
            while p_gap and self.rng.random() < p_gap:
                dut.i__valid.value = 0
                await RisingEdge(dut.clk)
            self.pushed.append(vals)
            dut.i__payload.value = ENTRY.to_int({**vals, "seq": 0})
            dut.i__valid.value = 1
            await RisingEdge(dut.clk)
            while not dut.i__ready.value:
                await RisingEdge(dut.clk)
        dut.i__valid.value = 0

    def new_entries(self, n):
        base = len(self.pushed)
        return [make_entry(self.rng, base + k) for k in range(n)]

    async def start(self, ring_base, ring_size, cursor_addr, **kw):
        self.cfg = (ring_base, ring_size, cursor_addr)
        sent = await self.regs.read("SENT")
        self.doorbell_sent = sent
        self.monitor.seen_upto = sent
        first = await self.regs.start(ring_base, ring_size, cursor_addr, **kw)
        assert first == sent
        return first

    async def doorbell(self, value):
        self.doorbell_sent = value
        await self.regs.doorbell(value)

    async def wait_cursor(self, value, timeout_cycles=200000):
        for _ in range(timeout_cycles // 16):
            if self.monitor.cursor_writes and self.monitor.cursor_writes[-1][1]["cursor"] >= value:
                return
            for _ in range(16):
                await RisingEdge(self.dut.clk)
        raise AssertionError(f"cursor never reached {value}")


class HostConsumer:
    """A slow host: polls the cursor line in host memory, checks every new entry byte-exact
    in host memory at that moment (before its slot may be reused), then writes the doorbell
    after a random delay, lazily (every ``batch`` entries or when caught up)."""

    def __init__(self, tb, ring_mem, ring_size, cursor_mem, first_seq, *, delay=(0, 400), batch=1):
        self.tb = tb
        self.ring_mem = ring_mem
        self.size = ring_size
        self.cursor_mem = cursor_mem
        self.consumed = first_seq
        self.delay = delay
        self.batch = batch
        self.last_writes = 0
        self.last_ts = 0
        self._stop = False
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        tb = self.tb
        rng = random.Random(tb.rng.random())
        while not self._stop:
            await Timer(rng.randint(*self.delay) + 4, "ns")
            line = CURSOR_LINE.decode(bytes(self.cursor_mem[0:64]))
            c = line["cursor"]
            if line["writes"] and line["writes"] != self.last_writes:
                assert line["timestamp"] >= self.last_ts, "cursor timestamp went backwards"
                self.last_ts, self.last_writes = line["timestamp"], line["writes"]
            if c <= self.consumed:
                continue
            assert c - self.consumed <= self.size, f"cursor {c} more than a ring ahead of {self.consumed}"
            for s in range(self.consumed, c):
                slot = s % self.size
                got = bytes(self.ring_mem[slot * 64:(slot + 1) * 64])
                assert got == tb.expected_entry(s), f"host memory entry {s} (slot {slot}) differs"
            self.consumed = c
            if self.consumed - tb.doorbell_sent >= self.batch or c == tb.monitor.seen_upto:
                await tb.doorbell(self.consumed)

    async def stop(self):
        self._stop = True
        await Timer(1, "ns")
