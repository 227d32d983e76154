"""Throughput-level simulation: ring + DMA writer + UltraScale+ RQ adapter with hardware stimulus
and a checking host sink.

No Python runs per cycle: everything that acts every cycle is gateware compiled into the
Verilator model with the design under test:

- a traffic source (LFSR) offering one entry per cycle with a programmable probability,
  stamped with the ingress cycle; like a wire, it cannot be back-pressured: an entry the
  ring refuses is counted as dropped. It offers during ``offer_cycles`` cycles, counted by
  the harness itself, so a run's figures do not depend on when the driver stops it;
- the DUT: ``RingBuffer`` -> ``DmaWriter`` -> ``UspRequester`` at 256 or 512 bits (the RQ
  interface of the PCIe hard block);
- a host sink on RQ with programmable random back-pressure (``tready`` from an LFSR): it
  parses every descriptor, checks each data TLP's address against ``base + (seq mod size) * 64``
  and its dword count and beat count against its entries, checks every entry's sequence,
  checks that a cursor never runs ahead of the data, returns ``seq_num`` as the hard block
  does, and releases up to a cursor it saw after a programmable delay, one release in flight
  at a time (a host polling every ``delay`` cycles);
- a latency histogram (cycles from the ring's producer handshake to the RQ beat carrying the
  entry's first 16 bytes, one bin per cycle, the last bin saturating), read after the run
  through a combinational read port.

Every random stream is seeded from ``seed`` when ``go`` rises and advances only while the
harness runs, so the same knobs give the same counters and histogram whatever drives the
model: cocotb (``tb_throughput.py``) or the generated C++ main (``sim/fast``).
"""
from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from ringgate.contracts.entry import ENTRY
from ringgate.contracts.pcie import USER_CLOCK_NS as CLOCK_NS
from ringgate.hw.pcie.usp import UspRequester
from ringgate.hw.pcie_dma import CURSOR_DWORDS, DmaWriter
from ringgate.hw.ringbuf import RingBuffer

__all__ = ["ThroughputHarness", "HIST_BINS", "CLOCK_NS", "RING_BASE", "CURSOR_ADDR", "COUNTERS",
           "WIDTHS"]

HIST_BINS = 256
RING_BASE = 0x1_0000_0000
CURSOR_ADDR = 0x2_0000_0000
WIDTHS = (256, 512)
# The counters a run reads back, in report order.
COUNTERS = ("cycles", "offered", "dropped", "entries", "window_entries", "data_tlps", "cursor_lines", "last_cursor",
            "seq_errors", "addr_errors", "cursor_errors", "tlp_errors", "dma_errors")
# The inputs a run sets before ``go`` and leaves alone.
KNOBS = ("go", "seed", "offer_cycles", "p_offer", "p_ready", "mps", "batch_limit", "cursor_interval",
         "doorbell_delay")
_SRC_SALT = 0x1234_5678
_SNK_SALT = 0x0BAD_F00D


class _Lfsr(wiring.Component):
    """32-bit Galois LFSR, loaded from ``seed`` on ``load`` and stepped on ``en``; ``hit`` is 1
    with probability ``threshold / 65536``."""

    def __init__(self, salt: int):
        self._salt = salt
        super().__init__({"seed": In(32), "load": In(1), "en": In(1), "threshold": In(17), "hit": Out(1)})

    def elaborate(self, platform):
        m = Module()
        state = Signal(32, init=self._salt)
        seeded = Signal(32)
        m.d.comb += seeded.eq(self.seed ^ self._salt)
        with m.If(self.load):
            m.d.sync += state.eq(Mux(seeded == 0, self._salt, seeded))   # never the all-zero lock-up
        with m.Elif(self.en):
            m.d.sync += state.eq(Cat(state[1:], 0) ^ (0x80200003 * state[0]))
        m.d.comb += self.hit.eq(self.en & (state[:16] < self.threshold))
        return m


class RqSink(wiring.Component):
    """Host memory on the RQ interface: parses descriptors, checks data and cursor TLPs, returns
    ``seq_num`` and rings the doorbell after a delay.

    Entry ``i`` of a TLP starts at dword ``4 + 16 i`` of the TLP, so its first 16 bytes are
    bits 128..255 of beat ``2 i`` at 256 bits and of beat ``i`` at 512 bits; the sink only
    looks there (sequence and timestamp) and at the descriptor.

    Members
    -------
    tdata, tlast, tvalid, tready : RQ stream (``tready`` driven here from ``ready``)
    seq_num_vld : one pulse per TLP taken, a cycle after its last beat
    expect : the next data sequence the host expects
    take_entry, entry_ts : an entry's first beat taken now, and its ingress timestamp
    doorbell, doorbell_w : the host's release of the ring up to a cursor
    """

    def __init__(self, width: int, host_size: int):
        if width not in WIDTHS:
            raise ValueError(f"datapath width must be one of {WIDTHS}, not {width!r}")
        self._w = width
        self._size = host_size
        super().__init__({
            "tdata": In(width), "tlast": In(1), "tvalid": In(1), "tready": Out(1), "ready": In(1),
            "seq_num_vld": Out(1), "doorbell_delay": In(16),
            "doorbell": Out(64), "doorbell_w": Out(1),
            "take_entry": Out(1), "entry_ts": Out(32),
            "entries": Out(64), "data_tlps": Out(64), "cursor_lines": Out(64), "last_cursor": Out(64),
            "seq_errors": Out(32), "addr_errors": Out(32), "cursor_errors": Out(32), "tlp_errors": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        W, size = self._w, self._size
        d = self.tdata
        take = Signal()
        m.d.comb += [self.tready.eq(self.ready), take.eq(self.tvalid & self.ready)]
        m.d.sync += self.seq_num_vld.eq(take & self.tlast)

        in_tlp = Signal()           # a beat after the descriptor's is the TLP's next beat
        beat = Signal(6)            # index of the current beat within its TLP
        n = Signal(6)               # entries of the current data TLP
        cursor = Signal()           # the current TLP is a cursor write
        # The descriptor of a first beat, decoded combinationally; n and cursor are held for the rest.
        d_addr = Cat(Const(0, 2), d[2:64])
        d_ndw = d[64:75]
        d_cursor = d_addr == CURSOR_ADDR
        cur_n = Mux(in_tlp, n, d_ndw[4:])
        cur_cursor = Mux(in_tlp, cursor, d_cursor)
        cur_beat = Mux(in_tlp, beat, 0)
        line_seq = d[128:192]
        if W == 256:
            has_entry = (cur_beat[0] == 0) & (cur_beat[1:] < cur_n)
            beats = Mux(cur_cursor, 2, Cat(Const(1, 1), cur_n))       # 2n + 1
        else:
            has_entry = cur_beat < cur_n
            beats = Mux(cur_cursor, 1, cur_n + 1)
        m.d.comb += [self.take_entry.eq(take & has_entry & ~cur_cursor), self.entry_ts.eq(d[192:224])]

        slot = self.expect[:size.bit_length() - 1]
        want_addr = Const(RING_BASE, 64) + Cat(Const(0, 6), slot)
        with m.If(take):
            m.d.sync += [in_tlp.eq(~self.tlast), beat.eq(cur_beat + 1)]
            with m.If(~in_tlp):
                m.d.sync += [n.eq(d_ndw[4:]), cursor.eq(d_cursor)]
                with m.If(d_cursor):
                    m.d.sync += self.cursor_lines.eq(self.cursor_lines + 1)
                    with m.If((d_ndw != CURSOR_DWORDS) | (d[75:79] != 0b0001)):
                        m.d.sync += self.tlp_errors.eq(self.tlp_errors + 1)
                with m.Else():
                    m.d.sync += self.data_tlps.eq(self.data_tlps + 1)
                    # Whole entries, at least one, not past the host ring's end, at the expected slot.
                    with m.If((d_ndw[:4] != 0) | (d_ndw[4:] == 0) | (d[75:79] != 0b0001)):
                        m.d.sync += self.tlp_errors.eq(self.tlp_errors + 1)
                    with m.If((d_addr != want_addr) | (slot + d_ndw[4:] > size)):
                        m.d.sync += self.addr_errors.eq(self.addr_errors + 1)
            with m.If(self.tlast != (cur_beat + 1 == beats)):
                m.d.sync += self.tlp_errors.eq(self.tlp_errors + 1)
            with m.If(cur_cursor & (cur_beat == 0)):
                m.d.sync += self.last_cursor.eq(line_seq)
                # The cursor must cover exactly the data already seen, never run ahead.
                with m.If(line_seq > self.expect):
                    m.d.sync += self.cursor_errors.eq(self.cursor_errors + 1)
        with m.If(self.take_entry):
            with m.If(line_seq != self.expect):
                m.d.sync += self.seq_errors.eq(self.seq_errors + 1)
            m.d.sync += [self.expect.eq(self.expect + 1), self.entries.eq(self.entries + 1)]

        # Doorbell: the host sees a cursor and releases up to it ``doorbell_delay`` cycles later;
        # cursors arriving meanwhile wait for the next round (a host polling every ``delay`` cycles).
        countdown = Signal(16)
        armed = Signal()
        with m.If(~armed):
            with m.If(take & cur_cursor & (cur_beat == 0)):
                m.d.sync += [self.doorbell.eq(line_seq), countdown.eq(self.doorbell_delay), armed.eq(1)]
        with m.Elif(countdown == 0):
            m.d.comb += self.doorbell_w.eq(1)
            m.d.sync += armed.eq(0)
        with m.Else():
            m.d.sync += countdown.eq(countdown - 1)
        return m

    @property
    def expect(self):
        return self.entries


class ThroughputHarness(wiring.Component):
    """Ring + DMA writer + RQ adapter between a hardware traffic source and a checking host sink,
    with a latency histogram: the throughput-level simulation, no Python per cycle.

    Parameters
    ----------
    width : int
        RQ datapath bits (256 or 512).

    registered_knobs : bool
        Sample the knobs into registers (the default); off only to measure what that saves.

    Members
    -------
    go : level; the rising edge seeds the random streams and enables the DMA writer
    settled : the offering window is over and every accepted entry and its cursor reached the host
    hist_addr, hist_data : read port of the latency histogram
    """

    def __init__(self, width: int = 256, ring_depth: int = 1024, host_size: int = 4096, *,
                 registered_knobs: bool = True):
        if width not in WIDTHS:
            raise ValueError(f"datapath width must be one of {WIDTHS}, not {width!r}")
        self._w = width
        self._ring_depth = ring_depth
        self._host_size = host_size
        self._registered_knobs = registered_knobs
        counters = {k: Out(32 if k.endswith("errors") else 64) for k in COUNTERS}
        super().__init__({
            "go": In(1), "seed": In(32), "offer_cycles": In(64),
            "p_offer": In(17), "p_ready": In(17),           # out of 65536
            "mps": In(3), "batch_limit": In(32), "cursor_interval": In(32),
            "doorbell_delay": In(16),       # cycles from a cursor write to the host's doorbell
            **counters, "settled": Out(1),
            "hist_addr": In(range(HIST_BINS)), "hist_data": Out(32),
        })

    @property
    def width(self):
        return self._w

    def elaborate(self, platform):
        m = Module()
        m.submodules.ring = ring = RingBuffer(self._ring_depth, ENTRY.layout())
        m.submodules.dma = dma = DmaWriter(self._ring_depth)
        m.submodules.rq = rq = UspRequester(self._w)
        m.submodules.host = host = RqSink(self._w, self._host_size)
        m.submodules.src = src = _Lfsr(_SRC_SALT)
        m.submodules.snk = snk = _Lfsr(_SNK_SALT)
        wiring.connect(m, ring.o, dma.entries)
        wiring.connect(m, dma.req, rq.req)

        # Knobs through registers: logic fed by the model's inputs is evaluated on every
        # eval() call (twice a cycle), logic fed by registers only when they change.
        k = SimpleNamespace()
        domain = m.d.sync if self._registered_knobs else m.d.comb
        for name in KNOBS:
            setattr(k, name, Signal.like(getattr(self, name), name=f"knob_{name}"))
            domain += getattr(k, name).eq(getattr(self, name))

        now = Signal(64)
        m.d.sync += now.eq(now + 1)
        started = Signal()
        start = Signal()
        m.d.comb += start.eq(k.go & ~started)
        with m.If(k.go):
            m.d.sync += started.eq(1)
        active = Signal()           # the offering window
        m.d.comb += active.eq(started & (self.cycles < k.offer_cycles))
        with m.If(active):
            m.d.sync += self.cycles.eq(self.cycles + 1)
            # Throughput is what reached the host within the window, not the drained backlog.
            with m.If(host.take_entry):
                m.d.sync += self.window_entries.eq(self.window_entries + 1)

        # Configure and enable once; the DMA validates like it does for BAR0 writes.
        regs = dma.regs
        m.d.comb += [
            dma.fill.eq(ring.fill), regs.ring_base.eq(RING_BASE), regs.ring_size.eq(self._host_size),
            regs.cursor_addr.eq(CURSOR_ADDR), regs.batch_limit.eq(k.batch_limit),
            regs.cursor_interval.eq(k.cursor_interval), dma.mps.eq(k.mps),
            dma.bus_master.eq(1), dma.timestamp.eq(now), regs.control.enable.eq(1),
            regs.control_w.eq(start), dma.downstream_busy.eq(rq.busy),
            regs.doorbell.eq(host.doorbell), regs.doorbell_w.eq(host.doorbell_w),
        ]

        # Traffic source: cannot be back-pressured.
        uid = Signal(64)
        m.d.comb += [src.seed.eq(k.seed), src.load.eq(start), src.en.eq(active),
                     src.threshold.eq(k.p_offer), ring.i.valid.eq(src.hit)]
        m.d.comb += [ring.i.payload.ts.eq(now[:32]), ring.i.payload.uid.eq(uid),
                     ring.i.payload.size.eq(1), ring.i.payload.cmd.eq(1)]
        with m.If(src.hit):
            m.d.sync += [self.offered.eq(self.offered + 1), uid.eq(uid + 1)]
            with m.If(~ring.i.ready):
                m.d.sync += self.dropped.eq(self.dropped + 1)

        # Host: ready from its own random stream, which runs from the start until the end.
        m.d.comb += [snk.seed.eq(k.seed), snk.load.eq(start), snk.en.eq(started),
                     snk.threshold.eq(k.p_ready), host.ready.eq(snk.hit),
                     host.tdata.eq(rq.axis.tdata), host.tlast.eq(rq.axis.tlast), host.tvalid.eq(rq.axis.tvalid),
                     rq.axis.tready.eq(host.tready), rq.seq.seq_num_vld0.eq(host.seq_num_vld),
                     rq.seq.seq_num_vld1.eq(0), host.doorbell_delay.eq(k.doorbell_delay)]
        for k in ("entries", "data_tlps", "cursor_lines", "last_cursor", "seq_errors", "addr_errors",
                  "cursor_errors", "tlp_errors"):
            m.d.comb += getattr(self, k).eq(getattr(host, k))

        accepted = self.offered - self.dropped
        m.d.comb += self.settled.eq(started & ~active & (self.entries == accepted)
                                    & (self.last_cursor == accepted) & ~rq.axis.tvalid)

        # Latency histogram: one bin per cycle, the last bin saturating. An asynchronous read
        # port makes read-increment-write one array update per cycle in the simulator.
        m.submodules.hist = hist = memory.Memory(shape=32, depth=HIST_BINS, init=[])
        h_rd = hist.read_port(domain="comb")
        h_wr = hist.write_port()
        lat = Signal(32)
        binno = Signal(range(HIST_BINS))
        m.d.comb += [
            lat.eq(now[:32] - host.entry_ts),
            binno.eq(Mux(lat >= HIST_BINS - 1, HIST_BINS - 1, lat)),
            h_rd.addr.eq(Mux(host.take_entry, binno, self.hist_addr)),
            h_wr.addr.eq(binno), h_wr.data.eq(h_rd.data + 1), h_wr.en.eq(host.take_entry),
            self.hist_data.eq(h_rd.data),
        ]
        m.d.sync += self.dma_errors.eq(self.dma_errors | regs.error_set.as_value())
        return m
