"""The host sender: datagrams over a local UDP socket and frames in a pcap file, read back and checked
with the contract's decoder and the ingress's golden model."""
import socket

import numpy as np
import pytest

from ringgate.contracts.datagram import DatagramError, Endpoint, decode_datagram
from ringgate.contracts.entry import ENTRY_DTYPE, Command
from ringgate.model.ingress import IngressModel
from ringgate.sw.sender import DatagramSender, PcapTransport, UdpTransport, read_pcap

LOCAL = Endpoint.of("02:00:00:00:00:01", "10.0.0.2", 9000)
REMOTE = Endpoint.of("02:00:00:00:00:02", "10.0.0.1", 40000)


def orders(n):
    e = np.zeros(n, ENTRY_DTYPE)
    e["cmd"] = Command.PLACE
    e["order_id"] = np.arange(n)
    return e


def test_udp_socket_round_trip():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5)
    s = DatagramSender(UdpTransport("127.0.0.1", rx.getsockname()[1]), session=3, first_seq=7, per_datagram=4)
    assert s.send(orders(10)) == [7, 8, 9]
    got = []
    for _ in range(3):
        hdr, msgs = decode_datagram(rx.recv(2048))
        got.append((hdr["session"], hdr["seq"], len(msgs), list(msgs["order_id"])))
    s.close()
    rx.close()
    assert got == [(3, 7, 4, [0, 1, 2, 3]), (3, 8, 4, [4, 5, 6, 7]), (3, 9, 2, [8, 9])]


def test_pcap_frames_pass_the_ingress_model(tmp_path):
    path = tmp_path / "orders.pcap"
    s = DatagramSender(PcapTransport(path, REMOTE, LOCAL, vlan=5, udp_checksum_on=True), per_datagram=3)
    s.send(orders(8))
    s.close()
    frames = read_pcap(path)
    model = IngressModel(LOCAL)
    outs = [model.frame(f) for f in frames]
    assert [o.drop for o in outs] == [None] * 3
    assert np.concatenate([o.entries for o in outs])["order_id"].tolist() == list(range(8))
    from scapy.utils import rdpcap          # an independent reader opens the file too
    assert [bytes(p) for p in rdpcap(str(path))] == frames


def test_bad_sender_settings_are_refused():
    with pytest.raises(DatagramError, match="per_datagram"):
        DatagramSender(None, per_datagram=29)
