"""Sending order datagrams: over a UDP socket, or as Ethernet frames into a pcap file.

The wire format is :mod:`ringgate.contracts.datagram`. A :class:`DatagramSender` owns one session:
it numbers its datagrams 1, 2, 3 ... (as the FPGA expects), packs up to ``per_datagram`` orders into
each, and hands the UDP payloads to a transport: :class:`UdpTransport` (a socket; the kernel adds the
Ethernet/IPv4/UDP headers) or :class:`PcapTransport` (whole frames from
:func:`~ringgate.contracts.datagram.build_frame`, for replay tools and for the simulation's MAC
stream).
"""
from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

import numpy as np

from ringgate.contracts.datagram import MAX_MESSAGES, DatagramError, Endpoint, build_frame, encode_datagram

__all__ = ["DatagramSender", "UdpTransport", "PcapTransport", "read_pcap"]

_PCAP_MAGIC = 0xA1B2C3D4            # microsecond timestamps
_LINKTYPE_ETHERNET = 1


class UdpTransport:
    """UDP payloads to ``(host, port)`` from an unconnected socket (``source_port`` 0: any)."""

    def __init__(self, host: str, port: int, *, source_port: int = 0):
        self.addr = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("0.0.0.0", source_port))

    def send(self, payload: bytes) -> None:
        self.sock.sendto(payload, self.addr)

    def close(self) -> None:
        self.sock.close()


class PcapTransport:
    """Frames (FCS excluded, as a capture shows them) into a libpcap file, one per payload."""

    def __init__(self, path: str | Path, src: Endpoint, dst: Endpoint, *, vlan: int | None = None,
                 udp_checksum_on: bool = False, interval_us: int = 0):
        self.path = Path(path)
        self.src, self.dst, self.vlan, self.csum = src, dst, vlan, udp_checksum_on
        self.interval_us = interval_us
        self.fh = open(self.path, "wb")
        self.fh.write(struct.pack("<IHHiIII", _PCAP_MAGIC, 2, 4, 0, 0, 65535, _LINKTYPE_ETHERNET))
        self.t_us = int(time.time() * 1e6)
        self.frames = 0

    def send(self, payload: bytes) -> None:
        frame = build_frame(payload, self.src, self.dst, vlan=self.vlan, udp_checksum_on=self.csum,
                            ip_id=self.frames)
        sec, usec = divmod(self.t_us, 1_000_000)
        self.fh.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
        self.t_us += self.interval_us
        self.frames += 1

    def close(self) -> None:
        self.fh.close()


def read_pcap(path: str | Path) -> list[bytes]:
    """The frames of a libpcap file of Ethernet frames (either byte order, microsecond stamps)."""
    data = Path(path).read_bytes()
    if len(data) < 24:
        raise ValueError(f"{path}: not a pcap file (shorter than its header)")
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic == _PCAP_MAGIC else ">" if magic == 0xD4C3B2A1 else None
    if endian is None:
        raise ValueError(f"{path}: not a pcap file (magic {magic:#x})")
    if struct.unpack(endian + "I", data[20:24])[0] != _LINKTYPE_ETHERNET:
        raise ValueError(f"{path}: not Ethernet frames")
    out, pos = [], 24
    while pos + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[pos + 8:pos + 12])[0]
        out.append(data[pos + 16:pos + 16 + incl])
        pos += 16 + incl
    return out


class DatagramSender:
    """One session's datagrams: sequence numbers from ``first_seq``, up to ``per_datagram`` orders each.

    Parameters
    ----------
    transport : UdpTransport or PcapTransport
        Where the UDP payloads go.
    session : int
        The session id (below the FPGA's INGRESS_CAPS sessions).
    first_seq : int
        Sequence number of the first datagram (1 for a session the FPGA starts afresh).
    per_datagram : int
        Most orders per datagram (1..MAX_MESSAGES); 1 is the lowest latency per order.
    """

    def __init__(self, transport, *, session: int = 0, first_seq: int = 1, per_datagram: int = 1):
        if not 1 <= per_datagram <= MAX_MESSAGES:
            raise DatagramError(f"per_datagram must be 1..{MAX_MESSAGES}, not {per_datagram}")
        self.transport = transport
        self.session = session
        self.seq = first_seq
        self.per_datagram = per_datagram
        self.sent_datagrams = 0
        self.sent_orders = 0

    def send(self, orders) -> list[int]:
        """Send ``orders`` (ENTRY_DTYPE rows or dicts of entry fields); returns the sequence numbers used."""
        rows = orders if isinstance(orders, np.ndarray) else list(orders)
        used = []
        for i in range(0, len(rows), self.per_datagram):
            chunk = rows[i:i + self.per_datagram]
            self.transport.send(encode_datagram(self.session, self.seq, chunk))
            used.append(self.seq)
            self.seq = (self.seq + 1) & 0xFFFF_FFFF
            self.sent_datagrams += 1
            self.sent_orders += len(chunk)
        return used

    def close(self) -> None:
        self.transport.close()
