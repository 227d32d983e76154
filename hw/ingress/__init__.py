"""Network ingress: Ethernet/IPv4/UDP order datagrams from a 10G/25G MAC's receive stream into the
BRAM ring, cut-through (docs/ingress.md).

- :mod:`.mac`: the MAC-side receive stream (Xilinx PG210: 64-bit, tkeep, tlast, tuser, no tready);
- :mod:`.parser`: :class:`Parser`, the frame checks at fixed offsets, the entry writer (claim /
  publish / abort on the ring) and the per-frame verdict, in the MAC clock;
- :mod:`.checksum`, :mod:`.sessions`, :mod:`.counters`: the parts it is built of;
- :mod:`.crossing`: configuration into the MAC clock, counter snapshots out of it;
- :mod:`.core`: :class:`IngressRing`, parser + dual-clock ring + crossing, the block a top instantiates.
"""
from .mac import MacRxSignature
from .parser import Parser, VERDICT
from .core import IngressRing

__all__ = ["MacRxSignature", "Parser", "VERDICT", "IngressRing"]
