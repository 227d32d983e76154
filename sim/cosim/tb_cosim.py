"""cocotb side of the co-simulation: hw/pcie/top.py on Verilator with the cocotbext-pcie
RootComplex + UltraScale+ model, driven by other processes through the shared files of
``sim/cosim/shm.py``. Started by ``ringgate.sim.cosim.session.CoSim`` (never by hand).

What runs in the simulator process:

- the RootComplex, whose host memory at ``HOST_BASE`` is the shared ``hostmem`` file
  (:class:`ShmRegion`: every Memory Write the link model delivers is stored into the file);
- the mailbox server: every ``COSIM_POLL`` cycles it executes the clients' BAR0 requests in
  order as real 1-DW Memory Reads / Writes through the RootComplex (CQ/CC TLPs in the RTL);
- the traffic feeder: once a client enabled the DMA writer, the entries of ``traffic.npz``
  enter the ring's producer stream at their offered cycles (a full ring holds them: the feeder
  waits, counting stall cycles, and nothing is dropped); ``ts`` is the cycle each one was
  offered (``T0 + cycles``, T0 published in the mailbox header);
- the RQ monitor: cycle stamps of every ring accept, every data TLP's first beat, every cursor
  TLP's last beat (exact), and of every cursor line landing in host memory (link model);
- the scoreboard (``ringgate.model.fpga.Scoreboard``, the golden model's rules): every Memory Write
  that reaches host memory is checked (MPS, 4 KiB, wrap, batch limit, order, bytes, credit,
  cursor after data, cursor interval). The configuration comes from the BAR writes it executed;
- optionally a hard reset during traffic (``COSIM_PERST_AFTER``, :meth:`Bench.perst`): PERST# /
  link down as the gateware and the host see it. ``user_reset`` rises in the middle of an RQ TLP
  once that many entries entered the ring; the function's configuration is lost (bus mastering
  and memory decoding off: requests the hard block still holds are dropped, the partial TLP too);
  while the link is down every BAR0 read of a client returns all ones and its writes are lost;
  after ``COSIM_PERST_CYCLES`` cycles (and at least ``COSIM_PERST_WALL`` seconds, so a polling
  host can see the outage) the reset is released and the command register restored, as the
  host's PCI core restores a reset function. The device's sequences restart at 0 with the first
  entry accepted after the reset; the scoreboard follows (the entries the ring held unannounced
  are gone: ``results.json``'s ``perst`` has the entries accepted before the reset and the
  cursor the host found when it re-enabled the device).

With COSIM_WIRE=1 the design is ``hw/ingress/top.py`` (the ingress in front of the PCIe top): the
feeder configures the ingress over BAR0 and drives each entry as a single-order datagram on the MAC's
receive stream (``mac`` clock, period COSIM_MAC_PS) at the MAC cycle ``sim.traffic.wire_schedule``
gives; ``ts`` is then the frame's start in MAC cycles (``T0 + schedule``) as the parser stamps it, and
the monitors add each frame's first and last beat and the ingress's publish (sim ns).

Environment: COSIM_WIRE, COSIM_MAC_PS, COSIM_DIR (mailbox, hostmem, traffic.npz; results.npz and results.json are
written there), COSIM_MPS, COSIM_HOST_BYTES, COSIM_POLL (cycles), COSIM_RQ_PAUSE (probability
of RQ back-pressure per cycle), COSIM_SEED, COSIM_WALL_TIMEOUT (s), COSIM_OWNER (pid), COSIM_CHECK_MPS (fault injection: the MPS the
scoreboard enforces), COSIM_MONITOR=0 (speed experiments: no RQ monitor), COSIM_TRACE_ENTRY (record
that entry's path cycle by cycle: ``trace`` in results.json, drawn by ringgate.app.latency.timing),
COSIM_PERST_AFTER / COSIM_PERST_CYCLES / COSIM_PERST_WALL (the hard reset above).
"""
from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, FallingEdge, RisingEdge, Timer
from cocotb.utils import get_sim_time
from cocotbext.axi.address_space import MemoryRegion

from ringgate.contracts.entry import ENTRY_DTYPE
from ringgate.contracts.regmap import REGMAP, Control
from ringgate.sim.cosim.shm import (H_CYCLE, H_ENABLES, H_ERRORS, H_FED, H_MPS, H_PUSH_STALLS, H_SIM_PS, H_STATE,
                           H_STOP, H_T0, H_TOTAL, H_WALL_START, H_WIDTH, HOST_BASE, Mailbox, Op, State)
from ringgate.sim.pcie.tb import attach_pcie_model, clear_pause, set_random_pause
from ringgate.sw.driver.device import map_shared
from ringgate.model.fpga import Scoreboard, ScoreboardError

PERIOD_NS = 4                    # user_clk 250 MHz (the UltraScale+ model's Gen3 configurations)
ALL_ONES = 0xFFFF_FFFF           # a root port's answer to a read of a function that is not there
TRACE_BEFORE, TRACE_AFTER, TRACE_MAX = 3, 3, 160     # cycles of an entry's trace
_OFF = {r.name: r.offset for r in REGMAP}


def _now() -> int:
    return int(round(get_sim_time("ns")))


_MASK64 = (1 << 64) - 1


def _descriptor(data: int) -> tuple[int, int, int]:
    """(address, dword count, first payload qword) of the first beat of an RQ Memory Write: the
    UltraScale+ descriptor (address in bits 63:2, dword count in 74:64) and, for a cursor write,
    the cursor value right after it."""
    return data & _MASK64 & ~3, (data >> 64) & 0x7FF, (data >> 128) & _MASK64


class ShmRegion(MemoryRegion):
    """Host memory backed by the shared file; records cursor-line landings and feeds the
    scoreboard with every Memory Write the link model delivers."""

    def __init__(self, bench, mem, size):
        super().__init__(size, mem=mem)
        self.bench = bench

    async def _write(self, address, data, **kwargs):
        b = self.bench
        wall = time.perf_counter_ns()          # before the store: a reader cannot see it earlier
        self.mem[address:address + len(data)] = data
        b.on_host_write(HOST_BASE + address, bytes(data), wall)


class Bench:
    def __init__(self, dut):
        self.dut = dut
        d = Path(os.environ["COSIM_DIR"])
        self.dir = d
        self.mps = int(os.environ.get("COSIM_MPS", "256"))
        # Fault injection for the tests: the MPS the scoreboard enforces (default: the negotiated one).
        self.check_mps = int(os.environ.get("COSIM_CHECK_MPS", str(self.mps)))
        self.poll_ns = PERIOD_NS * int(os.environ.get("COSIM_POLL", "8"))
        self.host_bytes = int(os.environ.get("COSIM_HOST_BYTES", str(64 << 20)))
        self.wall_timeout = float(os.environ.get("COSIM_WALL_TIMEOUT", "600"))
        self.owner = int(os.environ.get("COSIM_OWNER", "0"))
        self.rq_pause = float(os.environ.get("COSIM_RQ_PAUSE", "0"))
        self.rng = random.Random(int(os.environ.get("COSIM_SEED", "1")))
        self.width = len(dut.s_axis_rq_tdata)
        self.mb = Mailbox.create(d / "mailbox", host_bytes=self.host_bytes, owner=self.owner)
        self.mb[H_MPS] = self.mps
        self.mb[H_WIDTH] = self.width
        self.mb[H_WALL_START] = time.perf_counter_ns()
        tr = d / "traffic.npz"
        if tr.exists():
            z = np.load(tr)
            self.entries = np.frombuffer(z["entries"].tobytes(), ENTRY_DTYPE).copy()
            rel = z["cycles"].astype(np.int64)
            self.rel = rel - (rel[0] if len(rel) else 0)
        else:
            self.entries = np.zeros(0, ENTRY_DTYPE)
            self.rel = np.zeros(0, np.int64)
        self.mb[H_TOTAL] = len(self.entries)
        # shadow of the BAR words the clients wrote (the configuration the scoreboard checks)
        self.shadow: dict[int, int] = {}
        self.cfg = None                  # (ring_base, ring_size, cursor_addr)
        self.sb: Scoreboard | None = None
        self.sb_sent = 0
        self.errors: list[str] = []
        self.enabled_event = Event()
        self.stamped = bytearray()       # entries as offered (seq 0, ts stamped), in push order
        # monitor records (sim ns)
        self.accept_ns: list[int] = []
        self.data_first_ns: list[int] = []
        self.data_n: list[int] = []
        self.cursor_last_ns: list[int] = []
        self.cursor_val: list[int] = []
        self.land_ns: list[int] = []
        self.land_cursor: list[int] = []
        self.land_wall: list[int] = []
        self.push_stalls = 0
        self.ts_first_accept = None
        self.wire = os.environ.get("COSIM_WIRE", "0") == "1"
        self.mac_ps = int(os.environ.get("COSIM_MAC_PS", "6400"))
        self.wire_first_ns: list[int] = []
        self.wire_last_ns: list[int] = []
        self.publish_ns: list[int] = []
        self.fed = 0
        self.t0_ns = None
        self.stop = False
        self.trace_entry = int(os.environ.get("COSIM_TRACE_ENTRY", "-1"))
        self.trace_record = None
        # hard reset (COSIM_PERST_*): device sequence 0 is entry seq_base of `stamped`
        self.seq_base = 0
        self.link_down = False
        self.in_op = False
        self.perst_pending = False
        self.perst_info: dict | None = None
        self.rq_cut = False              # the RQ monitor's TLP was cut short by a reset

        self.rc, self.dev = attach_pcie_model(dut, self.width, self.mps)
        self.host_mm = map_shared(d / "hostmem", self.host_bytes, create=True)
        self.region = ShmRegion(self, self.host_mm, self.host_bytes)
        self.rc.mem_address_space.register_region(self.region, HOST_BASE)
        if self.wire:
            dut.mac__tvalid.value = 0
            dut.mac_rst.value = 1
        else:
            dut.i__valid.value = 0
            dut.i__payload.value = 0

    # -- host memory -----------------------------------------------------------------------
    def on_host_write(self, addr: int, data: bytes, wall: int) -> None:
        cfg = self.cfg
        if cfg is not None and addr == cfg[2] and len(data) >= 8:
            self.land_ns.append(_now())
            self.land_cursor.append(int.from_bytes(data[:8], "little"))
            self.land_wall.append(wall)
        if self.sb is None:
            self.fail(f"Memory Write of {len(data)} B at {addr:#x} while no configuration was enabled")
            return
        try:
            self.sb.write(addr, data)
        except ScoreboardError as e:
            self.fail(f"scoreboard: {e}")

    def fail(self, msg: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(msg)
        self.mb[H_ERRORS] = len(self.errors)
        self.dut._log.error(msg)

    # -- mailbox ---------------------------------------------------------------------------
    def _shadow64(self, name: str, default: int = 0) -> int:
        o = _OFF[name]
        return self.shadow.get(o, default & 0xFFFF_FFFF) | self.shadow.get(o + 4, default >> 32) << 32

    def snoop_write(self, offset: int, value: int) -> None:
        self.shadow[offset] = value
        if offset == _OFF["CONTROL"] and value & Control.ENABLE:
            base, caddr = self._shadow64("RING_BASE"), self._shadow64("CURSOR_ADDR")
            size = self.shadow.get(_OFF["RING_SIZE"], 0)
            if self.perst_pending:            # first enable after a hard reset: sequences restart
                self.perst_pending = False
                self.sb_sent = 0
                self.perst_info["announced"] = self.land_cursor[-1] if self.land_cursor else 0
            elif self.sb is not None:
                self.sb_sent = self.sb.sent
            self.cfg = (base, size, caddr)
            if size and not size & (size - 1):
                self.sb = Scoreboard(ring_base=base, ring_size=size, cursor_addr=caddr, max_payload=self.check_mps,
                                     batch_limit=self.shadow.get(_OFF["BATCH_LIMIT"], 16),
                                     cursor_interval=self.shadow.get(_OFF["CURSOR_INTERVAL"], 1),
                                     first_seq=self.sb_sent)
                self.sb.credit = self._shadow64("DOORBELL")
                first = (self.seq_base + self.sb_sent) * 64
                if len(self.stamped) > first:
                    self.sb.expect(np.frombuffer(bytes(self.stamped[first:]), ENTRY_DTYPE))
            self.mb[H_ENABLES] = self.mb[H_ENABLES] + 1
            self.enabled_event.set()
        elif offset == _OFF["DOORBELL"] + 4 and self.sb is not None:
            self.sb.doorbell(self._shadow64("DOORBELL"))

    async def serve(self):
        mb, bar = self.mb, self.bar
        wall0 = time.monotonic()
        polls = 0
        # Every COSIM_POLL cycles while clients are active; 8x slower after 1024 quiet cycles
        # (an idle host costs the simulator little; the first access of a burst waits longer).
        fast, slow = self.poll_ns, 8 * self.poll_ns
        last_req = 0
        while True:
            now = _now()
            await Timer(fast if now - last_req < 1024 * PERIOD_NS else slow, "ns")
            polls += 1
            now = _now()
            mb[H_SIM_PS] = now * 1000
            mb[H_CYCLE] = now // PERIOD_NS
            reqs = list(mb.pending())
            if reqs:
                last_req = now
            for idx, op, off, value in reqs:
                if self.link_down and op in (Op.READ32, Op.WRITE32):
                    # the function is gone: reads complete with all ones, writes go nowhere
                    self.perst_info["gone_reads" if op == Op.READ32 else "gone_writes"] += 1
                    mb.complete(idx, ALL_ONES if op == Op.READ32 else None)
                    continue
                self.in_op = True
                if op == Op.READ32:
                    mb.complete(idx, await bar.read_dword(off, timeout=10_000, timeout_unit="ns"))
                elif op == Op.WRITE32:
                    await bar.write_dword(off, value)
                    self.snoop_write(off, value)
                    mb.complete(idx)
                else:
                    self.fail(f"mailbox: unknown op {op} at offset {off:#x}")
                    mb.complete(idx, ALL_ONES)
                self.in_op = False
            if mb[H_STOP]:
                return "stop"
            if polls % 512 == 0:
                if time.monotonic() - wall0 > self.wall_timeout:
                    self.fail(f"wall-clock timeout of {self.wall_timeout} s")
                    return "timeout"
                if self.owner:
                    try:
                        os.kill(self.owner, 0)
                    except ProcessLookupError:
                        self.fail(f"owner process {self.owner} is gone")
                        return "orphaned"

    # -- traffic ---------------------------------------------------------------------------
    async def feed(self):
        if self.wire:
            return await self.feed_wire()
        dut, clk = self.dut, self.dut.clk
        n = len(self.entries)
        if not n:
            return
        await self.enabled_event.wait()
        await RisingEdge(clk)
        start = _now() + 16 * PERIOD_NS                  # first entry 16 cycles from now
        t0 = int(dut.timestamp.value) + 16
        self.mb[H_T0] = t0
        self.t0_ns = start
        ts = (np.uint64(t0) + self.rel.astype(np.uint64)) & np.uint64(0xFFFF_FFFF)
        ent = self.entries.copy()
        ent["seq"] = 0
        ent["ts"] = ts
        raw = ent.tobytes()
        valid = dut.i__valid
        payload = dut.i__payload
        ready = dut.i__ready
        for i in range(n):
            if self.stop:
                break
            target = start + int(self.rel[i]) * PERIOD_NS       # the edge that should take it
            if i == self.trace_entry:
                cocotb.start_soon(self.trace(i, int.from_bytes(raw[64 * i:64 * i + 64], "little"),
                                             target - TRACE_BEFORE * PERIOD_NS))
            wait = target - PERIOD_NS - _now()
            if wait > 0:
                valid.value = 0
                await Timer(wait - 1, "ns")
                await RisingEdge(clk)
            rec = raw[64 * i:64 * i + 64]
            self.stamped += rec
            if self.sb is not None:
                self.sb.expect(np.frombuffer(rec, ENTRY_DTYPE))
            payload.value = int.from_bytes(rec, "little")
            valid.value = 1
            await RisingEdge(clk)
            while not ready.value or dut.rst.value:      # nothing enters a ring held in reset
                self.push_stalls += 1
                await RisingEdge(clk)
            self.accept_ns.append(_now())        # the handshake: valid and ready at this edge
            if i == 0:                           # read as the monitor reads: after the edge
                self.ts_first_accept = int(dut.timestamp.value)
            self.fed = i + 1
            self.mb[H_FED] = i + 1
            self.mb[H_PUSH_STALLS] = self.push_stalls
        valid.value = 0

    # -- hard reset ------------------------------------------------------------------------
    async def perst(self, after: int, cycles: int, wall: float):
        """PERST# / link down during traffic (module docstring); records what it did in
        ``perst_info``."""
        dut, clk = self.dut, self.dut.clk
        while self.fed < after:
            await ClockCycles(clk, 16)
        info = self.perst_info = {"after": after, "gone_reads": 0, "gone_writes": 0}
        self.link_down = True          # clients' BAR accesses stop here; one in flight completes
        while self.in_op:
            await RisingEdge(clk)
        # the edge after an RQ beat that is not the last of its TLP: the reset cuts that TLP
        tv, tr, tl = dut.s_axis_rq_tvalid, dut.s_axis_rq_tready, dut.s_axis_rq_tlast
        for waited in range(100_000):
            await RisingEdge(clk)
            if tv.value and tr.value and not tl.value:
                break
        info["mid_tlp"] = bool(tv.value and tr.value and not tl.value)
        info["wait_cycles"] = waited
        info["cycle"] = _now() // PERIOD_NS
        info["cursor_landed_before"] = self.land_cursor[-1] if self.land_cursor else 0
        dut.rst.value = 1
        fn = self.dev.functions[0]
        fn.bus_master_enable = fn.memory_space_enable = False
        self.dev.rq_sink.link_reset()
        self.rq_cut = True
        self.shadow.clear()            # the device's registers are at their reset values
        await ClockCycles(clk, cycles)
        deadline = time.monotonic() + wall
        while time.monotonic() < deadline:
            await ClockCycles(clk, 256)
        # returns of TLPs the reset discarded never reach the new logic
        while not self.dev.rq_seq_num.empty():
            self.dev.rq_seq_num.get_nowait()
        self.seq_base = self.fed       # nothing entered during the reset: exact
        info["accepted_before"] = self.fed
        self.perst_pending = True
        dut.rst.value = 0
        await ClockCycles(clk, 16)
        await self.pdev.enable_device()          # the host restores the command register
        await self.pdev.set_master()
        info["link_up_cycle"] = _now() // PERIOD_NS
        self.link_down = False

    async def configure_ingress(self):
        """MAC_ADDR, IP_ADDR, UDP_PORT and ENABLE over BAR0, as a driver sets up the ingress."""
        from ringgate.sim.pcie.tb import BarIO
        from ringgate.sim.traffic import LOCAL
        from ringgate.sw.driver.registers import AsyncRegisters

        await AsyncRegisters(BarIO(self.bar, timeout_ns=10_000)).start_ingress(LOCAL)
        await ClockCycles(self.dut.mac_clk, 32)            # the session table clears after enable

    async def feed_wire(self):
        """Each entry as a single-order frame on the MAC stream at its scheduled MAC cycle; the golden
        entry (ts = the frame's first-beat MAC cycle) goes to the scoreboard as the frame starts."""
        from ringgate.sim.traffic import beats, order_frames, wire_schedule

        dut, mclk = self.dut, self.dut.mac_clk
        n = len(self.entries)
        if not n:
            return
        frames = order_frames(self.entries)
        rel = wire_schedule(self.rel, [len(f) for f in frames], mac_ps=self.mac_ps)
        await self.enabled_event.wait()
        edge = RisingEdge(mclk)
        await edge
        cur = int(dut.mac_timestamp.value)      # the counter now: a beat set now is sampled with cur + 1
        t0 = cur + 1 + 16
        self.mb[H_T0] = t0
        self.t0_ns = _now() + 17 * self.mac_ps // 1000
        ent = self.entries.copy()
        ent["seq"] = 0
        ent["ts"] = (np.uint64(t0) + rel.astype(np.uint64)) & np.uint64(0xFFFF_FFFF)
        raw = ent.tobytes()
        td, tk, tl, tu, tv = dut.mac__tdata, dut.mac__tkeep, dut.mac__tlast, dut.mac__tuser, dut.mac__tvalid
        for i, f in enumerate(frames):
            if self.stop:
                break
            idle = t0 + int(rel[i]) - 1 - cur
            if idle > 0:
                tv.value = 0
                await ClockCycles(mclk, idle)
                cur += idle
            rec = raw[64 * i:64 * i + 64]
            self.stamped += rec
            if self.sb is not None:
                self.sb.expect(np.frombuffer(rec, ENTRY_DTYPE))
            bs = beats(f)
            for k, (data, keep, last) in enumerate(bs):
                td.value, tk.value, tl.value, tu.value, tv.value = data, keep, int(last), 0, 1
                await edge
                cur += 1
                if k == 0:
                    self.wire_first_ns.append(_now())
            self.wire_last_ns.append(_now())
            self.fed = i + 1
            self.mb[H_FED] = i + 1
        tv.value = 0

    async def strobe(self, clk, sig, out: list):
        """Sim ns of every edge of ``clk`` at which ``sig`` is high (no Python while it is low)."""
        edge, rise = RisingEdge(clk), RisingEdge(sig)
        while True:
            if not sig.value:
                await rise
            await edge
            while sig.value:
                out.append(_now())
                await edge

    # -- RQ monitor ------------------------------------------------------------------------
    async def monitor(self):
        """Every RQ handshake, sampled after each clock edge while ``tvalid`` is high; while it is
        low the monitor sleeps until it rises (no Python per idle cycle)."""
        dut = self.dut
        edge = RisingEdge(dut.clk)
        tv, tr, tl, td = dut.s_axis_rq_tvalid, dut.s_axis_rq_tready, dut.s_axis_rq_tlast, dut.s_axis_rq_tdata
        rise = RisingEdge(tv)
        in_tlp = False
        is_cursor = False
        cursor = 0
        mask64 = (1 << 64) - 1
        await edge
        while True:
            if not tv.value:
                await rise                    # tvalid rose after this edge: the next edge samples it
                await edge
            if self.rq_cut:
                self.rq_cut = in_tlp = False
            if tv.value and tr.value:
                now = _now()
                if not in_tlp:
                    data = int(td.value)
                    addr = data & mask64 & ~3
                    ndw = (data >> 64) & 0x7FF
                    cfg = self.cfg
                    is_cursor = cfg is not None and addr == cfg[2]
                    if is_cursor:
                        cursor = (data >> 128) & mask64
                    else:
                        self.data_first_ns.append(now)
                        self.data_n.append(ndw // 16)
                    in_tlp = True
                if tl.value:
                    in_tlp = False
                    if is_cursor:
                        self.cursor_last_ns.append(now)
                        self.cursor_val.append(cursor)
            await edge

    # -- one entry, cycle by cycle --------------------------------------------------------
    def _signal(self, name: str):
        """A signal of the top by its Verilog name (an inner group's field: ``group__field``), or None
        where this build does not expose it (a test checks that every lane is found)."""
        h = getattr(self.dut, name, None)
        try:
            int(h.value)
        except Exception:
            return None
        return h

    async def trace(self, k: int, payload: int, from_ns: int):
        """Sample the path of entry ``k`` after every clock edge, from ``from_ns`` until the cursor
        TLP announcing it has ended (+ TRACE_AFTER cycles), at most TRACE_MAX cycles; the lanes,
        the RQ beats decoded, and the cycles of its offer, ring accept, first RQ beat of its data
        TLP and the cursor TLP's last beat (plain data: ringgate.app.latency.timing)."""
        dut = self.dut
        bits = [(label, self._signal(name)) for label, name in (
            ("ring i.valid", "i__valid"), ("ring i.ready", "i__ready"), ("DMA takes from the ring", "ring_take"),
            ("RQ tvalid", "s_axis_rq_tvalid"), ("RQ tready", "s_axis_rq_tready"), ("RQ tlast", "s_axis_rq_tlast"))]
        buses = [(label, self._signal(name)) for label, name in (
            ("published (ring cursor)", "ring__published"), ("cursor written", "regs__cursor_written"))]
        bits = [(a, h) for a, h in bits if h is not None]
        buses = [(a, h) for a, h in buses if h is not None]
        tv, tr, tl, td = dut.s_axis_rq_tvalid, dut.s_axis_rq_tready, dut.s_axis_rq_tlast, dut.s_axis_rq_tdata
        wait = from_ns - _now()
        if wait > 0:
            await Timer(wait, "ns")
        edge = RisingEdge(dut.clk)
        cols = {a: [] for a, _ in bits + buses}
        beats, mine, marks = [], [], {}
        in_tlp, kind, after, ours, covers = False, "", None, False, False
        await edge
        start_cycle = _now() // PERIOD_NS
        for c in range(TRACE_MAX):
            for a, h in bits + buses:
                cols[a].append(int(h.value))
            label, hit = "", False
            if int(tv.value):
                label = "w"
                if int(tr.value):
                    if not in_tlp:
                        addr, ndw, cur = _descriptor(int(td.value))
                        cfg = self.cfg
                        if cfg is not None and addr == cfg[2]:
                            kind, label = "c", f"C{cur}"
                            covers = cur > k and "last beat of the cursor TLP announcing it" not in marks
                            ours = covers
                        else:
                            size = cfg[1] if cfg else 1
                            d = ((addr - cfg[0]) // 64 - k) % size if cfg else 0
                            first = k + (d - size if d > size // 2 else d)
                            kind, label = "D", f"H{first}" + ("+" if ndw > 16 else "")
                            ours = first <= k < first + ndw // 16 and "first RQ beat of its data TLP" not in marks
                            if ours:
                                marks["first RQ beat of its data TLP"] = c
                        in_tlp = True
                    else:
                        label = kind
                    hit = ours
                    if int(tl.value):
                        in_tlp = False
                        if kind == "c" and covers and after is None:
                            marks["last beat of the cursor TLP announcing it"] = c
                            after = c + TRACE_AFTER
            beats.append(label)
            mine.append(hit)
            if "ring accept" not in marks and int(dut.i__valid.value) and int(dut.i__payload.value) == payload:
                marks.setdefault("offered", c)
                if int(dut.i__ready.value):
                    marks["ring accept"] = c
            if after is not None and c >= after:
                break
            await edge
        lanes = [{"name": a, "kind": "bit", "values": cols[a]} for a, _ in bits]
        lanes += [{"name": a, "kind": "bus", "values": cols[a]} for a, _ in buses]
        lanes.append({"name": "RQ beat", "kind": "label", "values": beats, "highlight": mine})
        self.trace_record = {
            "entry": k, "period_ns": PERIOD_NS, "start_cycle": start_cycle, "lanes": lanes,
            "marks": [{"cycle": c, "label": a} for a, c in sorted(marks.items(), key=lambda x: x[1])],
            "zero": marks.get("ring accept", 0), "complete": after is not None,
            "notes": [f"RQ beats: H<n> first beat (descriptor) of a data TLP whose first entry is n (+: more "
                      f"entries), D its data beats, C<n> first beat of a cursor TLP writing cursor n, c its "
                      f"other beat, w tvalid without tready (back-pressure); entry {k}'s own TLPs highlighted"]}

    # -- end of run ------------------------------------------------------------------------
    async def final_registers(self) -> dict:
        regs = {}
        for name in ("SENT", "PUBLISHED", "CURSOR_WRITTEN", "CURSOR_WRITES", "DATA_TLPS", "HOST_FULL_CYCLES",
                     "RQ_STALL_CYCLES", "RING_FULL_CYCLES", "ERROR", "BAD_ACCESSES"):
            r = REGMAP[name]
            lo = await self.bar.read_dword(r.offset, timeout=10_000, timeout_unit="ns")
            hi = await self.bar.read_dword(r.offset + 4, timeout=10_000, timeout_unit="ns") if r.width == 64 else 0
            regs[name] = lo | hi << 32
        return regs


@cocotb.test(timeout_time=10**12, timeout_unit="ns")
async def cosim(dut):
    b = Bench(dut)
    wall0 = time.perf_counter()
    try:
        if b.wire:
            cocotb.start_soon(Clock(dut.mac_clk, b.mac_ps, "ps").start())
            await ClockCycles(dut.mac_clk, 8)
            dut.mac_rst.value = 0
        await FallingEdge(dut.rst)
        await Timer(100, "ns")
        await b.rc.enumerate()
        pdev = b.pdev = b.rc.find_device(b.dev.functions[0].pcie_id)
        await pdev.enable_device()
        await pdev.set_master()
        b.bar = pdev.bar_window[0]
        if b.wire:
            await b.configure_ingress()
            cocotb.start_soon(b.strobe(dut.clk, dut.ring_accept, b.accept_ns))
            cocotb.start_soon(b.strobe(dut.mac_clk, dut.publish, b.publish_ns))
        if b.rq_pause:
            set_random_pause(b.dev.rq_sink, b.rng, b.rq_pause)
        if os.environ.get("COSIM_MONITOR", "1") != "0":      # 0: speed experiments only
            cocotb.start_soon(b.monitor())
        feeder = cocotb.start_soon(b.feed())
        if os.environ.get("COSIM_PERST_AFTER"):
            cocotb.start_soon(b.perst(int(os.environ["COSIM_PERST_AFTER"]),
                                              int(os.environ.get("COSIM_PERST_CYCLES", "2000")),
                                              float(os.environ.get("COSIM_PERST_WALL", "0"))))
        sim0, wall_ready, cpu_ready = _now(), time.perf_counter(), time.process_time()
        b.mb[H_STATE] = State.READY
        why = await b.serve()
        b.stop = True
        wall_end, cpu_end = time.perf_counter(), time.process_time()
        sim_end = _now()
        if b.rq_pause:
            clear_pause(b.dev.rq_sink)
        regs = await b.final_registers()
        feeder.cancel()
    except BaseException as e:
        b.fail(f"co-simulation aborted: {e!r}")
        b.mb[H_STATE] = State.FAILED
        raise
    cycles = (sim_end - sim0) // PERIOD_NS
    serve_wall = max(wall_end - wall_ready, 1e-9)
    summary = {
        "stopped_by": why, "mps": b.mps, "width": b.width, "period_ns": PERIOD_NS, "t0": b.mb[H_T0],
        "t0_ns": b.t0_ns, "timestamp_after_first_accept": b.ts_first_accept, "fed": b.fed, "total": len(b.entries), "push_stall_cycles": b.push_stalls,
        "wire": b.wire, "mac_period_ps": b.mac_ps if b.wire else None,
        "sim_cycles": cycles, "serve_wall_s": serve_wall, "startup_wall_s": wall_ready - wall0,
        "sim_cycles_per_s": cycles / serve_wall, "sim_cpu_s": cpu_end - cpu_ready,
        "sim_cycles_per_cpu_s": cycles / max(cpu_end - cpu_ready, 1e-9), "registers": regs, "errors": b.errors,
        "scoreboard": None if b.sb is None else {"sent": b.sb.sent, "cursor": b.sb.cursor,
                                                 "data_tlps": b.sb.data_tlps, "writes": b.sb.writes},
        "config": b.cfg, "perst": b.perst_info,
        "trace": b.trace_record,
    }
    if b.sb is not None and b.cfg is not None:
        # Final host memory against the image the scoreboard rebuilt from the writes it accepted.
        base, size, caddr = b.cfg
        ring = b.host_mm[base - HOST_BASE:base - HOST_BASE + size * 64]
        line = b.host_mm[caddr - HOST_BASE:caddr - HOST_BASE + 64]
        try:
            b.sb.check_memory(ring, line)
            summary["host_memory_matches_scoreboard"] = True
        except ScoreboardError as e:
            b.fail(f"host memory: {e}")
            summary["host_memory_matches_scoreboard"] = False
        summary["errors"] = b.errors
    np.savez(b.dir / "results.npz",
             accept_ns=np.array(b.accept_ns, np.int64), data_first_ns=np.array(b.data_first_ns, np.int64),
             data_n=np.array(b.data_n, np.int64), cursor_last_ns=np.array(b.cursor_last_ns, np.int64),
             cursor_val=np.array(b.cursor_val, np.uint64), land_ns=np.array(b.land_ns, np.int64),
             land_cursor=np.array(b.land_cursor, np.uint64), land_wall=np.array(b.land_wall, np.int64),
             wire_first_ns=np.array(b.wire_first_ns, np.int64), wire_last_ns=np.array(b.wire_last_ns, np.int64),
             publish_ns=np.array(b.publish_ns, np.int64))
    (b.dir / "results.json").write_text(json.dumps(summary, indent=2, default=int))
    b.mb[H_STATE] = State.FAILED if b.errors else State.STOPPED
    assert not b.errors, "; ".join(b.errors)
