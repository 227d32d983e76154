"""The parser against the golden model in amaranth.sim: every malformed class alone and mixed into good
traffic, back to back, datagrams of 1..N messages, exact cycle counts, a full ring, disabled, gaps."""
import numpy as np
import pytest

from ringgate.contracts.datagram import MAX_MESSAGES, Drop, encode_datagram
from ringgate.sim.traffic import DatagramSource, WireFrame, craft, random_messages

from .harness import check, run


@pytest.mark.parametrize("kind", DatagramSource.KINDS)
def test_each_malformed_class_alone(kind):
    """Good datagrams with frames of one malformed class between them: each is dropped under its own
    reason, nothing of it reaches the ring, the good ones around it are intact."""
    src = DatagramSource(hash(kind) % 1000, max_messages=3)
    frames = []
    for _ in range(6):
        frames += [src.good(), src.malformed(kind)]
    frames.append(src.good())
    r = run(frames, gap=1, max_messages=3)
    model, outs = check(frames, r, max_messages=3)
    if kind != "gap":
        assert [o.drop for o in outs[1::2]] == [Drop[kind]] * 6
    assert r.counters["ACCEPTED"] == 7 + (6 if kind == "gap" else 0)


@pytest.mark.parametrize("seed,gap", [(1, 0), (2, 2), (3, "random")])
def test_mixed_at_random_back_to_back(seed, gap):
    src = DatagramSource(seed, max_messages=4)
    frames = src.mix(120, p_bad=0.4)
    rng = np.random.default_rng(seed)
    gaps = rng.integers(0, 4, len(frames))
    r = run(frames, gap=(lambda i: int(gaps[i])) if gap == "random" else gap)
    model, outs = check(frames, r)
    assert len({o.code for o in outs}) >= 12          # the mix really mixed


def test_datagrams_of_1_to_max_messages():
    src = DatagramSource(7, max_messages=MAX_MESSAGES)
    frames = [src.good(n) for n in range(1, MAX_MESSAGES + 1)] + [src.good(n) for n in (MAX_MESSAGES, 1, 2)]
    r = run(frames, gap=0, max_messages=MAX_MESSAGES, depth=256)
    check(frames, r, max_messages=MAX_MESSAGES)
    assert r.counters["ENTRIES"] == sum(range(1, MAX_MESSAGES + 1)) + MAX_MESSAGES + 3


@pytest.mark.parametrize("csum,vlan", [(False, None), (False, 5), (True, None), (True, 5)])
def test_cut_through_cycles(csum, vlan):
    """Exact cycles from the first and the last beat to the cycle the ring publishes: 1 after the last
    beat (4 with a UDP checksum to complete and check), whatever the tag or the number of messages."""
    src = DatagramSource(1, max_messages=4)
    frames = [src.good(n, udp_checksum_on=csum, vlan=vlan) for n in (1, 2, 3, 4)]
    r = run(frames, gap=20)
    check(frames, r)
    after_last = [p - lb for lb, p in zip(r.last_beat, r.publish_cycles)]
    assert after_last == [4 if csum else 1] * 4
    # a single-order frame (106 bytes, 110 untagged with FCS) is 14 beats: published 14 cycles after its first
    assert r.publish_cycles[0] - r.first_beat[0] == 13 + (4 if csum else 1)


def test_ring_full_drops_whole_datagrams():
    """A slow consumer: datagrams that do not fit are dropped whole and counted, nothing partial
    is published, and the accepted ones are byte-exact."""
    src = DatagramSource(11, max_messages=4, sessions=2)
    frames = [src.good() for _ in range(60)]
    r = run(frames, gap=0, depth=16, ready=lambda c: c % 40 == 0, tail=3000)
    full = {i for i, v in enumerate(r.verdicts) if v["code"] == Drop.RING_FULL}
    assert full and len(full) < len(frames)
    model, outs = check(frames, r, full=full)
    assert r.counters["DROP_RING_FULL"] == len(full)
    assert r.counters["GAPS"] > 0                      # the sender can tell what it lost


def test_disabled_drops_everything():
    src = DatagramSource(5)
    frames = src.mix(10, p_bad=0.5)
    r = run(frames, enable=False)
    check(frames, r, enable=False)
    assert r.counters["DROP_DISABLED"] == 10 - r.counters["DROP_MAC_ERROR"]


def test_gap_is_reported():
    src = DatagramSource(9, sessions=1)
    frames = [src.good(), src.good(), src.malformed("gap"), src.good()]
    skipped = src.seq[0] - 4
    r = run(frames)
    check(frames, r)
    assert r.counters["GAPS"] == 1 and r.counters["GAP_DATAGRAMS"] == skipped
    assert (r.counters["LAST_GAP_FIRST"], r.counters["LAST_GAP_LAST"]) == (3, 2 + skipped)


def test_frame_ending_before_its_messages_then_good_back_to_back():
    """A frame that ends before the messages its header announces (count too high, or cut short) and a
    good frame in the very next cycle: the first one's writer must stop with its frame (no false
    COMMAND drop of the second, no write into its claim)."""
    src = DatagramSource(21, max_messages=4, vlan_p=0, csum_p=0)
    frames = []
    for n in (1, 2, 3):
        ent = random_messages(src.rng, n)
        frames += [WireFrame(craft(encode_datagram(0, 1, ent, count=n + 1)), kind="COUNT"), src.good(1)]
    for n in (2, 3, 4):
        for cut in range(8, 57, 8):
            p = src.good(n)
            frames += [WireFrame(p.data[:-cut], kind="LENGTH"), src.good(1)]
    r = run(frames, gap=0)
    model, outs = check(frames, r)
    assert [o.drop for o in outs] == [Drop.COUNT, None] * 3 + [Drop.LENGTH, None] * (len(frames) // 2 - 3)


def test_ipv4_total_length_near_65535():
    """A total length so large that the frame's expected end would wrap a 16-bit sum: still LENGTH."""
    src = DatagramSource(31, max_messages=2, vlan_p=0.5, csum_p=0)
    p = encode_datagram(0, 1, random_messages(src.rng, 1))
    frames = []
    for total in (65535, 65530, 65522, 65519):
        base = len(p) + 28
        frames += [WireFrame(craft(p, total_delta=total - base, udp_len_delta=total - base), kind="LENGTH"),
                   src.good(1)]
    r = run(frames, gap=1, max_messages=2)
    model, outs = check(frames, r, max_messages=2)
    assert [o.drop for o in outs[::2]] == [Drop.LENGTH] * 4
