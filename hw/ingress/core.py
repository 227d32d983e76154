"""The ingress as a top instantiates it: parser (MAC clock) -> dual-clock BRAM ring -> consumer (user clock)."""
from __future__ import annotations

from amaranth.hdl import DomainRenamer, Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ringgate.contracts.datagram import MAX_MESSAGES, SESSIONS
from ringgate.contracts.entry import ENTRY

from ..ringbuf import RingBuffer
from .counters import COUNTERS
from .crossing import IngressCrossing
from .mac import MacRxSignature
from .parser import LANES, VERDICT, Parser

__all__ = ["IngressRing"]


class IngressRing(wiring.Component):
    """MAC receive stream in, published ring entries out: :class:`Parser` in the ``mac`` clock
    domain writes a :class:`~ringgate.hw.ringbuf.RingBuffer` whose consumer side is ``sync`` (the
    PCIe user clock); :class:`IngressCrossing` carries configuration and counter snapshots.

    Parameters
    ----------
    depth : int
        Ring slots.
    sessions, max_messages : int
        Parser build parameters.

    Members
    -------
    mac : In(MacRxSignature())
        The MAC's receive stream (``mac`` domain).
    o : Out(stream.Signature(ENTRY.layout()))
        Published entries in sequence order (``sync``).
    cursor, consumed : Out(64)
        Ring sequences (``sync``).
    fill : Out(range(depth + 1))
        Entries held.
    enable, mac_addr, ip_addr, udp_port, snapshot, timestamp, busy, enabled, counters, snap_mac_ts, snap_ts
        The register side of :class:`IngressCrossing` (``sync``).
    verdict, verdict_valid : Out(VERDICT), Out(1)
        One per frame (``mac`` domain; for monitors and latency stamps).
    publish : Out(1)
        The ring publishes this cycle (``mac`` domain).
    mac_timestamp : Out(64)
        MAC-clock cycle counter.
    """

    def __init__(self, depth: int = 256, *, sessions: int = SESSIONS, max_messages: int = MAX_MESSAGES):
        if max_messages > depth:
            raise ValueError(f"a datagram of {max_messages} messages cannot fit a ring of {depth}")
        self._depth, self._sessions, self._max = depth, sessions, max_messages
        super().__init__({
            "mac": In(MacRxSignature()),
            "o": Out(stream.Signature(ENTRY.layout())),
            "cursor": Out(64), "consumed": Out(64), "fill": Out(range(depth + 1)),
            "enable": In(1), "mac_addr": In(48), "ip_addr": In(32), "udp_port": In(16), "snapshot": In(1),
            "timestamp": In(64), "busy": Out(1), "enabled": Out(1), "counters": Out(COUNTERS),
            "snap_mac_ts": Out(64), "snap_ts": Out(64),
            "verdict": Out(VERDICT), "verdict_valid": Out(1),
            "publish": Out(1),
            "mac_timestamp": Out(64),
        })

    @property
    def depth(self) -> int:
        return self._depth

    def elaborate(self, platform):
        m = Module()
        m.submodules.parser = parser = DomainRenamer("mac")(Parser(sessions=self._sessions,
                                                                     max_messages=self._max))
        m.submodules.ring = ring = RingBuffer(self._depth, ENTRY.layout(), producer="claim", write_domain="mac",
                                              max_claim=self._max, lanes=LANES)
        m.submodules.crossing = x = IngressCrossing("mac")
        wiring.connect(m, wiring.flipped(self.mac), parser.mac)
        wiring.connect(m, parser.ring, ring.claim)
        wiring.connect(m, ring.o, wiring.flipped(self.o))
        m.d.comb += [
            self.cursor.eq(ring.cursor), self.consumed.eq(ring.consumed), self.fill.eq(ring.fill),
            parser.config.eq(x.config), x.mac_counters.eq(parser.counters), x.mac_enabled.eq(parser.enabled),
            x.mac_timestamp.eq(parser.timestamp),
            x.enable.eq(self.enable), x.mac_addr.eq(self.mac_addr), x.ip_addr.eq(self.ip_addr),
            x.udp_port.eq(self.udp_port), x.snapshot.eq(self.snapshot), x.timestamp.eq(self.timestamp),
            self.busy.eq(x.busy), self.enabled.eq(x.enabled), self.counters.eq(x.counters),
            self.snap_mac_ts.eq(x.snap_mac_ts), self.snap_ts.eq(x.snap_ts),
            self.verdict_valid.eq(parser.verdict_valid), self.verdict.eq(parser.verdict),
            self.publish.eq(parser.ring.publish), self.mac_timestamp.eq(parser.timestamp),
        ]
        return m
