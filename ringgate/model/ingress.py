"""Golden model of the network ingress: one frame in, one outcome out, exactly as the parser decides.

The parser (``hw/ingress``) and this model implement the same contract
(:mod:`ringgate.contracts.datagram`): the outcome of a frame is the first :class:`Drop` reason
that applies (in declaration order) or "accepted"; an accepted datagram becomes one ring entry
per message (``seq`` claimed in order, ``ts`` = low 32 bits of the MAC-clock cycle of the frame's
first beat); the counters change exactly as the BAR0 counters do (mod 2**32). It is the
scoreboard of the RTL benches: byte-exact entries, the outcome of every frame, exact counters.

Ring room cannot be modelled without the consumer's timing: :meth:`IngressModel.frame` takes
``room`` (entries free in the ring when the datagram was claimed; None = always room).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ringgate.contracts.datagram import (COMMANDS, COUNTER_NAMES, ETH_HEADER, ETHERTYPE_IPV4, ETHERTYPE_VLAN,
                                         HEADER, HEADER_BYTES, IP_PROTO_UDP, IPV4_HEADER, MAGIC, MAX_MESSAGES,
                                         MESSAGE_BYTES, MESSAGE_OFFSET, MIN_FRAME, SESSIONS, UDP_HEADER, VERSION,
                                         VLAN_TAG, Drop, Endpoint, ones_sum)
from ringgate.contracts.entry import ENTRY_BYTES, ENTRY_DTYPE

__all__ = ["IngressModel", "Outcome", "classify"]

M32 = 0xFFFF_FFFF


@dataclass
class Outcome:
    """What happened to one frame: ``drop`` (None = accepted), the entries it published, and the
    datagram's session bookkeeping (``gap``: sequence numbers skipped before it)."""
    drop: Drop | None
    entries: np.ndarray = field(default_factory=lambda: np.zeros(0, ENTRY_DTYPE))
    session: int = 0
    seq: int = 0
    gap: int = 0

    @property
    def code(self) -> int:
        return 0 if self.drop is None else int(self.drop)


def _u16(b: bytes, i: int) -> int:
    return b[i] << 8 | b[i + 1]


def classify(data: bytes, *, bad: bool = False, enabled: bool = True, local: Endpoint,
             sessions: int = SESSIONS, max_messages: int = MAX_MESSAGES) -> tuple[Drop | None, dict]:
    """The first drop reason of a frame (FCS stripped) up to and including COMMAND and SESSION
    (the per-session and ring checks need state: :class:`IngressModel`), and its header fields."""
    L = len(data)
    if bad:
        return Drop.MAC_ERROR, {}
    if not enabled:
        return Drop.DISABLED, {}
    if L < MIN_FRAME:
        return Drop.SHORT, {}
    if data[0:6] != local.mac:
        return Drop.DST_MAC, {}
    vlan = _u16(data, 12) == ETHERTYPE_VLAN
    o = ETH_HEADER + VLAN_TAG * vlan
    if _u16(data, o - 2) != ETHERTYPE_IPV4:
        return Drop.ETHERTYPE, {}
    ver, ihl = data[o] >> 4, data[o] & 15
    if ver != 4 or ihl < 5:
        return Drop.IP_HEADER, {}
    if ihl > 5:
        return Drop.IP_OPTIONS, {}
    if ones_sum(data[o:o + IPV4_HEADER]) != 0xFFFF:
        return Drop.IP_CHECKSUM, {}
    if _u16(data, o + 6) & 0x3FFF:
        return Drop.IP_FRAGMENT, {}
    if data[o + 9] != IP_PROTO_UDP:
        return Drop.PROTOCOL, {}
    if data[o + 16:o + 20] != local.ip:
        return Drop.DST_IP, {}
    u = o + IPV4_HEADER
    if _u16(data, u + 2) != local.port:
        return Drop.DST_PORT, {}
    total, udp_len = _u16(data, o + 2), _u16(data, u + 4)
    if L != o + total or total != IPV4_HEADER + udp_len:
        return Drop.LENGTH, {}
    if _u16(data, u + 6):
        pseudo = data[o + 12:o + 20] + bytes([0, IP_PROTO_UDP]) + udp_len.to_bytes(2, "big")
        if ones_sum(pseudo + data[u:L]) != 0xFFFF:
            return Drop.UDP_CHECKSUM, {}
    p = u + UDP_HEADER
    hdr = HEADER.decode(data[p:p + HEADER_BYTES])
    if hdr["magic"] != MAGIC or hdr["version"] != VERSION:
        return Drop.MAGIC, hdr
    n = hdr["count"]
    if not 1 <= n <= max_messages or udp_len != UDP_HEADER + HEADER_BYTES + MESSAGE_BYTES * n:
        return Drop.COUNT, hdr
    cmds = data[p + HEADER_BYTES::MESSAGE_BYTES][:n]
    if any(c not in COMMANDS for c in cmds):
        return Drop.COMMAND, hdr
    if hdr["session"] >= sessions:
        return Drop.SESSION, hdr
    hdr["payload"] = p + HEADER_BYTES
    return None, hdr


class IngressModel:
    """The ingress as a sequence of frames: configuration, per-session state, ring sequence, counters.

    Parameters
    ----------
    local : Endpoint
        MAC_ADDR, IP_ADDR and UDP_PORT.
    sessions, max_messages : int
        Build parameters of the parser.
    enabled : bool
        INGRESS_CONTROL.ENABLE (:meth:`enable` restarts every session).
    """

    def __init__(self, local: Endpoint, *, sessions: int = SESSIONS, max_messages: int = MAX_MESSAGES,
                 enabled: bool = True):
        self.local = local
        self.sessions = sessions
        self.max_messages = max_messages
        self.enabled = enabled
        self.last = [0] * sessions
        self.published = 0
        self.counters = {name: 0 for name in COUNTER_NAMES}

    def enable(self, on: bool = True) -> None:
        if on and not self.enabled:
            self.last = [0] * self.sessions
        self.enabled = on

    def _count(self, name: str, k: int = 1) -> None:
        self.counters[name] = (self.counters[name] + k) & M32

    def frame(self, data: bytes, *, bad: bool = False, start_cycle: int = 0, room: int | None = None) -> Outcome:
        """Process one frame; returns its outcome (entries stamped with ``seq`` and ``ts``)."""
        drop, hdr = classify(data, bad=bad, enabled=self.enabled, local=self.local, sessions=self.sessions,
                             max_messages=self.max_messages)
        out = Outcome(drop, session=hdr.get("session", 0), seq=hdr.get("seq", 0))
        if drop is None:
            d = (out.seq - self.last[out.session]) & M32
            n = hdr["count"]
            if d == 0 or d >= 1 << 31:
                out.drop = Drop.STALE
            elif room is not None and room < n:
                out.drop = Drop.RING_FULL
            else:
                p = hdr["payload"]
                raw = np.zeros((n, ENTRY_BYTES), np.uint8)
                raw[:, MESSAGE_OFFSET:] = np.frombuffer(data[p:p + MESSAGE_BYTES * n], np.uint8).reshape(n, -1)
                ent = raw.view(ENTRY_DTYPE).reshape(n)
                ent["seq"] = np.arange(self.published, self.published + n, dtype=np.uint64)
                ent["ts"] = start_cycle & M32
                out.entries = ent
                out.gap = d - 1
                self.published += n
                self.last[out.session] = out.seq
                self._count("ACCEPTED")
                self._count("ENTRIES", n)
                if out.gap:
                    self._count("GAPS")
                    self._count("GAP_DATAGRAMS", out.gap)
                    self.counters["LAST_GAP_SESSION"] = out.session
                    self.counters["LAST_GAP_FIRST"] = (out.seq - out.gap) & M32
                    self.counters["LAST_GAP_LAST"] = (out.seq - 1) & M32
        self._count("FRAMES")
        if out.drop is not None:
            self._count(f"DROP_{out.drop.name}")
        return out

    def identity_holds(self) -> bool:
        drops = sum(v for k, v in self.counters.items() if k.startswith("DROP_"))
        return self.counters["FRAMES"] == (self.counters["ACCEPTED"] + drops) & M32
