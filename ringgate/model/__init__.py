"""Bit-exact golden model of the FPGA path (ring, DMA writer, registers) and the TLP split rule.

It sits below the gateware and the host software: the driver's model backend runs on it, and the
RTL benches use it as their scoreboard.
"""
from .fpga import FpgaModel, Scoreboard, ScoreboardError, Tlp, stamp
from .hostmem import DmaFault, HostMemory

__all__ = ["FpgaModel", "Scoreboard", "ScoreboardError", "Tlp", "stamp", "HostMemory", "DmaFault"]
