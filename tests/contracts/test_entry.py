"""The ring entry and cursor line contracts: Amaranth layout, numpy dtype and codecs agree byte for byte."""
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringgate.contracts.entry import (CURSOR_DTYPE, CURSOR_LINE, ENTRY, ENTRY_DTYPE, Command, OrderType,
                                      Side, extend_timestamp)
from ringgate.contracts.record import Field, Record

ROOT = Path(__file__).resolve().parents[2]


def values_of(record):
    """Random field values, biased to the extremes (min, max, 0, -1) of each field."""
    def one(f):
        extremes = [f.min, f.max, 0] + ([-1] if f.signed else [1])
        return st.one_of(st.sampled_from(extremes), st.integers(f.min, f.max))
    return st.fixed_dictionaries({f.name: one(f) for f in record.fields})


@pytest.mark.parametrize("record", [ENTRY, CURSOR_LINE], ids=lambda r: r.name)
def test_sizes_and_alignment(record):
    assert record.size == 64 and record.dtype().itemsize == 64
    assert record.layout().size == 8 * 64
    for f in record.fields:
        assert record.offsets[f.name] % f.nbytes == 0
        assert record.layout()[f.name].offset == 8 * record.offsets[f.name]
        assert record.dtype().fields[f.name][1] == record.offsets[f.name]


@pytest.mark.parametrize("record", [ENTRY, CURSOR_LINE], ids=lambda r: r.name)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_layout_dtype_and_codecs_agree(record, data):
    vals = data.draw(values_of(record))
    raw = record.encode(vals)
    # numpy view of the same bytes
    arr = np.frombuffer(raw, dtype=record.dtype())
    assert {k: int(arr[k][0]) for k in arr.dtype.names} == vals
    assert record.array([vals]).tobytes() == raw
    # Amaranth layout: the constant a simulator would see has the same bits
    const = record.layout().const(vals).as_value()
    assert const.value == int.from_bytes(raw, "little") == record.to_int(vals)
    assert record.decode(raw) == vals and record.from_int(record.to_int(vals)) == vals


def test_extremes_and_negatives_explicitly():
    vals = {"seq": 2**64 - 1, "ts": 2**32 - 1, "cmd": Command.REDUCE, "side": Side.BID,
            "order_type": OrderType.FOK_BUDGET, "flags": 255, "uid": -(2**63), "order_id": 2**63 - 1,
            "price": -1, "reserve_price": -(2**63), "size": 2**63 - 1, "symbol": -(2**31),
            "user_cookie": 2**31 - 1}
    raw = ENTRY.encode(vals)
    assert raw[:8] == b"\xff" * 8 and raw[16:24] == b"\x00" * 7 + b"\x80"
    assert raw[32:40] == b"\xff" * 8 and raw[56:60] == b"\x00\x00\x00\x80"
    view = np.frombuffer(raw, dtype=ENTRY_DTYPE)[0]
    assert view["uid"] == -(2**63) and view["price"] == -1 and view["seq"] == 2**64 - 1
    assert ENTRY.layout().const(vals).as_value().value == int.from_bytes(raw, "little")


def test_bad_values_are_refused_naming_the_field():
    with pytest.raises(ValueError, match=r"ring_entry\.symbol"):
        ENTRY.encode({"symbol": 2**31})
    with pytest.raises(ValueError, match=r"ring_entry\.seq"):
        ENTRY.encode({"seq": -1})
    with pytest.raises(KeyError, match="prise"):
        ENTRY.encode({"prise": 1})
    with pytest.raises(ValueError, match="need 64 bytes"):
        ENTRY.decode(b"\0" * 63)


def test_bad_records_are_refused():
    with pytest.raises(ValueError, match="natural alignment"):
        Record("r", 16, (Field("a", 8), Field("b", 64)))
    with pytest.raises(ValueError, match="cover 9 bytes"):
        Record("r", 16, (Field("a", 64), Field("b", 8)))
    with pytest.raises(ValueError, match="duplicate"):
        Record("r", 2, (Field("a", 8), Field("a", 8)))
    with pytest.raises(ValueError, match="width 12"):
        Field("a", 12)


@settings(max_examples=300, deadline=None)
@given(full=st.integers(0, 2**63), back=st.integers(0, 2**31 - 1))
def test_extend_timestamp_recovers_the_full_count(full, back):
    ts = full - back
    if ts < 0:
        return
    assert extend_timestamp(ts & 0xFFFF_FFFF, full) == ts


def test_docs_tables_match_the_code():
    doc = (ROOT / "docs" / "ring.md").read_text()
    assert ENTRY.markdown() in doc, "docs/ring.md: regenerate the entry table (ringgate entry)"
    assert CURSOR_LINE.markdown() in doc, "docs/ring.md: regenerate the cursor-line table (ringgate entry)"
    assert CURSOR_DTYPE.itemsize == 64
