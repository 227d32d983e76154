"""The receive stream of a 10G/25G Ethernet MAC, as the Xilinx 10G/25G Ethernet Subsystem (PG210)
presents it on its RX AXI4-Stream user interface."""
from __future__ import annotations

from amaranth.lib import wiring
from amaranth.lib.wiring import Out

__all__ = ["MacRxSignature", "BEAT_BYTES"]

BEAT_BYTES = 8


class MacRxSignature(wiring.Signature):
    """A MAC's receive AXI4-Stream, the MAC's (source's) view.

    Frames arrive with the FCS removed; byte ``i`` of a beat is ``tdata[8*i:8*i+8]`` (the first
    byte on the wire is lane 0). There is no ``tready``: the wire cannot wait, so a receiver must
    take a beat in every cycle that ``tvalid`` is high.

    Members
    -------
    tdata : Out(64)
        Eight bytes of the frame.
    tkeep : Out(8)
        Lanes that hold frame bytes (all ones but on the last beat, where they are contiguous from lane 0).
    tlast : Out(1)
        Last beat of the frame.
    tuser : Out(1)
        On the last beat: the frame is bad (FCS error, PHY error, too long); drop it.
    tvalid : Out(1)
        A beat is on the bus.
    """

    def __init__(self):
        super().__init__({"tdata": Out(64), "tkeep": Out(8), "tlast": Out(1), "tuser": Out(1), "tvalid": Out(1)})
