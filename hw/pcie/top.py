"""Ring + DMA writer + BAR0 registers + UltraScale+ adapter: the PCIe side of the gateway.

Port names are the UltraScale+ PCIe IP's own (``s_axis_rq_*``, ``m_axis_cq_*``,
``s_axis_cc_*``, ``pcie_rq_seq_num*``, ``cfg_max_payload``, ``cfg_function_status``,
``pcie_cq_np_req``), so a board top connects the IP by name and cocotbext-pcie binds them
directly; the AXI-Stream ones are generated from the adapters' signatures (``axis.py``).
The ``sync`` domain is the IP's ``user_clk`` / ``user_reset`` (ports ``clk`` / ``rst``), and its
reset must be exactly ``user_reset``: the adapter drops ``s_axis_rq_tvalid`` mid-packet on
reset, which is only correct when the IP's transaction layer is being reset with it (any other
reset source would hand the IP a truncated TLP). The one other reset is the function-level
reset (``cfg_flr_in_process`` / ``cfg_flr_done``, :class:`~.flr.FunctionReset`), and it is applied
only once nothing is held or in flight towards RQ and CC: the writer stops, the adapters drain
(bounded by the RQ adapter's sequence-number timeout), then the ring, the writer, BAR0 and the
adapters take their reset values for one cycle and ``cfg_flr_done[0]`` pulses.
Entries enter through ``i`` (the ring's producer stream).
"""
from __future__ import annotations

from amaranth.hdl import Module, ResetInserter, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ringgate.contracts.entry import ENTRY
from ringgate.contracts.regmap import REGMAP, RegisterMap
from ringgate.hw.ringbuf import RingBuffer

from .axis import RQ_SEQ_NUM, AxiStreamSignature, connect_flat, flat_members
from .bar0 import Bar0
from .flr import PF_COUNT, FunctionReset
from .regs import register_signature
from ..pcie_dma import DmaWriter
from .usp import TUSER, UspCompleter, UspRequester

__all__ = ["PcieTop", "INNER_GROUPS"]

# Register groups whose consumers are inside this top; any other group of the map is exposed
# as a port named after it, for a block outside (the ingress) to connect.
INNER_GROUPS = ("device", "dma", "ring")


class PcieTop(wiring.Component):
    """BRAM ring + DMA writer + BAR0 registers + UltraScale+ adapter, with ports named as the
    ``pcie4_uscale_plus`` hard block names them.

    Parameters
    ----------
    width : int
        PCIe datapath bits, 256 or 512.
    ring_depth : int
        Entries in the BRAM ring.
    regmap : RegisterMap
        The BAR0 map; its groups other than :data:`INNER_GROUPS` become ports.

    Members
    -------
    i : In(stream.Signature(ENTRY.layout()))
        Entries into the ring (the producer).
    s_axis_rq_*, m_axis_cq_*, s_axis_cc_*
        The block's RQ, CQ and CC AXI4-Stream interfaces, flat (``AxiStreamSignature``).
    pcie_rq_seq_num0/1, pcie_rq_seq_num_vld0/1 : In
        Sequence numbers of TLPs that left the block (``RQ_SEQ_NUM``).
    pcie_cq_np_req : Out(2)
        Held at 1: no selective non-posted flow control (the IP's credit count saturates at 32);
        BAR reads are serialized by the completer's ``m_axis_cq_tready``, not by credits.
    cfg_max_payload : In(2)
    cfg_function_status : In(16)
        Bit 2: bus master enable.
    cfg_flr_in_process : In(4)
        Function-level reset of physical function k in process (bit k).
    cfg_flr_done : Out(4)
        One-cycle pulse: function k finished its reset (:class:`~.flr.FunctionReset`).
    timestamp : Out(64)
        Free-running cycle counter (TIMESTAMP; latency reports).
    ring_take : Out(1)
        An entry leaves the ring into the writer (testbenches, latency reports).
    <group> : Out(register_signature(group))
        For each register group of ``regmap`` not consumed inside.
    """

    def __init__(self, width: int = 256, ring_depth: int = 1024, *, regmap: RegisterMap = REGMAP):
        if width not in TUSER:
            raise ValueError(f"datapath width must be 256 or 512, not {width!r}")
        self._w = width
        self._depth = ring_depth
        self._map = regmap
        tu = TUSER[width]
        members = {
            "i": In(stream.Signature(ENTRY.layout())),
            **flat_members("s_axis_rq", Out(AxiStreamSignature(width, tu["rq"]))),
            **flat_members("pcie_rq", In(RQ_SEQ_NUM)),
            **flat_members("m_axis_cq", In(AxiStreamSignature(width, tu["cq"]))),
            "pcie_cq_np_req": Out(2),
            **flat_members("s_axis_cc", Out(AxiStreamSignature(width, tu["cc"]))),
            "cfg_max_payload": In(2),
            "cfg_function_status": In(16),
            "cfg_flr_in_process": In(PF_COUNT),
            "cfg_flr_done": Out(PF_COUNT),
            "timestamp": Out(64),
            "ring_take": Out(1),
        }
        for g in regmap.groups:
            if g.name not in INNER_GROUPS:
                if g.name in members:
                    raise ValueError(f"register group name {g.name!r} collides with a port of the top")
                members[g.name] = Out(register_signature(g))
        super().__init__(members)

    @property
    def width(self):
        return self._w

    def elaborate(self, platform):
        m = Module()
        # A function-level reset puts the function's logic to its reset values, once quiet.
        m.submodules.flr = flr = FunctionReset()
        function = ResetInserter(flr.reset)
        m.submodules.ring = ring = function(RingBuffer(self._depth, ENTRY.layout()))
        m.submodules.dma = dma = function(DmaWriter(self._depth))
        caps = self._map["CAPS"].pack(DATAPATH_BITS=self._w, RING_DEPTH_LOG2=ring.addr_bits)
        m.submodules.bar = bar = function(Bar0(self._map, fixed={"CAPS": caps}))
        m.submodules.rq = rq = function(UspRequester(self._w))
        m.submodules.cq = cq = function(UspCompleter(self._w))

        wiring.connect(m, wiring.flipped(self.i), ring.i)
        wiring.connect(m, ring.o, dma.entries)
        wiring.connect(m, dma.req, rq.req)
        wiring.connect(m, cq.reg_req, bar.req)
        wiring.connect(m, bar.resp, cq.reg_resp)
        wiring.connect(m, bar.dma, dma.regs)
        for g in self._map.groups:
            if g.name not in INNER_GROUPS:
                wiring.connect(m, getattr(bar, g.name), wiring.flipped(getattr(self, g.name)))

        # The IP-named edge.
        connect_flat(m, self, "s_axis_rq", rq.axis)
        connect_flat(m, self, "pcie_rq", rq.seq)
        connect_flat(m, self, "m_axis_cq", cq.cq)
        connect_flat(m, self, "s_axis_cc", cq.cc)
        m.d.comb += [
            # Held at 1 (PG213 selective flow control off): CQ reads are paced by m_axis_cq_tready.
            self.pcie_cq_np_req.eq(1),
            dma.mps.eq(self.cfg_max_payload),
            # Bus mastering as the writer sees it is off during a function-level reset whatever
            # the block's command register still says.
            dma.bus_master.eq(self.cfg_function_status[2] & ~flr.stop),
            dma.stop.eq(flr.stop),
            flr.in_process.eq(self.cfg_flr_in_process), self.cfg_flr_done.eq(flr.done),
            flr.quiet.eq(~dma.regs.status.busy & ~cq.busy),
        ]

        # The ring's flat status ports, the cycle counter and the RQ stall counter.
        ts = Signal(64)
        m.d.sync += ts.eq(ts + 1)
        rq_stall = Signal(64)
        with m.If(dma.regs.error_clear | flr.reset):
            m.d.sync += rq_stall.eq(0)
        with m.Elif(rq.axis.tvalid & ~rq.axis.tready):
            m.d.sync += rq_stall.eq(rq_stall + 1)
        m.d.comb += [
            dma.fill.eq(ring.fill), dma.timestamp.eq(ts), dma.downstream_busy.eq(rq.busy), dma.downstream_lost.eq(rq.lost),
            bar.bus_bad.eq(cq.bad),
            bar.ring.published.eq(ring.cursor), bar.ring.ring_full_cycles.eq(ring.full_cycles),
            bar.ring.ring_fill.eq(ring.fill),
            bar.device.timestamp.eq(ts), bar.device.rq_stall_cycles.eq(rq_stall),
            self.timestamp.eq(ts), self.ring_take.eq(dma.take),
        ]
        return m
