"""amaranth.sim harness: the parser writing a one-domain claim ring, frames in beat by beat, entries and
verdicts out, everything checked against the golden model."""
from dataclasses import dataclass, field

import numpy as np
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import Out
from amaranth.sim import Simulator

from ringgate.contracts.datagram import COUNTER_NAMES
from ringgate.contracts.entry import ENTRY, ENTRY_DTYPE
from ringgate.hw.ingress.parser import Parser
from ringgate.hw.ringbuf import RingBuffer
from ringgate.model.ingress import IngressModel
from ringgate.sim.traffic import LOCAL, beats


class Harness(wiring.Component):
    def __init__(self, depth=64, sessions=16, max_messages=4):
        self.parser = Parser(sessions=sessions, max_messages=max_messages)
        self.ring = RingBuffer(depth, ENTRY.layout(), producer="claim", max_claim=max_messages, lanes=8)
        super().__init__({"o": Out(stream.Signature(ENTRY.layout()))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.parser, m.submodules.ring = self.parser, self.ring
        wiring.connect(m, self.parser.ring, self.ring.claim)
        wiring.connect(m, self.ring.o, wiring.flipped(self.o))
        return m


@dataclass
class Run:
    entries: np.ndarray
    verdicts: list
    counters: dict
    starts: list
    publish_cycles: list = field(default_factory=list)
    first_beat: list = field(default_factory=list)
    last_beat: list = field(default_factory=list)


def run(frames, *, gap=3, depth=64, sessions=16, max_messages=4, ready=lambda cycle: True, tail=60, local=LOCAL,
        enable=True):
    """Drive ``frames`` (WireFrame) with ``gap`` idle cycles between them (an int or a callable of the frame
    index); return what came out."""
    dut = Harness(depth, sessions, max_messages)
    p, mac = dut.parser, dut.parser.mac
    got, verdicts, starts, pubs, firsts, lasts = [], [], [], [], [], []
    counters = {}
    done = [False]

    async def drive(ctx):
        ctx.set(p.config.mac, local.mac_int)
        ctx.set(p.config.ip, local.ip_int)
        ctx.set(p.config.port, local.port)
        ctx.set(p.config.enable, int(enable))
        await ctx.tick().repeat(24)
        cycle = 24
        for i, f in enumerate(frames):
            bts = beats(f.data)
            for j, (data, keep, last) in enumerate(bts):
                if j == 0:
                    starts.append(ctx.get(p.timestamp))
                    firsts.append(cycle)
                ctx.set(mac.tdata, data)
                ctx.set(mac.tkeep, keep)
                ctx.set(mac.tlast, last)
                ctx.set(mac.tuser, f.bad and last)
                ctx.set(mac.tvalid, 1)
                await ctx.tick()
                cycle += 1
            lasts.append(cycle - 1)
            ctx.set(mac.tvalid, 0)
            g = gap(i) if callable(gap) else gap
            if g:
                await ctx.tick().repeat(g)
                cycle += g
        await ctx.tick().repeat(tail)
        for name in COUNTER_NAMES:
            counters[name] = ctx.get(getattr(p.counters, name))
        done[0] = True

    async def collect(ctx):
        cycle = 0
        async for _, _, valid, payload, vv, verdict, pub in ctx.tick().sample(
                dut.o.valid, dut.o.payload, p.verdict_valid, p.verdict, p.ring.publish):
            ctx.set(dut.o.ready, int(ready(cycle)))
            if vv:
                verdicts.append({k: int(getattr(verdict, k)) for k in ("code", "count", "session", "seq", "gap", "ts")})
            if pub:
                pubs.append(cycle)
            cycle += 1
            if done[0]:
                break

    async def drain(ctx):
        async for _, _, valid, ready_, payload in ctx.tick().sample(dut.o.valid, dut.o.ready, dut.o.payload):
            if valid and ready_:
                got.append(payload.as_value().value)
            if done[0]:
                break

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(drive)
    sim.add_process(collect)
    sim.add_process(drain)
    sim.run()
    raw = b"".join(v.to_bytes(64, "little") for v in got)
    return Run(np.frombuffer(raw, ENTRY_DTYPE).copy(), verdicts, counters, starts, pubs, firsts, lasts)


def expected(frames, starts, *, sessions=16, max_messages=4, local=LOCAL, full=(), enable=True):
    """The model's outcomes; ``full``: frames the ring had no room for (only the RTL knows when)."""
    model = IngressModel(local, sessions=sessions, max_messages=max_messages, enabled=enable)
    outs = [model.frame(f.data, bad=f.bad, start_cycle=s, room=0 if i in full else None)
            for i, (f, s) in enumerate(zip(frames, starts))]
    ents = [o.entries for o in outs if len(o.entries)]
    return model, outs, (np.concatenate(ents) if ents else np.zeros(0, ENTRY_DTYPE))


def check(frames, r: Run, **kw):
    model, outs, want = expected(frames, r.starts, **kw)
    assert model.identity_holds()
    codes = [v["code"] for v in r.verdicts]
    want_codes = [o.code for o in outs]
    assert codes == want_codes, next((i, frames[i].kind, c, w) for i, (c, w) in enumerate(zip(codes, want_codes))
                                     if c != w) if len(codes) == len(want_codes) else (len(codes), len(want_codes))
    assert len(r.entries) == len(want), (len(r.entries), len(want))
    bad = np.nonzero(r.entries.view(np.uint8).reshape(-1, 64) != want.view(np.uint8).reshape(-1, 64))
    assert not len(bad[0]), f"entry {bad[0][0]} byte {bad[1][0]} differs"
    assert r.counters == model.counters, {k: (r.counters[k], model.counters[k]) for k in model.counters
                                          if r.counters[k] != model.counters[k]}
    return model, outs
