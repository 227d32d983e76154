"""The order-datagram contract: messages are ring entries without seq/ts, the encoder and decoder agree,
frames are what scapy (an independent implementation) parses, the register group is well formed."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringgate.contracts.datagram import (COUNTER_NAMES, HEADER_BYTES, INGRESS, INGRESS_REGS, MAX_MESSAGES, MESSAGE_BYTES,
                                         SESSIONS, IngressControl, IngressStatus,
                                         MESSAGE_DTYPE, MESSAGE_OFFSET, DatagramError, Drop, Endpoint, build_frame,
                                         datagram_bytes, decode_datagram, encode_datagram, frame_bytes, messages_in)
from ringgate.contracts.entry import ENTRY, ENTRY_DTYPE, Command
from ringgate.contracts.regmap import REGMAP

LOCAL = Endpoint.of("02:00:00:00:00:01", "10.1.2.3", 9000)
REMOTE = Endpoint.of("02:00:00:00:00:02", "10.1.2.4", 40000)


def test_message_is_the_entry_without_seq_and_ts():
    assert (MESSAGE_OFFSET, MESSAGE_BYTES, MESSAGE_DTYPE.itemsize) == (12, 52, 52)
    assert HEADER_BYTES == 12 and datagram_bytes(1) == 64
    assert frame_bytes(1) == 106 and frame_bytes(1) + 4 == 110          # the note's 110-byte frame with FCS
    for name in MESSAGE_DTYPE.names:
        assert MESSAGE_DTYPE.fields[name][1] == ENTRY.offsets[name] - MESSAGE_OFFSET
    assert MAX_MESSAGES == 28 and frame_bytes(MAX_MESSAGES) - 14 <= 1500 < frame_bytes(MAX_MESSAGES + 1) - 14


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, MAX_MESSAGES), session=st.integers(0, 2**32 - 1), seq=st.integers(0, 2**32 - 1),
       seed=st.integers(0, 2**32 - 1))
def test_encode_decode_round_trip(n, session, seq, seed):
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, (n, 64), dtype=np.uint8)
    ent = raw.view(ENTRY_DTYPE).reshape(n)
    ent["cmd"] = rng.choice([c.value for c in Command], n)
    p = encode_datagram(session, seq, ent)
    assert len(p) == datagram_bytes(n) and messages_in(len(p)) == n
    hdr, msgs = decode_datagram(p)
    assert (hdr["session"], hdr["seq"], hdr["count"]) == (session, seq, n)
    # message bytes are the entry's bytes 12..63, unchanged
    assert msgs.tobytes() == np.ascontiguousarray(ent.view(np.uint8).reshape(n, 64)[:, MESSAGE_OFFSET:]).tobytes()
    # dicts of entry fields encode the same bytes
    rows = [{f: int(e[f]) for f in MESSAGE_DTYPE.names} for e in ent]
    assert encode_datagram(session, seq, rows) == p


def test_bad_datagrams_are_refused_naming_the_field():
    with pytest.raises(DatagramError, match="count"):
        encode_datagram(0, 1, [])
    with pytest.raises(DatagramError, match="cmd 9"):
        encode_datagram(0, 1, [{"cmd": 9}])
    with pytest.raises(DatagramError, match="stamped by the FPGA"):
        encode_datagram(0, 1, [{"cmd": 1, "seq": 5}])
    good = encode_datagram(0, 1, [{"cmd": 1}])
    with pytest.raises(DatagramError, match="magic"):
        decode_datagram(b"\0\0" + good[2:])
    with pytest.raises(DatagramError, match="count"):
        decode_datagram(good + b"\0" * 52)


@pytest.mark.parametrize("vlan,csum", [(None, False), (7, True)])
def test_frames_parse_in_scapy(vlan, csum):
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Dot1Q, Ether

    ent = np.zeros(3, ENTRY_DTYPE)
    ent["cmd"] = Command.PLACE
    ent["price"] = [100, -5, 7]
    p = encode_datagram(3, 9, ent)
    f = build_frame(p, REMOTE, LOCAL, vlan=vlan, udp_checksum_on=csum)
    pkt = Ether(f)
    assert pkt.dst == "02:00:00:00:00:01" and (Dot1Q in pkt) == (vlan is not None)
    ip, udp = pkt[IP], pkt[UDP]
    assert (ip.dst, ip.ihl, ip.len, ip.flags.DF) == ("10.1.2.3", 5, 20 + 8 + len(p), True)
    assert (udp.dport, udp.len, bytes(udp.payload)) == (9000, 8 + len(p), p)
    # scapy recomputes both checksums from scratch: ours must match
    rebuilt = Ether(bytes(pkt.__class__(f)))
    del rebuilt[IP].chksum
    assert IP(bytes(rebuilt[IP]))[IP].chksum == ip.chksum
    if csum:
        del rebuilt[UDP].chksum
        assert Ether(bytes(rebuilt))[UDP].chksum == udp.chksum
    else:
        assert udp.chksum == 0


def test_register_group_is_generated_and_fits_bar0():
    names = [r.name for r in INGRESS_REGS]
    assert len(set(names)) == len(names)
    assert [n for n in names if n in COUNTER_NAMES] == list(COUNTER_NAMES)
    assert {f"DROP_{d.name}" for d in Drop} <= set(names)
    assert REGMAP.group("ingress") is INGRESS and INGRESS.regs == INGRESS_REGS     # composed into BAR0
    assert all(REGMAP[n] is r for n, r in zip(names, INGRESS_REGS))
    assert IngressControl.SNAPSHOT == 1 << 1 and IngressStatus.SNAPSHOT_BUSY == 1 << 1
    caps = REGMAP["INGRESS_CAPS"]
    assert caps.unpack(caps.pack(SESSIONS=SESSIONS, MAX_MESSAGES=MAX_MESSAGES)) == {
        "SESSIONS": SESSIONS, "MAX_MESSAGES": MAX_MESSAGES}


def test_docs_tables_match_the_contract():
    from pathlib import Path

    from ringgate.contracts.datagram import markdown

    doc = (Path(__file__).resolve().parents[2] / "docs" / "ingress.md").read_text()
    for what in ("frame", "header", "message", "drops", "registers", "fields"):
        assert markdown(what) in doc, f"docs/ingress.md: regenerate the {what} table (ringgate datagram)"
