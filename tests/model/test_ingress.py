"""The golden model of the ingress on its own: reasons in contract order, sessions and gaps with
serial-number arithmetic, entries stamped, counters and their identity."""
import numpy as np

from ringgate.contracts.datagram import Drop, encode_datagram
from ringgate.model.ingress import IngressModel
from ringgate.sim.traffic import LOCAL, DatagramSource, craft, random_messages


def test_every_malformed_class_gets_its_reason():
    src = DatagramSource(4)
    m = IngressModel(LOCAL)
    for kind in DatagramSource.KINDS:
        for _ in range(10):
            f = src.malformed(kind)
            o = m.frame(f.data, bad=f.bad)
            assert o.drop is (None if kind == "gap" else Drop[kind]), kind
    assert m.identity_holds()


def test_first_reason_in_contract_order_wins():
    m = IngressModel(LOCAL)
    p = encode_datagram(99, 1, random_messages(np.random.default_rng(1), 1), magic=1)
    f = craft(p, ip_csum_xor=1, dst_port=1)            # IP_CHECKSUM, DST_PORT, MAGIC, SESSION all apply
    assert m.frame(f).drop is Drop.IP_CHECKSUM
    assert m.frame(f, bad=True).drop is Drop.MAC_ERROR


def test_sessions_serial_arithmetic_and_gaps():
    m = IngressModel(LOCAL)
    ent = random_messages(np.random.default_rng(2), 2)

    def send(seq):
        return m.frame(craft(encode_datagram(1, seq, ent)), start_cycle=5 + seq)

    assert send(1).drop is None and send(1).drop is Drop.STALE
    o = send(4)
    assert (o.drop, o.gap) == (None, 2)
    assert send(3).drop is Drop.STALE
    assert send((4 + 2**31) & 0xFFFF_FFFF).drop is Drop.STALE        # half the number space ahead: old
    assert m.counters["LAST_GAP_FIRST"] == 2 and m.counters["LAST_GAP_LAST"] == 3
    assert o.entries["seq"].tolist() == [2, 3] and set(o.entries["ts"].tolist()) == {9}
    m.last[1] = 0xFFFF_FFFF
    assert send(0).drop is None                         # wraps: 0 follows 2**32 - 1
    m.enable(False)
    m.enable(True)
    assert m.last == [0] * m.sessions                   # each enable starts every session afresh


def test_ring_room_is_all_or_nothing():
    m = IngressModel(LOCAL)
    f = craft(encode_datagram(0, 1, random_messages(np.random.default_rng(3), 3)))
    assert m.frame(f, room=2).drop is Drop.RING_FULL and m.published == 0
    assert m.frame(f, room=3).drop is None and m.published == 3
