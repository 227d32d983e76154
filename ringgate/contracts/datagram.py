"""The order datagram: how orders travel on the wire to the FPGA, defined once.

An order datagram is the payload of one UDP datagram (Ethernet II, at most one 802.1Q tag,
IPv4 without options): a 12-byte :data:`HEADER` followed by ``count`` order messages of
:data:`MESSAGE_BYTES` bytes. A message is the ring entry without the two fields the FPGA
stamps (``seq`` and ``ts``): message byte ``j`` is entry byte ``MESSAGE_OFFSET + j``, so the
parser copies a message into its ring entry without rearranging a field, and every entry field
has one definition (:data:`ringgate.contracts.entry.ENTRY`). Everything is little-endian, as the
ring entry is (the IPv4/UDP headers stay in network byte order).

A single-order datagram is 12 + 52 = 64 bytes of UDP payload: a 106-byte frame as the MAC
delivers it (FCS stripped), 110 bytes with the FCS.

Sessions and sequence numbers: a sender owns a session id (``0 <= session < SESSIONS``) and
numbers its datagrams 1, 2, 3 ... (u32, serial-number arithmetic: ``seq - last`` mod 2**32 in
``[1, 2**31)`` is newer). The FPGA keeps the last accepted ``seq`` per session (0 after enable):
a duplicate or older datagram is dropped (``Drop.STALE``); a newer one that skips numbers is
accepted and the gap is counted and reported (``GAPS``, ``GAP_DATAGRAMS``, ``LAST_GAP_*``), so the
sender learns which datagrams never made it.

A datagram is all or nothing. It is dropped whole, and counted under exactly one reason, the
first of :class:`Drop` (in declaration order) that applies; otherwise every message becomes one
ring entry, in order, with the frame's start cycle in ``ts``. ``FRAMES = ACCEPTED + sum(DROP_*)``.

From this module come the parser's constants and checks (``hw/ingress``), the host encoder
(:func:`encode_datagram`, :func:`build_frame`), the traffic generator's frames
(``sim/traffic.py``), the golden model (``ringgate.model.ingress``), the ingress's BAR0 register
group (:data:`INGRESS_REGS`) and the tables in ``docs/ingress.md`` (:func:`markdown`).
"""
from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

import numpy as np

from .entry import ENTRY, ENTRY_BYTES, ENTRY_DTYPE, Command
from .record import Field, Record
from .registers import Access, BitField, Reg, RegGroup, RegisterMap, one_bit_fields

__all__ = ["MAGIC", "VERSION", "HEADER", "HEADER_BYTES", "MESSAGE_OFFSET", "MESSAGE_BYTES", "MESSAGE_FIELDS",
           "MESSAGE_DTYPE", "MAX_MESSAGES", "SESSIONS", "COMMANDS", "Drop", "datagram_bytes", "messages_in",
           "encode_datagram", "decode_datagram", "DatagramError", "Endpoint", "build_frame", "frame_bytes",
           "ipv4_checksum", "udp_checksum", "ones_sum", "ETH_HEADER", "VLAN_TAG", "IPV4_HEADER", "UDP_HEADER",
           "ETHERTYPE_IPV4", "ETHERTYPE_VLAN", "IP_PROTO_UDP", "MIN_FRAME", "OUTCOMES", "IngressControl", "IngressStatus",
           "INGRESS_BASE", "INGRESS_REGS", "INGRESS", "COUNTER_NAMES", "markdown"]

MAGIC = 0x4752                  # bytes "RG" on the wire (u16, little-endian)
VERSION = 1

HEADER = Record("datagram_header", 12, (
    Field("magic", 16, doc=f"`{MAGIC:#06x}` (bytes 'R' 'G')"),
    Field("version", 8, doc=f"datagram format version, {VERSION}"),
    Field("count", 8, doc="order messages that follow (1..MAX_MESSAGES)"),
    Field("session", 32, doc="sender's session id (0..SESSIONS-1)"),
    Field("seq", 32, doc="datagram sequence number in the session: 1, 2, 3 ... (serial arithmetic mod 2**32)"),
), doc="The datagram header, at the start of the UDP payload.")
HEADER_BYTES = HEADER.size

# A message is the ring entry from ``cmd`` on: the FPGA stamps ``seq`` and ``ts``.
MESSAGE_OFFSET = ENTRY.offsets["cmd"]
MESSAGE_BYTES = ENTRY_BYTES - MESSAGE_OFFSET
MESSAGE_FIELDS: tuple[Field, ...] = tuple(f for f in ENTRY.fields if ENTRY.offsets[f.name] >= MESSAGE_OFFSET)
# numpy view of packed messages (fields are not naturally aligned inside a 52-byte message)
MESSAGE_DTYPE = np.dtype({"names": [f.name for f in MESSAGE_FIELDS],
                          "formats": [f.np_format for f in MESSAGE_FIELDS],
                          "offsets": [ENTRY.offsets[f.name] - MESSAGE_OFFSET for f in MESSAGE_FIELDS],
                          "itemsize": MESSAGE_BYTES})

# Wire framing (bytes, FCS excluded: the MAC strips it and flags a bad one).
ETH_HEADER, VLAN_TAG, IPV4_HEADER, UDP_HEADER = 14, 4, 20, 8
ETHERTYPE_IPV4, ETHERTYPE_VLAN, IP_PROTO_UDP = 0x0800, 0x8100, 17
MIN_FRAME = 60                  # Ethernet minimum without FCS: shorter frames are runts (Drop.SHORT)
IP_MTU = 1500
MAX_MESSAGES = (IP_MTU - IPV4_HEADER - UDP_HEADER - HEADER_BYTES) // MESSAGE_BYTES     # 28
SESSIONS = 16                   # session ids the parser tracks (hw parameter; this is the default build)
COMMANDS = tuple(int(c) for c in Command)


class Drop(enum.IntEnum):
    """Why a frame was dropped; each has its BAR0 counter ``DROP_<name>``. A frame counts under the
    first reason that applies, in this order (0 is the outcome "accepted")."""
    MAC_ERROR = 1       # the MAC flagged the frame (bad FCS, PHY error): tuser on the last beat
    DISABLED = 2        # the ingress was disabled when the frame began
    SHORT = 3           # shorter than 60 bytes (runt): too short to hold the headers
    DST_MAC = 4         # destination MAC is not MAC_ADDR
    ETHERTYPE = 5       # not IPv4 (after at most one 802.1Q tag)
    IP_HEADER = 6       # IPv4 version is not 4, or header length below 5 words
    IP_OPTIONS = 7      # IPv4 header with options (IHL > 5)
    IP_CHECKSUM = 8     # IPv4 header checksum wrong
    IP_FRAGMENT = 9     # a fragment (MF set or fragment offset non-zero)
    PROTOCOL = 10       # not UDP
    DST_IP = 11         # destination address is not IP_ADDR
    DST_PORT = 12       # UDP destination port is not UDP_PORT
    LENGTH = 13         # frame, IPv4 total length and UDP length disagree (truncated, padded, trailing bytes)
    UDP_CHECKSUM = 14   # UDP checksum non-zero and wrong
    MAGIC = 15          # datagram magic or version wrong
    COUNT = 16          # message count 0, above MAX_MESSAGES, or not what the UDP length holds
    COMMAND = 17        # a message's command is not one of Command
    SESSION = 18        # session id >= SESSIONS
    STALE = 19          # sequence number not newer than the session's last accepted one (duplicate, old)
    RING_FULL = 20      # the BRAM ring has no room for the whole datagram


OUTCOMES = 1 + len(Drop)        # outcome codes 0 (accepted) .. len(Drop)


def datagram_bytes(count: int) -> int:
    """UDP payload bytes of a datagram of ``count`` messages."""
    return HEADER_BYTES + MESSAGE_BYTES * count


def messages_in(payload_bytes: int) -> int | None:
    """The message count a UDP payload of this size holds, or None if it holds no whole number."""
    n, rest = divmod(payload_bytes - HEADER_BYTES, MESSAGE_BYTES)
    return n if payload_bytes >= HEADER_BYTES and not rest else None


class DatagramError(ValueError):
    """A datagram that does not follow the contract (the message says which field)."""


def _message_rows(messages) -> np.ndarray:
    """Messages as MESSAGE_DTYPE from ENTRY_DTYPE rows, MESSAGE_DTYPE rows or dicts of entry fields."""
    if isinstance(messages, np.ndarray) and messages.dtype == MESSAGE_DTYPE:
        return messages
    if isinstance(messages, np.ndarray) and messages.dtype == ENTRY_DTYPE:
        raw = np.ascontiguousarray(messages).view(np.uint8).reshape(-1, ENTRY_BYTES)[:, MESSAGE_OFFSET:]
        return np.ascontiguousarray(raw).view(MESSAGE_DTYPE).reshape(-1)
    rows = list(messages)
    for r in rows:
        extra = set(r) - {f.name for f in MESSAGE_FIELDS}
        if extra:
            raise DatagramError(f"order message: unknown field(s) {sorted(extra)} (seq and ts are stamped by the FPGA)")
    return _message_rows(ENTRY.array(rows))


def encode_datagram(session: int, seq: int, messages, *, magic: int = MAGIC, version: int = VERSION,
                    count: int | None = None) -> bytes:
    """The UDP payload carrying ``messages`` (ENTRY_DTYPE rows, MESSAGE_DTYPE rows or dicts of
    entry fields; ``seq``/``ts`` of entries are not sent). ``magic``, ``version`` and ``count``
    can be overridden to make malformed datagrams for tests."""
    rows = _message_rows(messages)
    n = len(rows)
    if count is None:
        if not 1 <= n <= MAX_MESSAGES:
            raise DatagramError(f"datagram_header.count: {n} messages, must be 1..{MAX_MESSAGES}")
        bad = ~np.isin(rows["cmd"], COMMANDS)
        if bad.any():
            raise DatagramError(f"order message {int(np.argmax(bad))}: cmd {int(rows['cmd'][bad][0])} is not one of "
                                f"{', '.join(f'{c.name}={c.value}' for c in Command)}")
        count = n
    if not 0 <= session < 1 << 32:
        raise DatagramError(f"datagram_header.session: {session} is not a u32")
    hdr = HEADER.encode({"magic": magic, "version": version, "count": count, "session": session,
                         "seq": seq & 0xFFFF_FFFF})
    return hdr + rows.tobytes()


def decode_datagram(payload: bytes) -> tuple[dict, np.ndarray]:
    """(header fields, MESSAGE_DTYPE messages) of a UDP payload; raises DatagramError naming the field."""
    if len(payload) < HEADER_BYTES:
        raise DatagramError(f"datagram of {len(payload)} bytes is shorter than its {HEADER_BYTES}-byte header")
    hdr = HEADER.decode(payload[:HEADER_BYTES])
    if hdr["magic"] != MAGIC:
        raise DatagramError(f"datagram_header.magic: {hdr['magic']:#06x}, expected {MAGIC:#06x}")
    if hdr["version"] != VERSION:
        raise DatagramError(f"datagram_header.version: {hdr['version']}, expected {VERSION}")
    n = messages_in(len(payload))
    if n is None or n != hdr["count"] or not 1 <= n <= MAX_MESSAGES:
        raise DatagramError(f"datagram_header.count: {hdr['count']} messages in a {len(payload)}-byte datagram")
    msgs = np.frombuffer(payload[HEADER_BYTES:], MESSAGE_DTYPE).copy()
    return hdr, msgs


# -- Ethernet / IPv4 / UDP framing -------------------------------------------------------------

def ones_sum(data: bytes) -> int:
    """16-bit ones' complement sum of big-endian words (an odd last byte is padded with zero)."""
    if len(data) % 2:
        data += b"\0"
    s = int(np.frombuffer(data, ">u2").sum(dtype=np.uint64))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ipv4_checksum(header: bytes) -> int:
    return ~ones_sum(header) & 0xFFFF


def udp_checksum(src_ip: bytes, dst_ip: bytes, udp: bytes) -> int:
    """RFC 768 checksum of ``udp`` (header with checksum 0, and payload); 0 is sent as 0xFFFF."""
    pseudo = src_ip + dst_ip + struct.pack(">BBH", 0, IP_PROTO_UDP, len(udp))
    c = ~ones_sum(pseudo + udp) & 0xFFFF
    return c or 0xFFFF


def _mac(value) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        b = bytes(value)
    elif isinstance(value, int):
        b = value.to_bytes(6, "big")
    else:
        b = bytes(int(x, 16) for x in str(value).replace("-", ":").split(":"))
    if len(b) != 6:
        raise ValueError(f"MAC address {value!r} is not 6 bytes")
    return b


def _ip(value) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        b = bytes(value)
    elif isinstance(value, int):
        b = value.to_bytes(4, "big")
    else:
        b = bytes(int(x) for x in str(value).split("."))
    if len(b) != 4:
        raise ValueError(f"IPv4 address {value!r} is not 4 bytes")
    return b


@dataclass(frozen=True)
class Endpoint:
    """Addresses of one side of the order flow (MAC, IPv4, UDP port)."""
    mac: bytes
    ip: bytes
    port: int

    @classmethod
    def of(cls, mac, ip, port: int) -> "Endpoint":
        if not 0 <= port < 1 << 16:
            raise ValueError(f"UDP port {port} is not 0..65535")
        return cls(_mac(mac), _ip(ip), int(port))

    @classmethod
    def parse(cls, text: str) -> "Endpoint":
        """From ``MAC/IPv4/PORT`` (``02:52:47:00:00:01/10.0.0.2/9000``), as :meth:`__str__` writes it."""
        parts = text.split("/")
        if len(parts) != 3:
            raise ValueError(f"{text!r} is not MAC/IP/PORT")
        mac, ip, port = parts
        try:
            port_n = int(port)
        except ValueError:
            raise ValueError(f"UDP port {port!r} is not a number") from None
        return cls.of(mac, ip, port_n)

    def __str__(self) -> str:
        return f"{self.mac.hex(':')}/{'.'.join(str(b) for b in self.ip)}/{self.port}"

    @property
    def mac_int(self) -> int:
        return int.from_bytes(self.mac, "big")

    @property
    def ip_int(self) -> int:
        return int.from_bytes(self.ip, "big")


def frame_bytes(count: int, *, vlan: bool = False) -> int:
    """Bytes of the frame of a ``count``-message datagram as the MAC delivers it (no FCS)."""
    return ETH_HEADER + VLAN_TAG * vlan + IPV4_HEADER + UDP_HEADER + datagram_bytes(count)


def build_frame(payload: bytes, src: Endpoint, dst: Endpoint, *, vlan: int | None = None,
                udp_checksum_on: bool = False, ip_id: int = 0, ttl: int = 64, tos: int = 0) -> bytes:
    """Ethernet II (+ 802.1Q tag with VLAN id ``vlan``) / IPv4 / UDP frame of ``payload``, FCS excluded.

    The UDP checksum is 0 (not computed, allowed for IPv4 by RFC 768) unless ``udp_checksum_on``:
    the parser publishes 3 MAC cycles sooner without it (docs/ingress.md)."""
    udp_len = UDP_HEADER + len(payload)
    udp = struct.pack(">HHHH", src.port, dst.port, udp_len, 0) + payload
    if udp_checksum_on:
        udp = udp[:6] + struct.pack(">H", udp_checksum(src.ip, dst.ip, udp)) + udp[8:]
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, tos, IPV4_HEADER + udp_len, ip_id & 0xFFFF, 0x4000, ttl,
                     IP_PROTO_UDP, 0, src.ip, dst.ip)
    ip = ip[:10] + struct.pack(">H", ipv4_checksum(ip)) + ip[12:]
    eth = dst.mac + src.mac
    if vlan is not None:
        eth += struct.pack(">HH", ETHERTYPE_VLAN, vlan & 0x0FFF)
    eth += struct.pack(">H", ETHERTYPE_IPV4)
    frame = eth + ip + udp
    if len(frame) < MIN_FRAME:
        frame += b"\0" * (MIN_FRAME - len(frame))
    return frame


# -- BAR0 register group -----------------------------------------------------------------------

INGRESS_BASE = 0x200
COUNTER_NAMES: tuple[str, ...] = ("FRAMES", "ACCEPTED", "ENTRIES") + tuple(f"DROP_{d.name}" for d in Drop) + \
    ("GAPS", "GAP_DATAGRAMS", "LAST_GAP_SESSION", "LAST_GAP_FIRST", "LAST_GAP_LAST")
_COUNTER_DOC = {
    "FRAMES": "Frames the MAC delivered (every frame counts once: FRAMES = ACCEPTED + sum of DROP_*).",
    "ACCEPTED": "Datagrams published into the ring.",
    "ENTRIES": "Entries published into the ring (messages of accepted datagrams).",
    "GAPS": "Accepted datagrams whose sequence number skipped numbers in their session.",
    "GAP_DATAGRAMS": "Sequence numbers skipped, summed over all gaps (datagrams the sender sent and we never got).",
    "LAST_GAP_SESSION": "Session of the last gap.",
    "LAST_GAP_FIRST": "First sequence number missing in the last gap.",
    "LAST_GAP_LAST": "Last sequence number missing in the last gap.",
}


def _counter_doc(name: str) -> str:
    if name.startswith("DROP_"):
        d = Drop[name[5:]]
        return f"Frames dropped: {_DROP_DOC[d]}."
    return _COUNTER_DOC[name]


_DROP_DOC = {
    Drop.MAC_ERROR: "the MAC flagged the frame (bad FCS, PHY error: tuser on the last beat)",
    Drop.DISABLED: "the ingress was disabled when the frame began",
    Drop.SHORT: "shorter than 60 bytes (runt)",
    Drop.DST_MAC: "destination MAC is not MAC_ADDR",
    Drop.ETHERTYPE: "not IPv4 after at most one 802.1Q tag",
    Drop.IP_HEADER: "IPv4 version not 4 or header length below 5 words",
    Drop.IP_OPTIONS: "IPv4 header with options (IHL > 5)",
    Drop.IP_CHECKSUM: "IPv4 header checksum wrong",
    Drop.IP_FRAGMENT: "IPv4 fragment (MF set or fragment offset non-zero)",
    Drop.PROTOCOL: "IPv4 protocol not UDP",
    Drop.DST_IP: "destination IPv4 address is not IP_ADDR",
    Drop.DST_PORT: "UDP destination port is not UDP_PORT",
    Drop.LENGTH: "frame length, IPv4 total length and UDP length disagree (truncated, padded, trailing bytes)",
    Drop.UDP_CHECKSUM: "UDP checksum non-zero and wrong",
    Drop.MAGIC: "datagram magic or version wrong",
    Drop.COUNT: "message count 0, above the maximum, or not what the UDP length holds",
    Drop.COMMAND: "a message's command is not a known Command",
    Drop.SESSION: "session id not below the number of sessions (CAPS)",
    Drop.STALE: "sequence number not newer than the session's last accepted one (duplicate or old)",
    Drop.RING_FULL: "the BRAM ring had no room for the whole datagram",
}

_COUNTERS_AT = INGRESS_BASE + 0x40
INGRESS_REGS: tuple[Reg, ...] = (
    Reg(INGRESS_BASE + 0x00, "INGRESS_CONTROL", 32, Access.CMD, 0,
        "Write: ENABLE=1 parses frames (sessions start afresh), ENABLE=0 drops them (DISABLED); a write with "
        "SNAPSHOT=1 copies every counter at one MAC-clock instant and leaves ENABLE as it was. Read: ENABLE.",
        fields=one_bit_fields(("ENABLE", "write 1: parse frames (every session starts afresh); 0: drop them "
                                         "(DISABLED). Ignored in a write with SNAPSHOT=1. Reads as written."),
                              ("SNAPSHOT", "write 1: copy every counter at one MAC-clock instant into the "
                                           "counter registers (ENABLE unchanged). Reads 0."))),
    Reg(INGRESS_BASE + 0x04, "INGRESS_STATUS", 32, Access.RO, None, "Ingress state.",
        fields=one_bit_fields(("ENABLED", "the MAC-clock side runs (ENABLE seen across the clock crossing)"),
                              ("SNAPSHOT_BUSY", "a snapshot is crossing: the counter registers are not yet updated"))),
    Reg(INGRESS_BASE + 0x08, "INGRESS_CAPS", 32, Access.RO, None, "Build parameters of the parser.",
        fields=(BitField("SESSIONS", 0, 8, "sessions (session ids 0..SESSIONS-1)"),
                BitField("MAX_MESSAGES", 8, 8, "most order messages per datagram"))),
    Reg(INGRESS_BASE + 0x0C, "UDP_PORT", 32, Access.RW, 0, "UDP destination port of order datagrams.",
        locked=True, fields=(BitField("PORT", 0, 16, "destination port"),)),
    Reg(INGRESS_BASE + 0x10, "MAC_ADDR", 64, Access.RW, 0, "Destination MAC address of order frames.",
        locked=True, fields=(BitField("ADDR", 0, 48, "the address, its first byte on the wire in bits 47:40"),)),
    Reg(INGRESS_BASE + 0x18, "IP_ADDR", 32, Access.RW, 0,
        "Destination IPv4 address (first byte on the wire in bits 31:24).", locked=True),
    Reg(INGRESS_BASE + 0x20, "SNAP_MAC_TIMESTAMP", 64, Access.RO, 0,
        "MAC-clock cycle counter at the snapshot's instant (the clock of the entries' ts)."),
    Reg(INGRESS_BASE + 0x28, "SNAP_TIMESTAMP", 64, Access.RO, 0,
        "User-clock TIMESTAMP when the snapshot arrived (pairs the two clocks for the host)."),
) + tuple(Reg(_COUNTERS_AT + 4 * i, name, 32, Access.RO, 0, _counter_doc(name) + " At the last snapshot.")
          for i, name in enumerate(COUNTER_NAMES))

INGRESS = RegGroup("ingress", INGRESS_REGS,
                   "The Ethernet/UDP ingress (hw/ingress): enable, snapshot, destination address and port "
                   "(locked while enabled), counter snapshots.")
IngressControl = INGRESS_REGS[0].flags
IngressStatus = INGRESS_REGS[1].flags


def markdown(what: str) -> str:
    """Docs tables: "header", "message", "drops", "registers", "fields", "frame"."""
    if what == "header":
        return HEADER.markdown()
    if what == "message":
        lines = ["| offset | bytes | field | type | entry offset | meaning |", "|---:|---:|---|---|---:|---|"]
        for f in MESSAGE_FIELDS:
            kind = f"{'i' if f.signed else 'u'}{f.width}"
            doc = f.doc + (" (" + ", ".join(f"{m.name}={m.value}" for m in f.enum) + ")" if f.enum else "")
            off = ENTRY.offsets[f.name]
            lines.append(f"| {off - MESSAGE_OFFSET} | {f.nbytes} | `{f.name}` | {kind} | {off} | {doc} |")
        return "\n".join(lines)
    if what == "drops":
        lines = ["| code | reason | counter | meaning |", "|---:|---|---|---|"]
        lines += [f"| {d.value} | `{d.name}` | `DROP_{d.name}` | {_DROP_DOC[d]} |" for d in Drop]
        return "\n".join(lines)
    if what == "registers":
        return RegisterMap((INGRESS,)).markdown()
    if what == "fields":
        return RegisterMap((INGRESS,)).fields_markdown()
    if what == "frame":
        rows = [("Ethernet II", "0", ETH_HEADER, "destination MAC, source MAC, EtherType 0x0800"),
                ("802.1Q tag (optional)", "12", VLAN_TAG, "TPID 0x8100, TCI (any VLAN)"),
                ("IPv4 header", "14 (18)", IPV4_HEADER, "version 4, IHL 5, no fragment, protocol 17"),
                ("UDP header", "34 (38)", UDP_HEADER, "destination port UDP_PORT; checksum 0 or correct"),
                ("datagram header", "42 (46)", HEADER_BYTES, "magic, version, count, session, seq"),
                ("order messages", "54 (58)", f"{MESSAGE_BYTES} x count", "ring entry bytes 12..63 each")]
        lines = ["| part | offset (tagged) | bytes | content |", "|---|---|---:|---|"]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
        return "\n".join(lines)
    raise ValueError(f"no table {what!r}: header, message, drops, registers, fields, frame")
