"""The golden model: TLP formation rules, flow control, cursor line, host-memory image."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ..sw.driver.helpers import configure, make_entries
from ringgate.contracts.entry import CURSOR_DTYPE, ENTRY_DTYPE
from ringgate.sw.driver.device import ModelDevice
from ringgate.model.hostmem import DmaFault
from ringgate.model.fpga import (FpgaModel, Scoreboard, ScoreboardError, count_tlps, split_tlps, stamp,
                             tlp_limit)
from ringgate.sw.driver.regs import Control, Error, MaxPayload, R, Status


def ring_of(buf, size):
    return buf.array(ENTRY_DTYPE, 0, size)


def line_of(buf, size):
    return buf.array(CURSOR_DTYPE, size * 64, 1)[0]


@settings(max_examples=300, deadline=None)
@given(first=st.integers(0, 1 << 40), n=st.integers(0, 3000), log_size=st.integers(0, 12),
       limit=st.integers(1, 20))
def test_driver_split_rules_and_count(first, n, log_size, limit):
    size = 1 << log_size
    tlps = split_tlps(first, n, size, limit)
    assert count_tlps(first, n, size, limit) == len(tlps)
    s = first
    for f, m in tlps:
        assert f == s and 1 <= m <= limit
        slot = f % size
        assert slot + m <= size, "crosses the wrap point"
        assert (slot * 64) // 4096 == ((slot + m) * 64 - 1) // 4096, "crosses 4 KiB"
        s += m
    assert s == first + n


@settings(max_examples=100, deadline=None)
@given(first=st.integers(0, 1 << 20), n=st.integers(1, 500), log_size=st.integers(0, 10),
       limit=st.integers(1, 20))
def test_driver_split_is_greedy(first, n, log_size, limit):
    """Throughput when backlogged: every TLP is as long as the rules allow."""
    size = 1 << log_size
    p = min(64, size)
    for f, m in split_tlps(first, n, size, limit):
        end = f + m
        assert m == limit or end % p == 0 or end == first + n


@pytest.mark.parametrize("mps", [128, 256, 512, 1024])
@pytest.mark.parametrize("batch", [1, 3, 16])
def test_driver_model_tlps_obey_mps_batch_4k_wrap(mps, batch):
    dev = ModelDevice(depth=1024, max_payload=mps, trace=True)
    size = 128
    buf = configure(dev, size, batch_limit=batch)
    m = dev.model
    data = make_entries(700)
    consumed = 0
    fed = 0
    while consumed < 700:
        fed += m.push(data[fed:fed + 97], 0)
        m.run()
        consumed = m.sent
        dev.write(R.DOORBELL, consumed)          # host consumes everything at once
    limit = min(mps // 64, batch)
    for t in m.tlps:
        if t.kind == "data":
            assert t.nbytes <= mps and t.count <= batch
            assert t.addr // 4096 == (t.addr + t.nbytes - 1) // 4096
            assert t.addr + t.nbytes <= buf.bus + size * 64
    # greedy (backlogged): a TLP shorter than the limit ends at a 4 KiB / wrap boundary or at
    # the end of what was sendable in its burst
    for t in m.tlps:
        if t.kind == "data" and t.count < limit and (t.first + t.count) % min(64, size):
            nxt = m.tlps[m.tlps.index(t) + 1]
            assert nxt.kind == "cursor" and nxt.cursor == t.first + t.count
    np.testing.assert_array_equal(ring_of(buf, size), FpgaModel.expected_ring(data, size, ts=0))


def test_driver_model_latency_first_single_entry():
    dev = ModelDevice(depth=64, trace=True)
    buf = configure(dev, 64)
    m = dev.model
    assert m.push(make_entries(1)) == 1
    assert m.burst() == 1
    assert [t.kind for t in m.tlps] == ["data", "cursor"]
    assert m.tlps[0].count == 1
    line = line_of(buf, 64)
    assert line["cursor"] == 1 and line["writes"] == 1 and line["timestamp"] == m.now
    # 256-bit datapath: 16 B descriptor + 64 B = 3 beats, cursor 16 + 24 B = 2 beats
    assert m.now == 5


@pytest.mark.parametrize("interval", [1, 2, 5])
def test_driver_model_cursor_interval(interval):
    dev = ModelDevice(depth=256, trace=True)
    buf = configure(dev, 256, batch_limit=4, cursor_interval=interval)
    m = dev.model
    m.push(make_entries(4 * 11))
    assert m.burst() == 44
    kinds = "".join("d" if t.kind == "data" else "c" for t in m.tlps)
    groups = kinds.split("c")[:-1]
    assert all(len(g) == interval for g in groups[:-1]) and 1 <= len(groups[-1]) <= interval
    assert kinds.endswith("c")
    curs = [t.cursor for t in m.tlps if t.kind == "cursor"]
    assert curs == sorted(curs) and curs[-1] == 44
    assert line_of(buf, 256)["writes"] == len(curs) == dev.read(R.CURSOR_WRITES)


def test_driver_model_fast_path_counts_match_trace():
    """The numpy fast path (no per-TLP loop) counts TLPs, cursor writes and beats exactly as the
    traced path does."""
    results = []
    for trace in (False, True):
        dev = ModelDevice(depth=512, trace=trace, max_payload=512)
        buf = configure(dev, 256, batch_limit=5, cursor_interval=3)
        m = dev.model
        data = make_entries(3000)
        fed = 0
        rng = np.random.default_rng(1)
        while m.sent < 3000:
            fed += m.push(data[fed:fed + int(rng.integers(1, 300))])
            m.burst(int(rng.integers(1, 400)))
            dev.write(R.DOORBELL, max(m.doorbell, m.sent - int(rng.integers(0, 200))))
        results.append((m.data_tlps, m.cursor_writes, m.beats, m.now, bytes(buf.mv)))
    assert results[0] == results[1]


def test_driver_model_flow_control_never_overwrites_unconsumed():
    dev = ModelDevice(depth=1024)
    size = 64
    buf = configure(dev, size)
    m = dev.model
    data = make_entries(300)
    assert m.push(data) == 300
    assert m.run() == size                      # the host ring is full: the DMA waits
    assert m.sent == size and m.fill == 300 - size
    assert dev.read(R.STATUS) & Status.HOST_FULL
    m.run()
    assert dev.read(R.HOST_FULL_CYCLES) >= 1
    np.testing.assert_array_equal(ring_of(buf, size), stamp(data[:size], 0, 0))
    dev.write(R.DOORBELL, 10)                   # host frees 10 slots
    assert m.run() == 10 and m.sent == size + 10
    assert not dev.read(R.ERROR)
    ring = ring_of(buf, size)
    np.testing.assert_array_equal(ring[:10]["seq"], np.arange(64, 74))
    np.testing.assert_array_equal(ring[10:]["seq"], np.arange(10, 64))


def test_driver_model_bram_full_drops_and_counts():
    dev = ModelDevice(depth=32)
    configure(dev, 16)
    m = dev.model
    assert m.push(make_entries(50)) == 32
    assert dev.read(R.RING_FULL_CYCLES) == 18 and dev.read(R.RING_FILL) == 32
    assert dev.read(R.PUBLISHED) == 32


def test_driver_model_multi_lap_memory_matches_expected_image():
    dev = ModelDevice(depth=256)
    size = 64
    buf = configure(dev, size)
    m = dev.model
    data = make_entries(64 * 5 + 17)
    ts = np.arange(len(data), dtype=np.uint64) * 3 + (1 << 32) - 50   # ts wraps at 32 bits
    fed = 0
    while m.sent < len(data):
        k = m.push(data[fed:fed + 40], ts[fed:fed + 40])
        fed += k
        m.run()
        dev.write(R.DOORBELL, m.sent - 5 if m.sent > 5 else 0)
    np.testing.assert_array_equal(ring_of(buf, size), FpgaModel.expected_ring(data, size, ts=ts))
    assert line_of(buf, size)["cursor"] == len(data)


@pytest.mark.parametrize("setup, bit", [
    (dict(base_off=64), Error.RING_BASE_UNALIGNED),
    (dict(size=48), Error.RING_SIZE_INVALID),
    (dict(size=0), Error.RING_SIZE_INVALID),            # enable while unconfigured
    (dict(size=1 << 27), Error.RING_SIZE_INVALID),
    (dict(cursor_off=8), Error.CURSOR_ADDR_UNALIGNED),
    (dict(cursor_in_ring=True), Error.CURSOR_IN_RING),
    (dict(batch=0), Error.LIMIT_INVALID),
    (dict(interval=0), Error.LIMIT_INVALID),
])
def test_driver_model_refuses_invalid_config(setup, bit):
    dev = ModelDevice(depth=64)
    m = dev.model
    buf = dev.alloc(1 << 16)
    buf.array()[:] = 0xA5
    size = setup.get("size", 64)
    base = buf.bus + setup.get("base_off", 0)
    cursor = base + 64 * 64 + setup.get("cursor_off", 0)
    if setup.get("cursor_in_ring"):
        cursor = base + 128
    dev.write(R.RING_BASE, base)
    dev.write(R.RING_SIZE, size)
    dev.write(R.CURSOR_ADDR, cursor)
    dev.write(R.BATCH_LIMIT, setup.get("batch", 16))
    dev.write(R.CURSOR_INTERVAL, setup.get("interval", 1))
    m.push(make_entries(20))
    dev.write(R.CONTROL, Control.ENABLE)
    assert not dev.read(R.CONTROL) & Control.ENABLE
    assert dev.read(R.ERROR) & bit
    m.run()
    assert (buf.array() == 0xA5).all(), "a refused configuration wrote host memory"
    assert dev.read(R.SENT) == 0
    dev.write(R.ERROR, int(bit))                 # W1C
    assert not dev.read(R.ERROR) & bit


def test_driver_model_unconfigured_enable_writes_nothing():
    dev = ModelDevice(depth=64)
    dev.model.push(make_entries(5))
    dev.write(R.CONTROL, Control.ENABLE)
    assert dev.read(R.ERROR) & Error.RING_SIZE_INVALID
    assert dev.model.run() == 0


def test_driver_model_config_locked_while_enabled_and_doorbell_rules():
    dev = ModelDevice(depth=64)
    buf = configure(dev, 64)
    dev.write(R.RING_SIZE, 128)
    assert dev.read(R.RING_SIZE) == 64 and dev.read(R.ERROR) & Error.CONFIG_LOCKED
    dev.write(R.ERROR, 0xFFFF_FFFF)
    dev.model.push(make_entries(10))
    dev.model.run()
    dev.write(R.DOORBELL, 11)                            # beyond SENT
    assert dev.read(R.ERROR) & Error.DOORBELL_RANGE and dev.read(R.HOST_CONSUMED) == 0
    dev.write(R.DOORBELL, 8)
    dev.write(R.DOORBELL, 4)                             # backwards while enabled
    assert dev.read(R.HOST_CONSUMED) == 8
    dev.write(R.ERROR, 0xFFFF_FFFF)
    dev.write(R.CONTROL, 0)
    dev.write(R.DOORBELL, 4)                             # while disabled: stored, checked at enable
    assert dev.read(R.DOORBELL) == 4 and dev.read(R.HOST_CONSUMED) == 8 and not dev.read(R.ERROR)
    dev.write(R.CONTROL, Control.ENABLE)                 # a host restart may step back within a ring
    assert dev.read(R.HOST_CONSUMED) == 4 and not dev.read(R.ERROR)
    dev.write(R.CONTROL, 0)
    dev.write(R.RING_BASE, buf.bus)                       # unlocked when idle
    assert not dev.read(R.ERROR)


def test_driver_model_doorbell_range_at_enable():
    dev = ModelDevice(depth=256)
    buf = configure(dev, 64)
    dev.model.push(make_entries(64))
    dev.model.run()
    dev.write(R.DOORBELL, 64)
    dev.model.push(make_entries(64))
    dev.model.run()
    dev.write(R.CONTROL, 0)
    dev.write(R.RING_SIZE, 32)                 # SENT - DOORBELL = 64 > 32
    dev.write(R.CONTROL, Control.ENABLE)
    assert dev.read(R.ERROR) & Error.DOORBELL_RANGE
    assert not dev.read(R.CONTROL) & Control.ENABLE


def test_driver_model_bar_words_latch_and_stage():
    m = FpgaModel(depth=64)
    off = m.regmap["SCRATCH"].offset
    m.write32(off, 0x1234_5678)
    assert m.read32(off) == 0x1234_5678
    # 64-bit register: the low-half write is staged until the high half arrives
    db = m.regmap["RING_BASE"].offset
    m.write32(db, 0x0000_2000)
    assert m.read("RING_BASE") == 0
    m.write32(db + 4, 0x1)
    assert m.read("RING_BASE") == 0x1_0000_2000
    # reading the low half latches the high half: a counter that moves in between cannot tear
    ts = m.regmap["TIMESTAMP"].offset
    m.now = 0xFFFF_FFFF
    lo = m.read32(ts)
    m.now += 1
    hi = m.read32(ts + 4)
    assert (hi << 32 | lo) == 0xFFFF_FFFF
    assert m.read64(ts) == 1 << 32
    # unknown offsets read as zero and count
    assert m.read32(0xFF0) == 0 and m.read32(0x3C) == 0
    assert m.read("BAD_ACCESSES") == 2 and m.read("ERROR") & Error.BAD_ACCESS
    m.write32(m.regmap["SENT"].offset, 5)           # read-only
    assert m.read("SENT") == 0 and m.read("BAD_ACCESSES") == 3
    assert m.read32(m.regmap["ID"].offset) == 0x5247_4754
    assert m.regmap["CAPS"].unpack(m.read("CAPS")) == {"DATAPATH_BITS": 256, "RING_DEPTH_LOG2": 6}
    assert m.regmap["STATUS"].unpack(m.read("STATUS"))["MPS"] == MaxPayload.B256


def test_driver_model_disable_writes_cursor_and_reset_keeps_sequences():
    dev = ModelDevice(depth=64, trace=True)
    buf = configure(dev, 64, batch_limit=4, cursor_interval=100)
    m = dev.model
    m.push(make_entries(30))
    m.run()
    assert line_of(buf, 64)["cursor"] == 30
    dev.write(R.CONTROL, Control.RESET)
    assert not dev.read(R.CONTROL) & Control.ENABLE
    assert dev.read(R.SENT) == 30 and dev.read(R.DATA_TLPS) == 0 and dev.read(R.CURSOR_WRITES) == 0
    m.push(make_entries(5))
    assert dev.read(R.PUBLISHED) == 35
    dev.regs.start(buf.bus, 64, buf.bus + 64 * 64)
    m.run()
    assert line_of(buf, 64)["cursor"] == 35 and line_of(buf, 64)["writes"] == 2   # TLPs 30..33, 34
    m.power_on()
    assert dev.read(R.SENT) == 0 and dev.read(R.PUBLISHED) == 0 and dev.read(R.RING_SIZE) == 0


def test_driver_model_stray_write_is_a_dma_fault():
    dev = ModelDevice(depth=64)
    dev.alloc(8192)
    dev.write(R.RING_BASE, 0x7000_0000)          # nothing mapped there
    dev.write(R.RING_SIZE, 16)
    dev.write(R.CURSOR_ADDR, 0x7000_4000)
    dev.write(R.CONTROL, Control.ENABLE)
    dev.model.push(make_entries(1))
    with pytest.raises(DmaFault):
        dev.model.run()


def test_driver_scoreboard_accepts_the_model_and_rebuilds_memory():
    """Two implementations of the same rules agree: the model's TLP trace passes the scoreboard
    and the scoreboard's rebuilt image equals the model's host memory."""
    dev = ModelDevice(depth=128, trace=True, max_payload=512)
    size = 64
    buf = configure(dev, size, batch_limit=6, cursor_interval=2)
    m = dev.model
    sb = Scoreboard(ring_base=buf.bus, ring_size=size, cursor_addr=buf.bus + size * 64, max_payload=512,
                    batch_limit=6, cursor_interval=2)
    data = make_entries(500)
    fed = 0
    rng = np.random.default_rng(5)
    raw = buf.array()
    seen = writes = 0
    while m.sent < 500:
        k = m.push(data[fed:fed + int(rng.integers(1, 50))], 7)
        sb.expect(data[fed:fed + k], 7)
        fed += k
        m.burst(int(rng.integers(1, 30)))
        # replay this burst's TLPs (a burst never overwrites its own slots)
        for t in m.tlps[seen:]:
            if t.kind == "data":
                sb.write(t.addr, raw[t.addr - buf.bus:t.addr - buf.bus + t.nbytes].tobytes())
            else:
                writes += 1
                sb.write(t.addr, np.array([t.cursor, t.timestamp, writes], "<u8").tobytes())
        seen = len(m.tlps)
        db = max(m.doorbell, m.sent - int(rng.integers(0, 40)))
        dev.write(R.DOORBELL, db)
        sb.doorbell(db)
    assert sb.data_tlps == m.data_tlps and sb.writes == m.cursor_writes
    sb.check_memory(raw[:size * 64], raw[size * 64:size * 64 + 64])


def _sb(**kw):
    args = dict(ring_base=0x10000, ring_size=128, cursor_addr=0x20000, max_payload=256, batch_limit=16)
    args.update(kw)
    sb = Scoreboard(**args)
    sb.expect(make_entries(300))
    return sb


def _bytes(first, n):
    return stamp(make_entries(first + n), 0)[first:].tobytes()


@pytest.mark.parametrize("case, message", [
    (lambda sb: sb.write(0x10000, _bytes(0, 5)), "exceeds MPS"),
    (lambda sb: sb.write(0x10000 + 64, _bytes(0, 1)), "expected slot 0"),
    (lambda sb: sb.write(0x10000, _bytes(1, 1)), "differ"),
    (lambda sb: (sb.write(0x10000, _bytes(0, 2)), sb.write(0x20000, np.array([3, 0, 1], "<u8").tobytes())),
     "ahead of its data"),
    (lambda sb: (sb.write(0x10000, _bytes(0, 2)), sb.write(0x20000, np.array([2, 0, 2], "<u8").tobytes())),
     "write count"),
    (lambda sb: sb.write(0x30000, b"\0" * 64), "stray write"),
])
def test_driver_scoreboard_catches_rule_breaks(case, message):
    with pytest.raises(ScoreboardError, match=message):
        case(_sb())


def test_driver_scoreboard_catches_4k_crossing():
    sb = Scoreboard(ring_base=0x10000, ring_size=128, cursor_addr=0x20000, max_payload=256, first_seq=63)
    sb.credit = 63
    sb.expect(make_entries(10))
    with pytest.raises(ScoreboardError, match="crosses a 4 KiB"):
        sb.write(0x10000 + 63 * 64, stamp(make_entries(2), 63).tobytes())


def test_driver_scoreboard_catches_credit_overrun_and_wrap():
    sb = _sb(ring_size=8, max_payload=1024)
    sb.write(0x10000, _bytes(0, 8))
    with pytest.raises(ScoreboardError, match="credit"):
        sb.write(0x10000, _bytes(8, 1))
    sb = _sb(ring_size=8, max_payload=1024)
    sb.write(0x10000, _bytes(0, 4))
    sb.doorbell(4)
    with pytest.raises(ScoreboardError, match="wrap point"):
        sb.write(0x10000 + 256, _bytes(4, 6))


def test_driver_tlp_limit():
    assert tlp_limit(256, 16) == 4 and tlp_limit(1024, 3) == 3 and tlp_limit(128, 16) == 2


def test_driver_model_cursor_write_sizes():
    """24-byte cursor writes (the contract) leave the rest of the line alone; a 64-byte model
    variant zeroes the reserved words."""
    for nbytes, rest in ((24, 0xEE), (64, 0)):
        dev = ModelDevice(depth=64, cursor_bytes=nbytes)
        buf = dev.alloc(64 * 64 + 4096)
        buf.array()[64 * 64:] = 0xEE
        dev.regs.start(buf.bus, 64, buf.bus + 64 * 64)
        dev.model.push(make_entries(3))
        dev.model.run()
        line = buf.array(np.uint8, 64 * 64, 64)
        assert line.view("<u8")[0] == 3
        assert (line[24:] == rest).all()


def test_driver_scoreboard_cursor_interval():
    sb = _sb(cursor_interval=2)
    sb.write(0x10000, _bytes(0, 1))
    sb.write(0x10000 + 64, _bytes(1, 1))
    with pytest.raises(ScoreboardError, match="3 data TLPs without a cursor write"):
        sb.write(0x10000 + 128, _bytes(2, 1))


def _map_with_extra_group():
    from ringgate.contracts.regmap import REGMAP, Access, BitField, Reg, RegGroup
    extra = RegGroup("extra", (
        Reg(0x100, "EXTRA_CFG", 32, Access.RW, 7, "a setting"),
        Reg(0x104, "EXTRA_FLAGS", 32, Access.W1C, 0, "sticky", fields=(BitField("HIT", 0),)),
        Reg(0x108, "EXTRA_COUNT", 64, Access.RO, 0, "a counter"),
    ), "a block the model does not simulate")
    return REGMAP.with_groups(extra)


def test_driver_model_keeps_unmodelled_groups_as_storage():
    """A group composed into the map that the model does not simulate: RW keeps what was
    written, W1C clears, RO reads its reset and refuses writes; offsets as the map says."""
    m = FpgaModel(depth=64, regmap=_map_with_extra_group())
    assert m.read("EXTRA_CFG") == 7
    m.write32(0x100, 0x1234)
    assert m.read32(0x100) == 0x1234
    m.storage["EXTRA_FLAGS"] = 1                # what the block's hardware would set
    m.write("EXTRA_FLAGS", 1)
    assert m.read("EXTRA_FLAGS") == 0
    m.write64(0x108, 5)
    assert m.read64(0x108) == 0 and m.read("BAD_ACCESSES") == 1
    assert m.read("RING_SIZE") == 0 and m.read("ID") == 0x5247_4754    # its own groups unchanged


def test_driver_model_refuses_a_register_it_cannot_simulate():
    from ringgate.contracts.regmap import DEVICE, DMA, REGMAP, RING, Access, Reg, RegGroup, RegisterMap
    dma = RegGroup("dma", DMA.regs + (Reg(0x0A0, "NEW_DMA_REG", 32, Access.RW, 0, "new"),), DMA.doc, hold=True)
    grown = RegisterMap.compose(DEVICE, dma, RING, bus_errors=REGMAP.bus_errors)
    with pytest.raises(ValueError, match="NEW_DMA_REG"):
        FpgaModel(depth=64, regmap=grown)
