"""cocotb bench of :class:`ringgate.hw.ingress.IngressRing` on Verilator (run by tests/sim/test_ingress.py
and the ingress benchmark): MAC clock and user clock unrelated (optionally jittered), frames from
:class:`ringgate.sim.traffic.DatagramSource` on the MAC's receive stream (no tready), the ring drained
fast or slow on the user side, every frame's verdict, every entry and the counters (read through a
snapshot) checked against the golden model, and exact latency stamps.

Environment: ING_FRAMES, ING_SEED, ING_MIX (probability of a malformed frame), ING_MAX (messages per
datagram at most), ING_SINGLE=1 (single-order datagrams, no tag; ING_CSUM=1: with UDP checksum), ING_SOURCE ("axis": the
cocotbext-axi AxiStreamSource, frames back to back; "wire": frames spaced as on a line of ING_RATE
bits/s at the MAC clock, 0 = back to back), ING_MAC_PS / ING_USER_PS (clock periods), ING_JITTER
(each MAC half-period varies by up to this fraction), ING_DRAIN (k: the consumer takes an entry in
one user cycle of k), ING_OUT (JSON summary).
"""
from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, Timer
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSource

from ringgate.contracts.datagram import COUNTER_NAMES, Drop, IngressControl, IngressStatus
from ringgate.contracts.entry import ENTRY_DTYPE
from ringgate.model.ingress import IngressModel
from ringgate.sim.traffic import LOCAL, DatagramSource, beats

from ringgate.hw.ingress.parser import VERDICT

ETH_WIRE_OVERHEAD = 4 + 8 + 12          # FCS + preamble/SFD + inter-frame gap, bytes per frame


def _env(name, default):
    return type(default)(os.environ.get(name, default))


async def frame_starts(dut, on_start, done):
    """``on_start(cycle)`` at each frame's first beat on the MAC stream, with the MAC cycle counter of
    that beat, until ``done()``; no Python while the stream is idle."""
    edge, tv, tl = RisingEdge(dut.mac_clk), dut.mac__tvalid, dut.mac__tlast
    rise = RisingEdge(tv)
    in_frame = False
    while not done():
        if not tv.value:
            await rise
        await edge
        if tv.value:
            if not in_frame:
                on_start(int(dut.mac_timestamp.value))
            in_frame = not tl.value


def _field(value: int, layout, name: str) -> int:
    f = layout[name]
    return (value >> f.offset) & ((1 << f.width) - 1)


async def jittered_clock(sig, period_ps: int, jitter: float, rng: random.Random):
    half = period_ps / 2
    while True:
        sig.value = 1
        await Timer(int(round(half * (1 + rng.uniform(-jitter, jitter)))), "ps")
        sig.value = 0
        await Timer(int(round(half * (1 + rng.uniform(-jitter, jitter)))), "ps")


class Bench:
    def __init__(self, dut):
        self.dut = dut
        self.seed = _env("ING_SEED", 1)
        self.rng = random.Random(self.seed)
        self.mac_ps, self.user_ps = _env("ING_MAC_PS", 6400), _env("ING_USER_PS", 4000)
        self.jitter = _env("ING_JITTER", 0.0)
        self.drain = _env("ING_DRAIN", 1)
        n, mix, mx = _env("ING_FRAMES", 200), _env("ING_MIX", 0.3), _env("ING_MAX", 4)
        src = DatagramSource(self.seed, max_messages=mx)
        if _env("ING_SINGLE", 0):
            csum = bool(_env("ING_CSUM", 0))
            self.frames = [src.good(1, vlan=None, udp_checksum_on=csum) for _ in range(n)]
        else:
            self.frames = src.mix(n, p_bad=mix)
        self.max_messages = mx
        self.first_cycle, self.first_ps, self.verdicts, self.pub_ps, self.pub_cycle = [], [], [], [], []
        self.entries, self.entry_ps = [], []
        self.done = False

    async def reset(self):
        d = self.dut
        d.rst.value = 1
        d.mac_rst.value = 1
        for s in (d.mac__tvalid, d.mac__tlast, d.mac__tuser, d.o__ready, d.regs__ingress_control_w,
                  d.regs__udp_port_w, d.regs__mac_addr_w, d.regs__ip_addr_w):
            s.value = 0
        await ClockCycles(d.clk, 4)
        await ClockCycles(d.mac_clk, 4)
        d.rst.value = 0
        d.mac_rst.value = 0
        await ClockCycles(d.clk, 2)

    async def configure(self):
        d = self.dut
        for name, v in (("mac_addr", LOCAL.mac_int), ("ip_addr", LOCAL.ip_int), ("udp_port", LOCAL.port)):
            await self.write(name, v)
        await self.write("ingress_control", IngressControl.ENABLE)
        while not int(d.regs__ingress_status.value) & IngressStatus.ENABLED:
            await RisingEdge(d.clk)
        await ClockCycles(d.mac_clk, 32)         # the session table clears

    async def strobe(self, sig, record):
        """Every cycle ``sig`` is high at a MAC clock edge (no Python while it is low)."""
        d = self.dut
        edge, rise = RisingEdge(d.mac_clk), RisingEdge(sig)
        while not self.done:
            if not sig.value:
                await rise
            await edge
            while sig.value:
                record(get_sim_time("ps"))
                await edge

    def start_monitors(self):
        d = self.dut
        cocotb.start_soon(self.strobe(d.verdict_valid, lambda t: self.verdicts.append(int(d.verdict.value))))
        cocotb.start_soon(self.strobe(d.publish, lambda t: (self.pub_ps.append(t),
                                                            self.pub_cycle.append(int(d.mac_timestamp.value)))))

    async def consumer(self):
        """Takes entries: every cycle an entry is offered (fast, ``drain`` 1), or one cycle in ``drain``."""
        d = self.dut
        edge = RisingEdge(d.clk)
        k, ov, op, ready = self.drain, d.o__valid, d.o__payload, d.o__ready
        rise = RisingEdge(ov)
        ready.value = int(k == 1)
        while not self.done:
            if k > 1:                   # ready for one cycle in k
                await ClockCycles(d.clk, k - 1)
                ready.value = 1
                await edge
                ready.value = 0
                if ov.value:
                    self.entries.append(int(op.value).to_bytes(64, "little"))
                continue
            if not ov.value:
                await rise
            await edge
            if ov.value:
                self.entries.append(int(op.value).to_bytes(64, "little"))
                self.entry_ps.append(get_sim_time("ps"))

    async def drive_wire(self, rate_bps: float):
        """Frames beat by beat, spaced as on a line of ``rate_bps`` (0: back to back), at the MAC clock."""
        d = self.dut
        edge = RisingEdge(d.mac_clk)
        credit = 0.0
        td, tk, tl, tu, tv = d.mac__tdata, d.mac__tkeep, d.mac__tlast, d.mac__tuser, d.mac__tvalid
        for f in self.frames:
            bs = beats(f.data)
            # read before the edge that samples beat 0: the counter in the cycle before it
            self.first_cycle.append(int(d.mac_timestamp.value) + 1)
            self.first_ps.append(get_sim_time("ps") + self.mac_ps)
            for data, keep, last in bs:
                td.value, tk.value, tl.value, tu.value, tv.value = data, keep, int(last), int(f.bad and last), 1
                await edge
            tv.value = 0
            if rate_bps:
                # the wire's time for this frame (with FCS, preamble, gap) minus its beats
                credit += (len(f.data) + ETH_WIRE_OVERHEAD) * 8 / rate_bps * (1e12 / self.mac_ps) - len(bs)
                idle = int(credit)
                credit -= idle
                if idle:
                    await ClockCycles(d.mac_clk, idle)

    def frame_start(self, cycle: int):
        self.first_cycle.append(cycle)
        self.first_ps.append(get_sim_time("ps"))

    async def drive_axis(self):
        d = self.dut
        cocotb.start_soon(frame_starts(d, self.frame_start, lambda: self.done))
        src = AxiStreamSource(AxiStreamBus.from_prefix(d, "mac_"), d.mac_clk, d.mac_rst)
        for f in self.frames:
            user = [0] * (len(f.data) - 1) + [int(f.bad)]
            await src.send(AxiStreamFrame(f.data, tuser=user))
        await src.wait()

    async def write(self, name: str, value: int):
        """A BAR0 write as the register block presents it: the value with a one-cycle strobe."""
        d = self.dut
        await RisingEdge(d.clk)
        getattr(d, f"regs__{name}").value = int(value)
        getattr(d, f"regs__{name}_w").value = 1
        await RisingEdge(d.clk)
        getattr(d, f"regs__{name}_w").value = 0

    async def snapshot(self) -> dict:
        d = self.dut
        await self.write("ingress_control", IngressControl.SNAPSHOT)
        await RisingEdge(d.clk)
        while int(d.regs__ingress_status.value) & IngressStatus.SNAPSHOT_BUSY:
            await RisingEdge(d.clk)
        return {name: int(getattr(d, f"regs__{name.lower()}").value) for name in COUNTER_NAMES}


@cocotb.test(timeout_time=10**13, timeout_unit="ps")
async def ingress(dut):
    b = Bench(dut)
    rng = random.Random(b.seed + 99)
    if b.jitter:
        cocotb.start_soon(jittered_clock(dut.mac_clk, b.mac_ps, b.jitter, rng))
    else:
        cocotb.start_soon(Clock(dut.mac_clk, b.mac_ps, "ps").start())
    cocotb.start_soon(Clock(dut.clk, b.user_ps, "ps").start())
    await b.reset()
    await b.configure()
    b.start_monitors()
    cocotb.start_soon(b.consumer())
    source = os.environ.get("ING_SOURCE", "wire")
    if source == "axis":
        await b.drive_axis()
    else:
        await b.drive_wire(_env("ING_RATE", 10e9))
    # drain: until every verdict is in and the ring is empty (slow consumers take a while)
    for _ in range(200000):
        await ClockCycles(dut.clk, 64)
        if len(b.verdicts) == len(b.frames) and not dut.fill.value and not dut.o__valid.value:
            break
    counters = await b.snapshot()
    b.done = True
    await ClockCycles(dut.clk, 2)

    codes = [_field(v, VERDICT, "code") for v in b.verdicts]
    assert len(codes) == len(b.frames), f"{len(codes)} verdicts for {len(b.frames)} frames"
    full = {i for i, c in enumerate(codes) if c == Drop.RING_FULL}
    model = IngressModel(LOCAL, max_messages=b.max_messages)
    outs = [model.frame(f.data, bad=f.bad, start_cycle=_mac_ts(b, i), room=0 if i in full else None)
            for i, f in enumerate(b.frames)]
    want_codes = [o.code for o in outs]
    bad = [(i, b.frames[i].kind, c, w) for i, (c, w) in enumerate(zip(codes, want_codes)) if c != w]
    assert not bad, f"verdicts differ from the golden model (frame, kind, rtl, model): {bad[:8]}"
    want = np.concatenate([o.entries for o in outs if len(o.entries)] or [np.zeros(0, ENTRY_DTYPE)])
    got = np.frombuffer(b"".join(b.entries), ENTRY_DTYPE)
    assert len(got) == len(want), f"{len(got)} entries out of the ring, the model published {len(want)}"
    diff = np.nonzero(got.view(np.uint8).reshape(-1, 64) != want.view(np.uint8).reshape(-1, 64))[0]
    assert not len(diff), (f"entry {diff[0]} differs from the golden model (bytes "
                           f"{sorted(set(np.nonzero(got.view(np.uint8).reshape(-1, 64)[diff[0]] != want.view(np.uint8).reshape(-1, 64)[diff[0]])[0].tolist()))}; "
                           f"ts {got['ts'][diff[0]]} vs {want['ts'][diff[0]]})")
    assert counters == model.counters, {k: (counters[k], model.counters[k]) for k in counters
                                        if counters[k] != model.counters[k]}
    drops = sum(v for k, v in counters.items() if k.startswith("DROP_"))
    assert counters["FRAMES"] == counters["ACCEPTED"] + drops
    _summary(b, outs, counters)


def _mac_ts(b, i) -> int:
    """The MAC cycle counter in the cycle of frame i's first beat."""
    return b.first_cycle[i]


def _summary(b, outs, counters):
    out = os.environ.get("ING_OUT")
    if not out:
        return
    acc = [i for i, o in enumerate(outs) if o.drop is None]
    first_ps = np.array([b.first_ps[i] for i in acc], np.int64)
    pub_ps = np.array(b.pub_ps[:len(acc)], np.int64)
    pub_cycle = np.array(b.pub_cycle[:len(acc)], np.int64)
    first_cycle = np.array([b.first_cycle[i] for i in acc], np.int64)
    # the first entry of each accepted datagram
    starts = np.cumsum([0] + [len(outs[i].entries) for i in acc])[:-1]
    entry_ps = np.array(b.entry_ps, np.int64)[starts] if len(b.entry_ps) else np.zeros(0, np.int64)
    sim_ps = b.first_ps[-1] - b.first_ps[0] if len(b.first_ps) > 1 else 0
    res = {
        "frames": len(b.frames), "accepted": len(acc), "counters": counters,
        "mac_ps": b.mac_ps, "user_ps": b.user_ps, "jitter": b.jitter, "drain": b.drain,
        "first_to_publish_cycles": (pub_cycle - first_cycle).tolist(),
        "frame_bytes": [len(b.frames[i].data) for i in acc],
        "publish_to_valid_ps": (entry_ps - pub_ps).tolist() if b.drain == 1 else [],
        "frames_per_s": (len(b.frames) - 1) / (sim_ps * 1e-12) if sim_ps else 0.0,
    }
    with open(out, "w") as fh:
        json.dump(res, fh)
