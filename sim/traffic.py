"""Order-flow traffic for the FPGA path: ring entries plus the cycle each one reaches the ring.

The command mix is exchange-core's benchmark mix (about 9% GTC, 3% IOC, 6% cancel, 82% move)
over a configurable number of users and symbols. The commands come from the exchange's own
benchmark workload (:func:`ringgate.sw.exchange.workload.generate`), which runs them through a generator
engine as it goes, so every cancel and move names an order that is resting at that moment and
the exchange core accepts them (``Command.from_ring`` of the entries replays them exactly).

Timing: an offered load in entries per cycle, or a line rate (10/25/100 GbE minimum-size
frames, one order per frame by default) at a clock, optionally in bursts: ``burst`` entries
back to back at ``burst_load`` entries per cycle, burst starts spaced so that the mean stays the
offered load, either evenly or as a Poisson process. The ring takes at most one entry per
cycle, so arrival cycles are strictly increasing.

Everything is deterministic for a given seed.

    t = make_traffic(100_000, users=1000, symbols=1, load=0.05, burst=32, seed=7)
    t.entries        # ENTRY_DTYPE, seq = 0 (the ring stamps it), ts = low 32 bits of t.cycles
    t.cycles         # uint64 ingress cycle of each entry
    t.setup          # exchange admin commands (assets, symbols, users, deposits) to apply first
    t.warmup         # the first `warmup` entries build the books (resting GTC orders)
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from ringgate.contracts.datagram import MIN_FRAME as MAC_MIN_FRAME
from ringgate.contracts.datagram import (COMMANDS, ETHERTYPE_IPV4, ETHERTYPE_VLAN, HEADER_BYTES, IP_PROTO_UDP,
                                         IPV4_HEADER, MESSAGE_BYTES, MESSAGE_OFFSET, UDP_HEADER, Endpoint,
                                         build_frame, encode_datagram, ipv4_checksum, udp_checksum)
from ringgate.contracts.entry import ENTRY_BYTES, ENTRY_DTYPE, Command, OrderType
from ringgate.contracts.pcie import USER_CLOCK_HZ

__all__ = ["Traffic", "make_traffic", "commands_to_entries", "schedule", "line_rate_load", "mix", "LOCAL", "REMOTE",
           "craft", "random_messages", "WireFrame", "DatagramSource", "beats",
           "LINE_RATES", "ETHERNET_OVERHEAD"]

LINE_RATES = {"10G": 10e9, "25G": 25e9, "40G": 40e9, "100G": 100e9}
ETHERNET_OVERHEAD = 20          # preamble + SFD (8) + inter-frame gap (12) bytes per frame
MIN_FRAME = 64                  # bytes, FCS included

_FIELDS = ("cmd", "side", "order_type", "symbol", "uid", "order_id", "price", "reserve_price", "size",
           "user_cookie")


def line_rate_load(rate: str | float, clock_hz: float = USER_CLOCK_HZ, *, frame_bytes: int = MIN_FRAME,
                   orders_per_frame: int = 1) -> float:
    """Entries per cycle of a line saturated with ``frame_bytes`` frames (10G, 64 B: 14.88 M/s)."""
    bps = LINE_RATES[rate] if isinstance(rate, str) else float(rate)
    if frame_bytes < MIN_FRAME:
        raise ValueError(f"Ethernet frames are at least {MIN_FRAME} bytes, not {frame_bytes}")
    frames_per_s = bps / ((frame_bytes + ETHERNET_OVERHEAD) * 8)
    return frames_per_s * orders_per_frame / clock_hz


def schedule(n: int, load: float, *, burst: int = 1, burst_load: float = 1.0, poisson: bool = False,
             start: int = 0, seed: int = 0) -> np.ndarray:
    """Ingress cycles (uint64, strictly increasing) of ``n`` entries at a mean of ``load`` per cycle."""
    if not 0 < load <= 1:
        raise ValueError(f"offered load must be in (0, 1] entries per cycle, not {load}")
    if burst < 1:
        raise ValueError(f"burst must be >= 1 entries, not {burst}")
    if not load <= burst_load <= 1:
        raise ValueError(f"burst load must be in [load, 1] entries per cycle, not {burst_load}")
    rng = np.random.default_rng(seed)
    nb = -(-n // burst)
    period = burst / load                       # mean cycles between burst starts
    if poisson:
        gaps = rng.exponential(period, nb)
        starts = np.cumsum(gaps) - gaps[0]
    else:
        starts = np.arange(nb) * period
    within = np.arange(burst) / burst_load
    t = (starts[:, None] + within[None, :]).ravel()[:n]
    c = np.floor(t).astype(np.int64) + start
    # One entry per cycle at most: c'[i] = max(c[i], c'[i-1] + 1).
    idx = np.arange(n, dtype=np.int64)
    c = np.maximum.accumulate(c - idx) + idx
    return c.astype(np.uint64)


def commands_to_entries(commands) -> np.ndarray:
    """Ring entries (``ENTRY_DTYPE``, seq 0) of exchange ``OrderCommand``s, field for field."""
    out = np.zeros(len(commands), dtype=ENTRY_DTYPE)
    for f in _FIELDS:
        out[f] = [getattr(c, f) for c in commands]
    return out


@dataclass
class Traffic:
    entries: np.ndarray
    cycles: np.ndarray
    setup: list
    warmup: int
    params: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def measured(self) -> np.ndarray:
        """The entries after the book-building warm-up (the benchmark mix)."""
        return self.entries[self.warmup:]


def make_traffic(n: int, *, users: int = 1000, symbols: int = 1, resting: int = 1000,
                 load: float | None = None, line_rate: str | float | None = None,
                 clock_hz: float = USER_CLOCK_HZ, frame_bytes: int = MIN_FRAME, orders_per_frame: int = 1,
                 burst: int = 1, burst_load: float = 1.0, poisson: bool = False,
                 warmup: bool = True, seed: int = 1) -> Traffic:
    """``n`` commands of exchange-core's mix (plus ``resting`` book-building orders per symbol
    first when ``warmup``), timed at ``load`` entries per cycle or ``line_rate`` (default 10G)."""
    from ringgate.sw.exchange.workload import generate
    from ringgate.sw.exchange.commands import OrderCommand

    if n < 0 or users < 1 or symbols < 1:
        raise ValueError("need n >= 0, users >= 1 and symbols >= 1")
    if load is not None and line_rate is not None:
        raise ValueError("give an offered load or a line rate, not both")
    if load is None:
        load = line_rate_load(line_rate or "10G", clock_hz, frame_bytes=frame_bytes,
                              orders_per_frame=orders_per_frame)
        load = min(load, 1.0)
    setup_and_fill, cmds, _ = generate(n, symbols=symbols, users=users, resting=resting, seed=seed)
    setup = [c for c in setup_and_fill if not isinstance(c, OrderCommand)]
    fill = [c for c in setup_and_fill if isinstance(c, OrderCommand)] if warmup else []
    if not warmup:
        # The books must still exist for the mix to make sense: the fill goes to the setup.
        setup = list(setup_and_fill)
    entries = commands_to_entries(fill + cmds)
    cycles = schedule(len(entries), load, burst=burst, burst_load=max(burst_load, load),
                      poisson=poisson, seed=seed)
    entries["ts"] = cycles & np.uint64(0xFFFF_FFFF)
    params = dict(n=n, users=users, symbols=symbols, resting=resting, load=load, clock_hz=clock_hz,
                  burst=burst, burst_load=burst_load, poisson=poisson, seed=seed)
    return Traffic(entries, cycles, setup, len(fill), params)


def mix(entries: np.ndarray) -> dict[str, float]:
    """Fractions of GTC, IOC, other places, cancel, move and reduce commands."""
    n = max(1, len(entries))
    cmd, ot = entries["cmd"], entries["order_type"]
    place = cmd == Command.PLACE
    return {
        "gtc": float(np.count_nonzero(place & (ot == OrderType.GTC))) / n,
        "ioc": float(np.count_nonzero(place & (ot == OrderType.IOC))) / n,
        "other_place": float(np.count_nonzero(place & (ot != OrderType.GTC) & (ot != OrderType.IOC))) / n,
        "cancel": float(np.count_nonzero(cmd == Command.CANCEL)) / n,
        "move": float(np.count_nonzero(cmd == Command.MOVE)) / n,
        "reduce": float(np.count_nonzero(cmd == Command.REDUCE)) / n,
    }


# -- order datagrams on the wire -----------------------------------------------------------------

LOCAL = Endpoint.of("02:52:47:00:00:01", "10.0.0.2", 9000)      # the FPGA's MAC_ADDR, IP_ADDR, UDP_PORT
REMOTE = Endpoint.of("02:52:47:00:00:02", "10.0.0.1", 40000)    # the sender


def craft(payload: bytes, src: Endpoint = REMOTE, dst: Endpoint = LOCAL, *, vlan: int | None = None,
          udp_checksum_on: bool = False, ethertype: int = ETHERTYPE_IPV4, inner_tag: bool = False,
          version: int = 4, ihl: int = 5, frag: int = 0x4000, proto: int = IP_PROTO_UDP, ip_csum_xor: int = 0,
          total_delta: int = 0, udp_len_delta: int = 0, udp_csum_xor: int = 0, dst_port: int | None = None,
          dst_ip: bytes | None = None, dst_mac: bytes | None = None, trim: int = 0, trail: bytes = b"") -> bytes:
    """An Ethernet/IPv4/UDP frame (FCS excluded) with any header field set wrong on purpose; with no
    keyword changed it is :func:`~ringgate.contracts.datagram.build_frame`'s frame."""
    opts = b"\x01" * (4 * (ihl - 5)) if ihl > 5 else b""
    udp_len = UDP_HEADER + len(payload) + udp_len_delta
    port = dst.port if dst_port is None else dst_port
    udp = struct.pack(">HHHH", src.port, port, udp_len & 0xFFFF, 0) + payload
    dip = dst.ip if dst_ip is None else dst_ip
    if udp_checksum_on:
        c = udp_checksum(src.ip, dip, udp) ^ udp_csum_xor
        udp = udp[:6] + struct.pack(">H", c) + udp[8:]
    total = IPV4_HEADER + len(opts) + UDP_HEADER + len(payload) + total_delta
    ip = struct.pack(">BBHHHBBH4s4s", version << 4 | ihl, 0, total & 0xFFFF, 0x1234, frag, 64, proto, 0,
                     src.ip, dip) + opts
    ip = ip[:10] + struct.pack(">H", ipv4_checksum(ip) ^ ip_csum_xor) + ip[12:]
    eth = (dst.mac if dst_mac is None else dst_mac) + src.mac
    if vlan is not None:
        eth += struct.pack(">HH", ETHERTYPE_VLAN, vlan & 0x0FFF)
        if inner_tag:
            eth += struct.pack(">HH", ETHERTYPE_VLAN, 7)
    frame = eth + struct.pack(">H", ethertype) + ip + udp
    if len(frame) < MAC_MIN_FRAME:
        frame += b"\0" * (MAC_MIN_FRAME - len(frame))
    if trim:
        frame = frame[:-trim]
    return frame + trail


def random_messages(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random order messages as entries (ENTRY_DTYPE, ``seq``/``ts`` 0) with valid commands."""
    raw = rng.integers(0, 256, size=(n, ENTRY_BYTES), dtype=np.uint8)
    raw[:, :MESSAGE_OFFSET] = 0
    ent = raw.view(ENTRY_DTYPE).reshape(n)
    ent["cmd"] = rng.choice(COMMANDS, n)
    return ent


@dataclass
class WireFrame:
    """One frame for the MAC-side stream: bytes (FCS excluded), the MAC's bad-frame flag, and what it is."""
    data: bytes
    bad: bool = False
    kind: str = "good"
    entries: np.ndarray | None = None


class DatagramSource:
    """Order datagrams of several sessions, good ones and each malformed class on demand.

    ``good(n)`` makes the next datagram of a random session (sequence numbers 1, 2, ...);
    ``malformed(kind)`` makes one frame of a class named after a :class:`Drop` reason (or
    "gap": a good datagram after skipping sequence numbers); ``mix(count, p_bad)`` mixes them
    at random. Deterministic for a seed."""

    KINDS = ("MAC_ERROR", "SHORT", "DST_MAC", "ETHERTYPE", "IP_HEADER", "IP_OPTIONS", "IP_CHECKSUM",
             "IP_FRAGMENT", "PROTOCOL", "DST_IP", "DST_PORT", "LENGTH", "UDP_CHECKSUM", "MAGIC", "COUNT",
             "COMMAND", "SESSION", "STALE", "gap")

    def __init__(self, seed: int = 1, *, sessions: int = 4, max_messages: int = 4, vlan_p: float = 0.3,
                 csum_p: float = 0.3, local: Endpoint = LOCAL, remote: Endpoint = REMOTE):
        self.rng = np.random.default_rng(seed)
        self.sessions, self.max_messages = sessions, max_messages
        self.vlan_p, self.csum_p = vlan_p, csum_p
        self.local, self.remote = local, remote
        self.seq = [0] * sessions

    def _opts(self) -> dict:
        r = self.rng
        return {"vlan": int(r.integers(0, 4096)) if r.random() < self.vlan_p else None,
                "udp_checksum_on": bool(r.random() < self.csum_p)}

    def _payload(self, n: int | None = None, *, skip: int = 0, session: int | None = None):
        r = self.rng
        n = int(r.integers(1, self.max_messages + 1)) if n is None else n
        s = int(r.integers(0, self.sessions)) if session is None else session
        self.seq[s] = (self.seq[s] + 1 + skip) & 0xFFFF_FFFF
        ent = random_messages(r, n)
        return encode_datagram(s, self.seq[s], ent), ent, s

    def good(self, n: int | None = None, **kw) -> WireFrame:
        p, ent, _ = self._payload(n)
        return WireFrame(craft(p, self.remote, self.local, **{**self._opts(), **kw}), entries=ent)

    def malformed(self, kind: str) -> WireFrame:
        r, o = self.rng, self._opts()
        if kind == "gap":
            p, ent, _ = self._payload(skip=int(r.integers(1, 5)))
            return WireFrame(craft(p, self.remote, self.local, **o), kind="gap", entries=ent)
        if kind == "SHORT":
            return WireFrame(bytes(r.integers(0, 256, int(r.integers(1, MAC_MIN_FRAME)), dtype=np.uint8)), kind=kind)
        n = int(r.integers(1, self.max_messages + 1))
        s = int(r.integers(0, self.sessions))
        seq = (self.seq[s] + 1) & 0xFFFF_FFFF       # would be next; not consumed by a bad frame
        ent = random_messages(r, n)
        p = encode_datagram(s, seq, ent)
        bad = False
        if kind == "MAC_ERROR":
            bad = True
        elif kind == "DST_MAC":
            o["dst_mac"] = b"\x02\x52\x47\x00\x00\x09"
        elif kind == "ETHERTYPE":
            o.update(ethertype=0x0806) if r.random() < 0.5 else o.update(vlan=5, inner_tag=True)
        elif kind == "IP_HEADER":
            o.update(version=6) if r.random() < 0.5 else o.update(ihl=4)
        elif kind == "IP_OPTIONS":
            o["ihl"] = int(r.integers(6, 16))
        elif kind == "IP_CHECKSUM":
            o["ip_csum_xor"] = int(r.integers(1, 1 << 16))
        elif kind == "IP_FRAGMENT":
            o["frag"] = 0x2000 if r.random() < 0.5 else int(r.integers(1, 1 << 13))
        elif kind == "PROTOCOL":
            o["proto"] = 6
        elif kind == "DST_IP":
            o["dst_ip"] = b"\x0a\x00\x00\x63"
        elif kind == "DST_PORT":
            o["dst_port"] = self.local.port ^ int(r.integers(1, 1 << 16))
        elif kind == "LENGTH":
            how = int(r.integers(0, 4))
            if how == 0:
                o["trim"] = int(r.integers(1, 40))
            elif how == 1:
                o["trail"] = bytes(int(r.integers(1, 12)))
            elif how == 2:
                o["total_delta"] = int(r.choice([-2, 2, 52]))
            else:
                o["udp_len_delta"] = int(r.choice([-2, 2]))
        elif kind == "UDP_CHECKSUM":
            o.update(udp_checksum_on=True, udp_csum_xor=int(r.integers(1, 1 << 16)))
        elif kind == "MAGIC":
            p = encode_datagram(s, seq, ent, magic=0x4753) if r.random() < 0.5 else \
                encode_datagram(s, seq, ent, version=2)
        elif kind == "COUNT":
            c = int(r.choice([0, n + 1, n - 1 if n > 1 else 2, self.max_messages + 1]))
            p = encode_datagram(s, seq, ent, count=c)
        elif kind == "COMMAND":
            raw = bytearray(p)
            k = int(r.integers(0, n))
            raw[HEADER_BYTES + MESSAGE_BYTES * k] = int(r.choice([0, 5, 9, 255]))
            p = bytes(raw)
        elif kind == "SESSION":
            p = encode_datagram(int(r.integers(16, 1 << 32)), seq, ent)
        elif kind == "STALE":
            p = encode_datagram(s, (self.seq[s] - int(r.integers(0, 3))) & 0xFFFF_FFFF, ent)
        else:
            raise ValueError(f"no malformed class {kind!r}: {', '.join(self.KINDS)}")
        return WireFrame(craft(p, self.remote, self.local, **o), bad=bad, kind=kind)

    def mix(self, count: int, p_bad: float = 0.3, kinds=None) -> list[WireFrame]:
        kinds = list(kinds or self.KINDS)
        return [self.malformed(str(self.rng.choice(kinds))) if self.rng.random() < p_bad else self.good()
                for _ in range(count)]


def beats(data: bytes) -> list[tuple[int, int, bool]]:
    """(tdata, tkeep, tlast) beats of a frame on a 64-bit MAC stream."""
    out = []
    for i in range(0, len(data), 8):
        chunk = data[i:i + 8]
        out.append((int.from_bytes(chunk.ljust(8, b"\0"), "little"), (1 << len(chunk)) - 1, i + 8 >= len(data)))
    return out


def order_frames(entries: np.ndarray, *, session: int = 0) -> list[bytes]:
    """One single-order datagram per entry (sequence numbers 1, 2, 3 ... in ``session``), as frames
    from :data:`REMOTE` to :data:`LOCAL` without UDP checksum: the main job's orders on the wire."""
    return [build_frame(encode_datagram(session, i + 1, entries[i:i + 1]), REMOTE, LOCAL)
            for i in range(len(entries))]


def wire_schedule(cycles: np.ndarray, frame_lens, *, mac_ps: int, user_ps: int = 4000) -> np.ndarray:
    """MAC cycle of each frame's first beat, relative to the first frame: the offered user-clock
    ``cycles`` moved to the MAC clock, each frame no sooner than the wire allows after the one
    before (its beats, FCS, preamble and inter-frame gap at 8 bytes per MAC cycle)."""
    want = np.rint((np.asarray(cycles, np.int64) - int(cycles[0])) * (user_ps / mac_ps)).astype(np.int64)
    span = [-(-(n + 4 + ETHERNET_OVERHEAD) // 8) for n in frame_lens]
    out = np.zeros(len(want), np.int64)
    for i in range(1, len(want)):
        out[i] = max(want[i], out[i - 1] + span[i - 1])
    return out
