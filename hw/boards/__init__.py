"""Board tops: the gateware between the PCIe hard block and the Ethernet MAC of a dev board
(``top``), the boards (``au200``, ``vcu118`` on a common ``platform``), the IP configuration
(``ip``), the XDC and its checker (``xdc``, ``netlist``)."""
from __future__ import annotations

from .au200 import AU200
from .vcu118 import VCU118

__all__ = ["BOARDS"]

BOARDS = {b.name: b for b in (AU200, VCU118)}
"""Boards by the name ``ringgate build --board`` takes."""
