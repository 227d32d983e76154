"""The FPGA path from the wire: MAC receive stream -> ingress -> BRAM ring -> DMA writer -> PCIe."""
from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from ringgate.contracts.datagram import MAX_MESSAGES, SESSIONS
from ringgate.contracts.regmap import REGMAP, RegisterMap

from ..pcie.top import PcieTop
from .core import IngressRing
from .mac import MacRxSignature
from .parser import VERDICT

__all__ = ["WireTop"]

# PcieTop ports this top drives itself instead of passing them out.
_INSIDE = ("i", "ingress")


class WireTop(wiring.Component):
    """:class:`IngressRing` in front of :class:`~ringgate.hw.pcie.top.PcieTop`: orders arrive as
    frames on the MAC's receive stream and leave as Memory Writes into the host ring.

    The ingress's published entries (its dual-clock claim ring, read in the user clock) feed the
    producer stream of the top's ring, and the top's ``ingress`` register group (BAR0) is joined
    to the ingress with ``wiring.connect``. Every other port of ``PcieTop`` keeps its name (the
    UltraScale+ hard block's), so a board top or cocotbext-pcie binds them as before; ``mac`` is the
    MAC's stream in the ``mac`` clock domain (``mac_clk`` / ``mac_rst`` once converted).

    Parameters
    ----------
    width : int
        PCIe datapath bits, 256 or 512.
    ring_depth : int
        Entries in the top's BRAM ring.
    ingress_depth : int
        Entries in the ingress's ring (whole datagrams wait there while the top's ring is full).
    sessions, max_messages : int
        Parser build parameters.
    regmap : RegisterMap
        The BAR0 map; it must hold the ``ingress`` group.

    Members
    -------
    mac : In(MacRxSignature())
        The MAC's receive stream (``mac`` domain).
    verdict, verdict_valid : Out(VERDICT), Out(1)
        One per frame (``mac`` domain; monitors and latency stamps).
    publish : Out(1)
        The ingress publishes a datagram this cycle (``mac`` domain).
    mac_timestamp : Out(64)
        MAC-clock cycle counter (the clock of the entries' ``ts``).
    ring_accept : Out(1)
        An entry enters the top's ring this cycle (user clock).
    <every port of PcieTop but i and ingress>
        As there.
    """

    def __init__(self, width: int = 256, ring_depth: int = 1024, *, ingress_depth: int = 256,
                 sessions: int = SESSIONS, max_messages: int = MAX_MESSAGES, regmap: RegisterMap = REGMAP):
        if "ingress" not in {g.name for g in regmap.groups}:
            raise ValueError("the register map has no ingress group")
        self._pcie = PcieTop(width, ring_depth, regmap=regmap)
        self._ingress = IngressRing(ingress_depth, sessions=sessions, max_messages=max_messages)
        members = {n: v for n, v in self._pcie.signature.members.items() if n not in _INSIDE}
        members.update({
            "mac": self._ingress.signature.members["mac"],
            "verdict": Out(VERDICT), "verdict_valid": Out(1), "publish": Out(1), "mac_timestamp": Out(64),
            "ring_accept": Out(1),
        })
        super().__init__(members)

    @property
    def width(self) -> int:
        return self._pcie.width

    def elaborate(self, platform):
        m = Module()
        m.submodules.pcie = pcie = self._pcie
        m.submodules.ingress = ing = self._ingress
        wiring.connect(m, wiring.flipped(self.mac), ing.mac)
        wiring.connect(m, ing.o, pcie.i)
        wiring.connect(m, pcie.ingress, ing.regs)
        for name, member in self.signature.members.items():
            if name in ("mac", "verdict", "verdict_valid", "publish", "mac_timestamp", "ring_accept"):
                continue
            ours, theirs = getattr(self, name), getattr(pcie, name)
            m.d.comb += ours.eq(theirs) if member.flow == wiring.Out else theirs.eq(ours)
        m.d.comb += [
            ing.timestamp.eq(pcie.timestamp),
            self.verdict.eq(ing.verdict), self.verdict_valid.eq(ing.verdict_valid),
            self.publish.eq(ing.publish), self.mac_timestamp.eq(ing.mac_timestamp),
            self.ring_accept.eq(pcie.i.valid & pcie.i.ready),
        ]
        return m
