"""Ring + DMA writer + BAR0 registers + UltraScale+ adapter: the PCIe side of the gateway.

Port names are the UltraScale+ PCIe IP's own (``s_axis_rq_*``, ``m_axis_cq_*``,
``s_axis_cc_*``, ``pcie_rq_seq_num*``, ``cfg_max_payload``, ``cfg_function_status``,
``pcie_cq_np_req``), so a board top connects the IP by name and cocotbext-pcie binds them
directly. The ``sync`` domain is the IP's ``user_clk`` / ``user_reset`` (ports ``clk`` /
``rst``). Entries enter through ``i`` (the ring's producer stream).
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ringgate.hw.ringbuf import RingBuffer
from ringgate.contracts.entry import ENTRY

from .bar0 import Bar0
from ..pcie_dma import DmaWriter
from .usp import TUSER, UspCompleter, UspRequester

__all__ = ["PcieTop"]


class PcieTop(wiring.Component):
    """BRAM ring + DMA writer + BAR0 registers + UltraScale+ adapter, with ports named as the
    ``pcie4_uscale_plus`` hard block names them (``width`` 256 or 512 bits)."""

    def __init__(self, width: int = 256, ring_depth: int = 1024):
        if width not in TUSER:
            raise ValueError(f"datapath width must be 256 or 512, not {width!r}")
        self._w = width
        self._depth = ring_depth
        tu = TUSER[width]
        super().__init__({
            "i": In(stream.Signature(ENTRY.layout())),
            "s_axis_rq_tdata": Out(width), "s_axis_rq_tkeep": Out(width // 32),
            "s_axis_rq_tlast": Out(1), "s_axis_rq_tuser": Out(tu["rq"]),
            "s_axis_rq_tvalid": Out(1), "s_axis_rq_tready": In(1),
            "pcie_rq_seq_num0": In(6), "pcie_rq_seq_num_vld0": In(1),
            "pcie_rq_seq_num1": In(6), "pcie_rq_seq_num_vld1": In(1),
            "m_axis_cq_tdata": In(width), "m_axis_cq_tkeep": In(width // 32),
            "m_axis_cq_tlast": In(1), "m_axis_cq_tuser": In(tu["cq"]),
            "m_axis_cq_tvalid": In(1), "m_axis_cq_tready": Out(1),
            "pcie_cq_np_req": Out(2),
            "s_axis_cc_tdata": Out(width), "s_axis_cc_tkeep": Out(width // 32),
            "s_axis_cc_tlast": Out(1), "s_axis_cc_tuser": Out(tu["cc"]),
            "s_axis_cc_tvalid": Out(1), "s_axis_cc_tready": In(1),
            "cfg_max_payload": In(2),
            "cfg_function_status": In(16),
            # observability (testbenches, latency reports)
            "timestamp": Out(64),
            "ring_take": Out(1),
        })

    @property
    def width(self):
        return self._w

    def elaborate(self, platform):
        m = Module()
        W = self._w
        m.submodules.ring = ring = RingBuffer(self._depth, ENTRY.layout())
        m.submodules.dma = dma = DmaWriter(self._depth)
        caps = W | (ring.addr_bits << 16)
        m.submodules.bar = bar = Bar0(fixed={"CAPS": caps})
        m.submodules.rq = rq = UspRequester(W)
        m.submodules.cq = cq = UspCompleter(W)

        wiring.connect(m, wiring.flipped(self.i), ring.i)
        wiring.connect(m, ring.o, dma.entries)
        wiring.connect(m, dma.req, rq.req)
        wiring.connect(m, cq.reg_req, bar.req)
        wiring.connect(m, bar.resp, cq.reg_resp)

        ts = Signal(64)
        m.d.sync += ts.eq(ts + 1)
        bme = self.cfg_function_status[2]

        m.d.comb += [
            # RQ
            self.s_axis_rq_tdata.eq(rq.tdata), self.s_axis_rq_tkeep.eq(rq.tkeep),
            self.s_axis_rq_tlast.eq(rq.tlast), self.s_axis_rq_tuser.eq(rq.tuser),
            self.s_axis_rq_tvalid.eq(rq.tvalid), rq.tready.eq(self.s_axis_rq_tready),
            rq.seq_num0.eq(self.pcie_rq_seq_num0), rq.seq_num_vld0.eq(self.pcie_rq_seq_num_vld0),
            rq.seq_num1.eq(self.pcie_rq_seq_num1), rq.seq_num_vld1.eq(self.pcie_rq_seq_num_vld1),
            # CQ / CC
            cq.cq_tdata.eq(self.m_axis_cq_tdata), cq.cq_tkeep.eq(self.m_axis_cq_tkeep),
            cq.cq_tlast.eq(self.m_axis_cq_tlast), cq.cq_tuser.eq(self.m_axis_cq_tuser),
            cq.cq_tvalid.eq(self.m_axis_cq_tvalid), self.m_axis_cq_tready.eq(cq.cq_tready),
            self.pcie_cq_np_req.eq(1),      # one non-posted credit at a time: BAR reads are serialized
            self.s_axis_cc_tdata.eq(cq.cc_tdata), self.s_axis_cc_tkeep.eq(cq.cc_tkeep),
            self.s_axis_cc_tlast.eq(cq.cc_tlast), self.s_axis_cc_tuser.eq(cq.cc_tuser),
            self.s_axis_cc_tvalid.eq(cq.cc_tvalid), cq.cc_tready.eq(self.s_axis_cc_tready),
            # DMA configuration and commands from BAR0
            dma.fill.eq(ring.fill),
            dma.ring_base.eq(bar.ring_base), dma.ring_size.eq(bar.ring_size),
            dma.cursor_addr.eq(bar.cursor_addr), dma.batch_limit.eq(bar.batch_limit),
            dma.cursor_interval.eq(bar.cursor_interval),
            dma.mps.eq(self.cfg_max_payload), dma.bus_master.eq(bme), dma.timestamp.eq(ts),
            dma.control.eq(bar.control), dma.control_w.eq(bar.control_w),
            dma.doorbell.eq(bar.doorbell), dma.doorbell_w.eq(bar.doorbell_w),
            dma.downstream_busy.eq(rq.busy),
            # BAR0 status
            bar.error_set.eq(dma.err_set), bar.error_clear.eq(dma.clear_errors),
            bar.host_consumed.eq(dma.consumed), bar.published.eq(ring.cursor), bar.sent.eq(dma.sent),
            bar.cursor_written.eq(dma.cursor_written), bar.cursor_writes.eq(dma.cursor_writes),
            bar.data_tlps.eq(dma.data_tlps), bar.host_full_cycles.eq(dma.host_full_cycles),
            bar.ring_full_cycles.eq(ring.full_cycles), bar.timestamp.eq(ts), bar.ring_fill.eq(ring.fill),
            self.timestamp.eq(ts), self.ring_take.eq(dma.take),
        ]

        # Registered lock: config writes are at least two cycles after any command, and BAR0
        # holds requests while an enable is being validated, so a one-cycle lag is safe.
        m.d.sync += bar.locked.eq(dma.busy)
        # BAR0's hold, registered: it also covers the cycle in which a command or doorbell
        # strobe is out (the core's ``settling`` rises a cycle later), so a request is never
        # taken before the command's effect is visible; it drops a cycle after ``settling``.
        m.d.comb += bar.hold.eq(dma.settling)
        # CONTROL.ENABLE read back, registered (hold outlasts settling by that cycle).
        m.d.sync += bar.control_r.eq(dma.enabled)
        # STATUS registered too (a cycle behind; reads take several cycles anyway): its bits
        # are ORs of state across blocks and must not lengthen the read multiplexer's path.
        m.d.sync += bar.status.eq(Cat(dma.enabled, dma.busy, dma.host_full, bme, dma.cursor_current,
                                      Const(0, 3), self.cfg_max_payload, Const(0, 1)))

        bad = Signal(32)
        rq_stall = Signal(64)
        with m.If(dma.clear_errors):
            m.d.sync += [bad.eq(0), rq_stall.eq(0)]
        with m.Else():
            with m.If(bar.bad | cq.bad):
                m.d.sync += bad.eq(bad + 1)
            with m.If(rq.tvalid & ~self.s_axis_rq_tready):
                m.d.sync += rq_stall.eq(rq_stall + 1)
        m.d.comb += [bar.bad_accesses.eq(bad), bar.rq_stall_cycles.eq(rq_stall)]
        return m
