"""cocotb bench of :class:`ringgate.hw.ingress.top.WireTop` on Verilator (run by tests/sim/test_wire.py):
order frames on the MAC's receive stream (cocotbext-axi, ``mac`` clock) through the ingress, the BRAM
ring, the DMA writer and the UltraScale+ interface (cocotbext-pcie RootComplex, random RQ
back-pressure) into host memory, configured and read over BAR0 by name as a driver does.

Checked: every entry in host memory byte-exact against the ingress's golden model (as the RQ
monitor sees each data TLP, and as a slow host consumer reads the ring), the ingress counters read
over BAR0 through a snapshot equal to the model's, the counter identity, the map's version and the
ingress's build parameters, and that the locked registers refuse writes while enabled. Exact wire
stages of every accepted datagram go to ``WIRE_OUT`` (JSON) when set.

Environment: WIRE_FRAMES, WIRE_MIX (probability of a malformed frame), WIRE_MAC_PS, WIRE_SEED,
WIRE_RQ_PAUSE, WIRE_OUT.
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

from ringgate.contracts.datagram import MAX_MESSAGES, SESSIONS, IngressControl
from ringgate.contracts.regmap import VERSION_VALUE, Error
from ringgate.model.ingress import IngressModel
from ringgate.sim.pcie.tb import TB, HostConsumer, clear_pause, set_random_pause
from ringgate.sim.ingress.tb import frame_starts
from ringgate.sim.traffic import LOCAL, DatagramSource


USER_PS = 4000                      # the UltraScale+ model's user clock, 250 MHz


def _env(name, default):
    return type(default)(os.environ.get(name, default))


class WireBench:
    """Frames in on the MAC side; the golden model runs as each frame's first beat is seen, so the
    entries it publishes are known before their data TLPs can appear."""

    def __init__(self, dut):
        self.dut = dut
        self.seed = _env("WIRE_SEED", 1)
        self.mac_ps = _env("WIRE_MAC_PS", 6400)
        src = DatagramSource(self.seed, max_messages=_env("WIRE_MAX", 4))
        self.frames = src.mix(_env("WIRE_FRAMES", 120), p_bad=_env("WIRE_MIX", 0.3))
        self.model = IngressModel(LOCAL, max_messages=_env("WIRE_MAX", 4))
        self.expected: list[bytes] = []           # by ring sequence
        self.first_ps: list[int] = []             # per frame
        self.first_cycle: list[int] = []
        self.outcomes = []
        self.pub_ps: list[int] = []
        self.clk0 = None                          # (TB cycle, ps) of one user clock edge
        self.done = False

    def frame_start(self, cycle: int):
        """A frame's first beat (MAC clock): run the model on it."""
        f = self.frames[len(self.outcomes)]
        out = self.model.frame(f.data, bad=f.bad, start_cycle=cycle)
        self.outcomes.append(out)
        self.first_cycle.append(cycle)
        self.first_ps.append(get_sim_time("ps"))
        self.expected += [e.tobytes() for e in out.entries]

    async def watch_publish(self):
        d = self.dut
        edge, rise = RisingEdge(d.mac_clk), RisingEdge(d.publish)
        while not self.done:
            if not d.publish.value:
                await rise
            await edge
            while d.publish.value:
                self.pub_ps.append(get_sim_time("ps"))
                await edge

    async def user_clock_phase(self, tb):
        """Pairs the TB's user-cycle count with simulation time once (the user clock is exact)."""
        await RisingEdge(self.dut.clk)
        self.clk0 = (tb.cycle, get_sim_time("ps"))

    async def send(self):
        d = self.dut
        src = AxiStreamSource(AxiStreamBus.from_prefix(d, "mac_"), d.mac_clk, d.mac_rst)
        for f in self.frames:
            await src.send(AxiStreamFrame(f.data, tuser=[0] * (len(f.data) - 1) + [int(f.bad)]))
        await src.wait()


@cocotb.test(timeout_time=4000, timeout_unit="us")
async def wire_to_host(dut):
    b = WireBench(dut)
    cocotb.start_soon(Clock(dut.mac_clk, b.mac_ps, "ps").start())
    dut.mac_rst.value = 1
    dut.mac__tvalid.value = 0
    tb = TB(dut, seed=b.seed)
    tb.expected_entry = lambda seq: b.expected[seq]
    await ClockCycles(dut.mac_clk, 8)
    dut.mac_rst.value = 0
    await tb.init()
    regs = tb.regs

    assert await regs.read("VERSION") == VERSION_VALUE
    assert await regs.fields("INGRESS_CAPS") == {"SESSIONS": SESSIONS, "MAX_MESSAGES": _env("WIRE_MAX", 4)}
    assert await regs.start_ingress(LOCAL)               # configured, read back, enabled
    assert not await regs.start_ingress(LOCAL)           # the same destination again: left running
    assert await regs.read("INGRESS_CONTROL") == IngressControl.ENABLE
    # The parser samples the destination only while disabled: a write now is refused and reported.
    await regs.write("UDP_PORT", LOCAL.port + 1)
    assert await regs.read("UDP_PORT") == LOCAL.port
    assert await regs.read("ERROR") & Error.CONFIG_LOCKED
    await regs.write("ERROR", 0xFFFF_FFFF)
    await ClockCycles(dut.mac_clk, 32)                    # the session table clears after enable

    host_ring, ring_base = tb.alloc(64 * 64)
    cmem, caddr = tb.alloc(4096)
    if (p := _env("WIRE_RQ_PAUSE", 0.3)):
        set_random_pause(tb.dev.rq_sink, random.Random(b.seed + 7), p)
    first = await tb.start(ring_base, 64, caddr, batch_limit=8)
    assert first == 0
    host = HostConsumer(tb, host_ring.mem if hasattr(host_ring, "mem") else host_ring, 64, cmem, first,
                        delay=(0, 300), batch=4)
    await b.user_clock_phase(tb)
    cocotb.start_soon(frame_starts(dut, b.frame_start, lambda: b.done))
    cocotb.start_soon(b.watch_publish())
    await b.send()
    await ClockCycles(dut.mac_clk, 64)
    want = len(b.expected)
    for _ in range(4000):
        if host.consumed >= want:
            break
        await Timer(500, "ns")
    assert host.consumed == want, f"host consumed {host.consumed} entries, the model published {want}"
    await host.stop()
    clear_pause(tb.dev.rq_sink)
    b.done = True

    counters = await regs.ingress_counters()
    assert len(b.outcomes) == len(b.frames)
    assert counters == b.model.counters, {k: (counters[k], b.model.counters[k]) for k in counters
                                          if counters[k] != b.model.counters[k]}
    assert counters["FRAMES"] == counters["ACCEPTED"] + sum(v for k, v in counters.items() if k.startswith("DROP_"))
    assert 0 < counters["ACCEPTED"] < len(b.frames)
    assert tb.monitor.entries_seen == want and await regs.read("SENT") == want
    _summary(b, tb)


def wire_stages(b, tb) -> dict:
    """Per accepted datagram (its first entry), in ps: first beat on the MAC stream, published (ring
    cursor in the MAC clock), entry accepted into the top's ring, first RQ beat of its data TLP,
    last RQ beat of the first cursor TLP that covers it."""
    acc = [i for i, o in enumerate(b.outcomes) if o.drop is None]
    seqs = np.cumsum([0] + [len(b.outcomes[i].entries) for i in acc])[:-1].astype(np.int64)
    c0, p0 = b.clk0

    def ps(cycles):
        return p0 + (np.asarray(cycles, np.int64) - c0) * USER_PS

    data = [t for t in tb.monitor.tlps if t[0] == "data"]
    data_first = np.repeat([t[3] for t in data], [t[2] * 4 // 64 for t in data])
    cur = tb.monitor.cursor_writes
    cur_val = np.array([w["cursor"] for _, w in cur], np.int64)
    cur_idx = np.searchsorted(cur_val, seqs, side="right")
    return {
        "first": np.array([b.first_ps[i] for i in acc], np.int64),
        "published": np.array(b.pub_ps[:len(acc)], np.int64),
        "ring_accept": ps(np.array(tb.monitor.push_cycles, np.int64)[seqs]),
        "rq_first": ps(data_first[seqs]),
        "cursor_last": ps(np.array([c for c, _ in cur], np.int64)[cur_idx]),
    }


def _summary(b, tb):
    out = os.environ.get("WIRE_OUT")
    if not out:
        return
    st = wire_stages(b, tb)
    res = {"mac_ps": b.mac_ps, "user_ps": USER_PS, "frames": len(b.frames), "accepted": len(st["first"]),
           **{k: v.tolist() for k, v in st.items()}}
    with open(out, "w") as fh:
        json.dump(res, fh)
