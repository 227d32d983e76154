"""Configuration into the MAC clock, status and counter snapshots out of it."""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import cdc, wiring
from amaranth.lib.wiring import In, Out

from .counters import COUNTERS
from .parser import CONFIG

__all__ = ["IngressCrossing"]


class IngressCrossing(wiring.Component):
    """The ingress's clock crossing for everything but entries (the ring carries those).

    - Configuration (user clock -> MAC clock): ENABLE through a two-flip-flop synchronizer; the
      addresses and port are sampled in the MAC clock only while the synchronized ENABLE is low,
      and the register block refuses to change them while enabled, so they are stable whenever
      they are used (timing constraint: ``set_max_delay -datapath_only`` of one MAC period on
      these paths, docs/ingress.md).
    - ENABLED (MAC -> user): two-flip-flop synchronizer.
    - Counters (MAC -> user): a snapshot. ``snapshot`` toggles a request; the MAC side copies every
      counter and its cycle counter in one cycle, then toggles an acknowledge; the user side then
      copies that frozen copy and its own cycle counter. The counters the host reads are from one
      MAC-clock instant, so FRAMES = ACCEPTED + sum(DROP_*) holds in what it reads. ``busy`` is
      high from ``snapshot`` until the copy is in place (about 3 MAC + 3 user cycles).

    Members
    -------
    enable : In(1)
        INGRESS_CONTROL.ENABLE (user clock).
    mac_addr, ip_addr, udp_port : In(48), In(32), In(16)
        Configuration (user clock).
    snapshot : In(1)
        Strobe: take a counter snapshot.
    timestamp : In(64)
        User-clock cycle counter.
    busy, enabled : Out(1)
        Snapshot in flight; the MAC side is enabled.
    counters : Out(COUNTERS)
        The last snapshot (user clock).
    snap_mac_ts, snap_ts : Out(64)
        MAC cycle counter at the snapshot's instant; user cycle counter when it arrived.
    config : Out(CONFIG)
        To the parser (MAC clock).
    mac_counters : In(COUNTERS)
        From the parser (MAC clock).
    mac_enabled : In(1)
        From the parser (MAC clock).
    mac_timestamp : In(64)
        MAC cycle counter (MAC clock).
    """

    def __init__(self, mac_domain: str = "mac"):
        self._mac = mac_domain
        super().__init__({
            "enable": In(1), "mac_addr": In(48), "ip_addr": In(32), "udp_port": In(16), "snapshot": In(1),
            "timestamp": In(64), "busy": Out(1), "enabled": Out(1), "counters": Out(COUNTERS),
            "snap_mac_ts": Out(64), "snap_ts": Out(64),
            "config": Out(CONFIG), "mac_counters": In(COUNTERS), "mac_enabled": In(1), "mac_timestamp": In(64),
        })

    def elaborate(self, platform):
        m = Module()
        md = self._mac
        en = Signal()
        m.submodules.enable = cdc.FFSynchronizer(self.enable, en, o_domain=md)
        m.d.comb += self.config.enable.eq(en)
        with m.If(~en):
            m.d[md] += [self.config.mac.eq(self.mac_addr), self.config.ip.eq(self.ip_addr),
                        self.config.port.eq(self.udp_port)]
        m.submodules.enabled = cdc.FFSynchronizer(self.mac_enabled, self.enabled)

        req, ack = Signal(), Signal()            # toggles: user -> MAC, MAC -> user
        req_m, ack_u = Signal(), Signal()
        m.submodules.req = cdc.FFSynchronizer(req, req_m, o_domain=md)
        m.submodules.ack = cdc.FFSynchronizer(ack, ack_u)
        frozen = Signal(COUNTERS)
        frozen_ts = Signal(64)
        with m.If(req_m != ack):
            m.d[md] += [frozen.eq(self.mac_counters), frozen_ts.eq(self.mac_timestamp), ack.eq(req_m)]
        seen = Signal()
        with m.If(self.snapshot & ~self.busy):
            m.d.sync += [req.eq(~req), self.busy.eq(1)]
        with m.Elif(self.busy & (ack_u != seen)):
            m.d.sync += [seen.eq(ack_u), self.busy.eq(0), self.counters.eq(frozen),
                         self.snap_mac_ts.eq(frozen_ts), self.snap_ts.eq(self.timestamp)]
        return m
