"""Throughput-level simulation: ring + DMA writer with hardware stimulus and a lean host sink.

No Python runs per cycle: the clock ticks inside the simulator, and everything that acts every
cycle is gateware compiled into the Verilator model with the design under test:

- a traffic source (LFSR) offering one entry per cycle with a programmable probability,
  stamped with the ingress cycle; like a wire, it cannot be back-pressured: an entry the
  ring refuses is counted as dropped;
- the DUT: ``RingBuffer`` -> ``DmaWriter`` (the vendor-neutral core of hw/pcie);
- a host sink for the request stream with programmable random back-pressure (LFSR), which
  checks every data line against the sequence it expects and the address
  ``base + (seq mod size) * 64``, checks cursor lines never run ahead of the data, and
  releases up to a cursor it saw after a programmable delay, one release in flight at a
  time (a host polling every ``delay`` cycles: a slow or fast consumer);
- a latency histogram (cycles from ring accept to the line on the request stream, one bin
  per cycle, the last bin saturating), read out after the run through a read port.

The clock is generated inside the simulation (``ringgate.sim.verilator.build(..., clock_ns=...)``:
a Verilog wrapper with ``always #``), so the simulator never calls back into cocotb per
cycle; Python sets the knobs, waits N cycles with one ``Timer`` and reads counters.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from ringgate.hw.pcie_dma import DmaWriter
from ringgate.hw.ringbuf import RingBuffer
from ringgate.contracts.entry import ENTRY
from ringgate.contracts.pcie import USER_CLOCK_NS as CLOCK_NS

__all__ = ["ThroughputHarness", "HIST_BINS", "CLOCK_NS", "RING_BASE", "CURSOR_ADDR"]

HIST_BINS = 256
RING_BASE = 0x1_0000_0000
CURSOR_ADDR = 0x2_0000_0000
_SEQ = slice(0, 64)
_TS = slice(64, 96)


class _Lfsr(wiring.Component):
    """32-bit Galois LFSR; ``hit`` is 1 with probability ``threshold / 65536`` per cycle."""

    def __init__(self, seed: int):
        self._seed = seed
        super().__init__({"threshold": In(17), "hit": Out(1)})

    def elaborate(self, platform):
        m = Module()
        state = Signal(32, init=self._seed)
        m.d.sync += state.eq(Cat(state[1:], 0) ^ (0x80200003 * state[0]))
        m.d.comb += self.hit.eq(state[:16] < self.threshold)
        return m


class ThroughputHarness(wiring.Component):
    """Ring + DMA writer between a hardware traffic source and a checking host sink, with a
    latency histogram: the throughput-level simulation, no Python per cycle."""

    def __init__(self, ring_depth: int = 1024, host_size: int = 4096):
        self._ring_depth = ring_depth
        self._host_size = host_size
        super().__init__({
            "go": In(1),                    # level: enable traffic and configure the DMA once
            "p_offer": In(17), "p_ready": In(17),           # out of 65536
            "mps": In(3), "batch_limit": In(32), "cursor_interval": In(32),
            "doorbell_delay": In(16),       # cycles from a cursor line to the host's doorbell
            "cycles": Out(64), "offered": Out(64), "dropped": Out(64),
            "entries": Out(64), "data_tlps": Out(64), "cursor_lines": Out(64),
            "last_cursor": Out(64), "seq_errors": Out(32), "addr_errors": Out(32),
            "cursor_errors": Out(32), "dma_errors": Out(32),
            "hist_addr": In(range(HIST_BINS)), "hist_data": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        layout = ENTRY.layout()
        size = self._host_size
        m.submodules.ring = ring = self.ring = RingBuffer(self._ring_depth, layout)
        m.submodules.dma = dma = self.dma = DmaWriter(self._ring_depth)
        m.submodules.src = src = _Lfsr(0x1234_5678)
        m.submodules.snk = snk = _Lfsr(0x0BAD_F00D)
        wiring.connect(m, ring.o, dma.entries)

        now = Signal(64)
        m.d.sync += now.eq(now + 1)

        # Configure and enable once; the DMA validates like it does for BAR0 writes.
        enabled_once = Signal()
        regs = dma.regs
        m.d.comb += [
            dma.fill.eq(ring.fill), regs.ring_base.eq(RING_BASE), regs.ring_size.eq(size),
            regs.cursor_addr.eq(CURSOR_ADDR), regs.batch_limit.eq(self.batch_limit),
            regs.cursor_interval.eq(self.cursor_interval), dma.mps.eq(self.mps),
            dma.bus_master.eq(1), dma.timestamp.eq(now), regs.control.enable.eq(1),
            regs.control_w.eq(self.go & ~enabled_once), dma.downstream_busy.eq(0),
        ]
        with m.If(self.go):
            m.d.sync += enabled_once.eq(1)

        # Traffic source: cannot be back-pressured.
        m.d.comb += src.threshold.eq(self.p_offer)
        uid = Signal(64)
        offer = Signal()
        m.d.comb += [offer.eq(self.go & enabled_once & src.hit), ring.i.valid.eq(offer)]
        m.d.comb += [ring.i.payload.ts.eq(now[:32]), ring.i.payload.uid.eq(uid),
                     ring.i.payload.size.eq(1), ring.i.payload.cmd.eq(1)]
        with m.If(offer):
            m.d.sync += [self.offered.eq(self.offered + 1), uid.eq(uid + 1)]
            with m.If(~ring.i.ready):
                m.d.sync += self.dropped.eq(self.dropped + 1)

        # Host sink.
        m.d.comb += [snk.threshold.eq(self.p_ready), dma.req.ready.eq(snk.hit)]
        req = dma.req.payload
        take = dma.req.valid & dma.req.ready
        expect = Signal(64)                 # next data sequence
        addr = Signal(64)                   # address of the current line
        in_cursor = Signal()
        line_addr = Signal(64)
        m.d.comb += line_addr.eq(Mux(req.first, req.addr, addr))
        with m.If(take):
            m.d.sync += addr.eq(line_addr + 64)
            with m.If(req.first):
                m.d.sync += in_cursor.eq(req.cursor)
                with m.If(req.cursor):
                    m.d.sync += self.cursor_lines.eq(self.cursor_lines + 1)
                with m.Else():
                    m.d.sync += self.data_tlps.eq(self.data_tlps + 1)
            is_cursor = Signal()
            m.d.comb += is_cursor.eq(Mux(req.first, req.cursor, in_cursor))
            with m.If(is_cursor):
                cur = req.line[_SEQ]
                m.d.sync += self.last_cursor.eq(cur)
                # The cursor must cover exactly the data already seen, never run ahead.
                with m.If((cur > expect) | (line_addr != CURSOR_ADDR)):
                    m.d.sync += self.cursor_errors.eq(self.cursor_errors + 1)
            with m.Else():
                seq = req.line[_SEQ]
                want_addr = Const(RING_BASE, 64) + Cat(Const(0, 6), expect[:size.bit_length() - 1])
                with m.If(seq != expect):
                    m.d.sync += self.seq_errors.eq(self.seq_errors + 1)
                with m.If(line_addr != want_addr):
                    m.d.sync += self.addr_errors.eq(self.addr_errors + 1)
                m.d.sync += [expect.eq(expect + 1), self.entries.eq(self.entries + 1)]

        # Doorbell: the host consumes everything up to the cursor after a delay.
        pending = Signal(64)
        countdown = Signal(16)
        armed = Signal()
        m.d.comb += [regs.doorbell.eq(pending), regs.doorbell_w.eq(0)]
        # The host sees a cursor and releases up to it ``doorbell_delay`` cycles later; cursors
        # arriving meanwhile wait for the next round (a host polling every ``delay`` cycles).
        with m.If(~armed):
            with m.If(take & Mux(req.first, req.cursor, in_cursor) & req.last):
                m.d.sync += [pending.eq(req.line[_SEQ]), countdown.eq(self.doorbell_delay), armed.eq(1)]
        with m.Else():
            with m.If(countdown == 0):
                m.d.comb += regs.doorbell_w.eq(1)
                m.d.sync += armed.eq(0)
            with m.Else():
                m.d.sync += countdown.eq(countdown - 1)

        # Latency histogram: one bin per cycle, the last bin saturating. An asynchronous read
        # port makes read-increment-write one array update per cycle in the simulator.
        m.submodules.hist = hist = memory.Memory(shape=32, depth=HIST_BINS, init=[])
        h_rd = hist.read_port(domain="comb")
        h_wr = hist.write_port()
        lat = Signal(32)
        binno = Signal(range(HIST_BINS))
        count = Signal()
        m.d.comb += [
            lat.eq(now[:32] - req.line[_TS]),
            binno.eq(Mux(lat >= HIST_BINS - 1, HIST_BINS - 1, lat)),
            count.eq(take & ~Mux(req.first, req.cursor, in_cursor)),
            h_rd.addr.eq(Mux(count, binno, self.hist_addr)),
            h_wr.addr.eq(binno), h_wr.data.eq(h_rd.data + 1), h_wr.en.eq(count),
            self.hist_data.eq(h_rd.data),
        ]

        with m.If(enabled_once):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        m.d.sync += self.dma_errors.eq(self.dma_errors | regs.error_set.as_value())
        return m
