"""A 64-byte FPGA ring entry maps 1:1 onto an OrderCommand, and ring and REST commands share one sequence."""
from __future__ import annotations

import numpy as np

from ringgate.contracts.entry import ENTRY_DTYPE, Command, OrderType as RingOrderType, Side
from ringgate.sw.exchange import (OrderAction, OrderCommand, OrderCommandType, OrderType, cancel, from_ring, move,
                         place, reduce)

from .conftest import BTC_USDT


def test_ring_codes_are_exchange_core_codes():
    assert {c.name: c.value for c in Command} == {"PLACE": OrderCommandType.PLACE_ORDER, "CANCEL": OrderCommandType.CANCEL_ORDER,
                                                  "MOVE": OrderCommandType.MOVE_ORDER, "REDUCE": OrderCommandType.REDUCE_ORDER}
    assert {s.name: s.value for s in Side} == {a.name: a.value for a in OrderAction}
    assert {t.name: t.value for t in RingOrderType} == {t.name: t.value for t in OrderType}


def test_every_command_field_is_a_ring_field():
    fields = set(ENTRY_DTYPE.names)
    assert set(OrderCommand.__struct_fields__) <= fields
    assert fields - set(OrderCommand.__struct_fields__) == {"seq", "ts", "flags"}


def test_from_ring_roundtrip():
    cmds = [place(7, BTC_USDT, 1, OrderAction.BID, 82941, 4, order_type=OrderType.IOC, reserve_price=83000,
                  user_cookie=-5),
            cancel(7, BTC_USDT, 2), move(8, BTC_USDT, 3, 2**40), reduce(9, -1, 2**62, 3)]
    entries = np.zeros(len(cmds), ENTRY_DTYPE)
    for i, c in enumerate(cmds):
        for f in OrderCommand.__struct_fields__:
            entries[i][f] = getattr(c, f)
        entries[i]["seq"] = 100 + i
    assert from_ring(entries) == cmds
    assert all(type(v) is int for c in from_ring(entries) for v in (c.uid, c.price, c.cmd))


def test_ring_and_rest_interleave_in_one_sequence(ex):
    entries = np.zeros(2, ENTRY_DTYPE)
    entries["cmd"] = Command.PLACE
    entries["side"] = [Side.ASK, Side.ASK]
    entries["symbol"] = BTC_USDT
    entries["uid"] = 1
    entries["order_id"] = [11, 12]
    entries["price"] = [82933, 82935]
    entries["size"] = 3
    first = ex.submit_many(from_ring(entries[:1]))
    rest = ex.submit(place(2, BTC_USDT, 99, OrderAction.BID, 82941, 4, order_type=OrderType.IOC))
    second = ex.submit_many(from_ring(entries[1:]))
    assert [r.seq for r in first + [rest] + second] == [ex.seq - 2, ex.seq - 1, ex.seq]
    assert rest.events[-1].trades[0].maker_order_id == 11          # after the reject of the remainder
    assert [l.price for l in ex.order_book(BTC_USDT).asks] == [82935]
