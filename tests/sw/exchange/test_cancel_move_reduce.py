"""CANCEL, MOVE, REDUCE and ORDER_BOOK_REQUEST."""
from __future__ import annotations

from ringgate.sw.exchange import (CommandResultCode as C, OrderAction as A, OrderBookRequest, L2Level, ReduceEvent,
                         TradeEvent, cancel, move, place, reduce)

from .conftest import BTC_USDT, ETH_USDT, USDT, XBTC, balances


def queue(ex, symbol, action):
    return [o.order_id for o in ex.engine.books[symbol].iter_orders(action)]


def test_cancel_releases_the_hold_and_emits_reduce(ex):
    before = balances(ex, 1)
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 500, 4, reserve_price=600)).ok
    r = ex.submit(cancel(1, BTC_USDT, 1))
    assert r.ok and r.events == [ReduceEvent(BTC_USDT, 4, True, 500, 1, 1, 1000, 600)]
    assert balances(ex, 1) == before and ex.user_report(1).orders == []


def test_cancel_partially_filled_ask_releases_only_the_rest(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.ASK, 500, 4)).ok
    assert ex.submit(place(2, BTC_USDT, 2, A.BID, 500, 1)).ok
    x = balances(ex, 1)[XBTC]
    r = ex.submit(cancel(1, BTC_USDT, 1))
    assert r.events[0].reduced_volume == 3
    assert balances(ex, 1)[XBTC] == x + 3 * 10**7


def test_cancel_errors(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 500, 4)).ok
    assert ex.submit(cancel(2, BTC_USDT, 1)).result_code == C.MATCHING_UNKNOWN_ORDER_ID   # not the owner
    assert ex.submit(cancel(1, BTC_USDT, 2)).result_code == C.MATCHING_UNKNOWN_ORDER_ID
    assert ex.submit(cancel(1, 999, 1)).result_code == C.MATCHING_INVALID_ORDER_BOOK_ID
    assert ex.submit(cancel(1, BTC_USDT, 1)).ok
    assert ex.submit(cancel(1, BTC_USDT, 1)).result_code == C.MATCHING_UNKNOWN_ORDER_ID


def test_move_loses_time_priority_even_at_same_price(ex):
    for oid in (1, 2, 3):
        assert ex.submit(place(1, BTC_USDT, oid, A.ASK, 500, 1)).ok
    assert ex.submit(move(1, BTC_USDT, 1, 500)).ok
    assert queue(ex, BTC_USDT, A.ASK) == [2, 3, 1]


def test_move_changes_level_and_keeps_hold(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 500, 2, reserve_price=700)).ok
    before = balances(ex, 1)
    r = ex.submit(move(1, BTC_USDT, 1, 650))
    assert r.ok and r.events == []
    assert balances(ex, 1) == before
    assert ex.order_book(BTC_USDT).bids == [L2Level(650, 2, 1)]


def test_move_bid_above_reserve_is_refused_and_changes_nothing(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 500, 2, reserve_price=600)).ok
    assert ex.submit(move(1, BTC_USDT, 1, 601)).result_code == C.MATCHING_MOVE_FAILED_PRICE_OVER_RISK_LIMIT
    assert ex.order_book(BTC_USDT).bids == [L2Level(500, 2, 1)]
    assert ex.submit(move(1, BTC_USDT, 1, 600)).ok


def test_move_ask_below_taker_fee_is_refused(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.ASK, 500, 2)).ok
    assert ex.submit(move(1, BTC_USDT, 1, 7)).result_code == C.MATCHING_MOVE_FAILED_PRICE_OVER_RISK_LIMIT
    assert ex.submit(move(1, BTC_USDT, 1, -1)).result_code == C.MATCHING_MOVE_FAILED_PRICE_OVER_RISK_LIMIT


def test_move_errors(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.ASK, 500, 2)).ok
    assert ex.submit(move(2, BTC_USDT, 1, 400)).result_code == C.MATCHING_UNKNOWN_ORDER_ID
    assert ex.submit(move(1, BTC_USDT, 9, 400)).result_code == C.MATCHING_UNKNOWN_ORDER_ID
    assert ex.submit(move(1, 999, 1, 400)).result_code == C.MATCHING_INVALID_ORDER_BOOK_ID


def test_move_that_crosses_trades_as_taker_then_rests(ex):
    assert ex.submit(place(2, BTC_USDT, 10, A.ASK, 510, 1)).ok
    assert ex.submit(place(2, BTC_USDT, 11, A.ASK, 520, 5)).ok
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 500, 3, reserve_price=530)).ok
    u1 = balances(ex, 1)
    r = ex.submit(move(1, BTC_USDT, 1, 515))
    assert r.ok
    (te,) = r.events
    assert isinstance(te, TradeEvent)
    assert (te.taker_order_id, te.taker_uid, te.total_volume, te.taker_order_completed) == (1, 1, 1, False)
    assert [(t.maker_order_id, t.price, t.volume, t.maker_order_completed) for t in te.trades] == [(10, 510, 1, True)]
    # the taker's hold was at reserve 530: one lot bought at 510 returns the difference
    assert balances(ex, 1)[USDT] == u1[USDT] + (530 - 510)
    assert balances(ex, 1)[XBTC] == u1[XBTC] + 10**7
    book = ex.order_book(BTC_USDT)
    assert book.bids == [L2Level(515, 2, 1)] and book.asks == [L2Level(520, 5, 1)]
    r = ex.submit(move(1, BTC_USDT, 1, 525))
    assert r.events[0].taker_order_completed and ex.user_report(1).orders == []


def test_reduce_keeps_priority(ex):
    for oid in (1, 2):
        assert ex.submit(place(1, BTC_USDT, oid, A.ASK, 500, 5)).ok
    x = balances(ex, 1)[XBTC]
    r = ex.submit(reduce(1, BTC_USDT, 1, 2))
    assert r.events == [ReduceEvent(BTC_USDT, 2, False, 500, 1, 1, 1000, 500)]
    assert queue(ex, BTC_USDT, A.ASK) == [1, 2]
    assert ex.order_book(BTC_USDT).asks == [L2Level(500, 8, 2)]
    assert balances(ex, 1)[XBTC] == x + 2 * 10**7


def test_reduce_by_more_than_remaining_removes_the_order(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 500, 5)).ok
    assert ex.submit(place(2, BTC_USDT, 2, A.ASK, 500, 2)).ok
    r = ex.submit(reduce(1, BTC_USDT, 1, 100))
    assert r.events == [ReduceEvent(BTC_USDT, 3, True, 500, 1, 1, 1000, 500)]
    assert ex.order_book(BTC_USDT).bids == []


def test_reduce_errors(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 500, 5)).ok
    assert ex.submit(reduce(1, BTC_USDT, 1, 0)).result_code == C.MATCHING_REDUCE_FAILED_WRONG_SIZE
    assert ex.submit(reduce(1, BTC_USDT, 1, -1)).result_code == C.MATCHING_REDUCE_FAILED_WRONG_SIZE
    assert ex.submit(reduce(2, BTC_USDT, 1, 1)).result_code == C.MATCHING_UNKNOWN_ORDER_ID
    assert ex.submit(reduce(1, 999, 1, 1)).result_code == C.MATCHING_INVALID_ORDER_BOOK_ID


def test_order_book_request_levels_volumes_counts_and_depth(ex):
    for oid, (side, price, size) in enumerate([(A.ASK, 510, 1), (A.ASK, 510, 2), (A.ASK, 530, 4),
                                               (A.ASK, 520, 1), (A.BID, 490, 3), (A.BID, 495, 1)]):
        assert ex.submit(place(1 + oid % 2, BTC_USDT, oid, side, price, size)).ok
    r = ex.submit(OrderBookRequest(BTC_USDT, -1))
    (book,) = r.events
    assert book.asks == [L2Level(510, 3, 2), L2Level(520, 1, 1), L2Level(530, 4, 1)]
    assert book.bids == [L2Level(495, 1, 1), L2Level(490, 3, 1)]
    assert book.seq == r.seq
    (book,) = ex.submit(OrderBookRequest(BTC_USDT, 1)).events
    assert len(book.asks) == len(book.bids) == 1
    assert ex.submit(OrderBookRequest(999)).result_code == C.MATCHING_INVALID_ORDER_BOOK_ID
    assert ex.order_book(999) is None
    assert ex.order_book(ETH_USDT).asks == []
