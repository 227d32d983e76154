"""PLACE_ORDER: every result code, holds, and what a failed place leaves behind (nothing)."""
from __future__ import annotations

import pytest

from ringgate.sw.exchange import (CommandResultCode as C, OrderAction as A, OrderCommand, OrderType as T,
                         RejectEvent, SuspendUser, AddUser, place)

from .conftest import BTC_USDT, ETH_USDT, FUT, USDT, XBTC, balances


def test_gtc_bid_rests_and_holds_reserve_plus_taker_fee(ex):
    before = balances(ex, 1)
    r = ex.submit(place(1, BTC_USDT, 7, A.BID, 82933, 3, reserve_price=83000, user_cookie=42))
    assert r.result_code == C.SUCCESS and r.events == []
    rep = ex.user_report(1)
    assert rep.accounts[USDT] == before[USDT] - 3 * (83000 + 8)
    assert rep.held == {USDT: 3 * (83000 + 8)}
    (o,) = rep.orders
    assert (o.order_id, o.price, o.reserve_price, o.size, o.filled, o.user_cookie, o.order_type) == \
        (7, 82933, 83000, 3, 0, 42, T.GTC)


def test_gtc_ask_holds_base_lots(ex):
    before = balances(ex, 1)
    assert ex.submit(place(1, BTC_USDT, 7, A.ASK, 82933, 3)).ok
    assert balances(ex, 1)[XBTC] == before[XBTC] - 3 * 10**7
    assert ex.user_report(1).held == {XBTC: 3 * 10**7}


def test_quote_scale_applies_to_bid_hold(ex):
    before = balances(ex, 1)
    assert ex.submit(place(1, ETH_USDT, 1, A.BID, 250, 4)).ok
    assert balances(ex, 1)[USDT] == before[USDT] - 4 * (250 * 10 + 5)


@pytest.mark.parametrize("uid", [99])
def test_unknown_user(ex, uid):
    assert ex.submit(place(uid, BTC_USDT, 1, A.BID, 10, 1)).result_code == C.AUTH_INVALID_USER


def test_suspended_user_cannot_place(ex):
    assert ex.submit(AddUser(50)).ok
    assert ex.submit(SuspendUser(50)).ok
    assert ex.submit(place(50, BTC_USDT, 1, A.ASK, 10, 1)).result_code == C.AUTH_INVALID_USER


def test_unknown_symbol(ex):
    assert ex.submit(place(1, 999, 1, A.BID, 10, 1)).result_code == C.INVALID_SYMBOL


@pytest.mark.parametrize("size", [0, -3])
def test_size_must_be_positive(ex, size):
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 10, size)).result_code == C.INVALID_ORDER_SIZE


def test_negative_price_and_empty_budget(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, -1, 1)).result_code == C.INVALID_ORDER_PRICE
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 0, 1, order_type=T.FOK_BUDGET)).result_code == C.INVALID_ORDER_PRICE


@pytest.mark.parametrize("cmd", [
    OrderCommand(1, 2, 0, BTC_USDT, 1, 1, 10, 10, 1),     # side 2
    OrderCommand(1, 1, 5, BTC_USDT, 1, 1, 10, 10, 1),     # order type 5
    OrderCommand(5, 1, 0, BTC_USDT, 1, 1, 10, 10, 1),     # command 5
])
def test_unsupported(ex, cmd):
    assert ex.submit(cmd).result_code == C.MATCHING_UNSUPPORTED_COMMAND


def test_bid_reserve_below_price(ex):
    r = ex.submit(place(1, BTC_USDT, 1, A.BID, 100, 1, reserve_price=99))
    assert r.result_code == C.RISK_INVALID_RESERVE_BID_PRICE


def test_budget_bid_reserve_must_equal_budget(ex):
    r = ex.submit(place(1, BTC_USDT, 1, A.BID, 1000, 1, order_type=T.FOK_BUDGET, reserve_price=1001))
    assert r.result_code == C.RISK_INVALID_RESERVE_BID_PRICE


def test_ask_below_taker_fee(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.ASK, 7, 1)).result_code == C.RISK_ASK_PRICE_LOWER_THAN_FEE
    assert ex.submit(place(1, BTC_USDT, 1, A.ASK, 8, 1)).ok


def test_nsf_changes_nothing(ex):
    before = ex.user_report(1)
    # 10**8 cents of USDT: 2 lots at 5*10**7 + fee is just too much
    r = ex.submit(place(1, BTC_USDT, 1, A.BID, 5 * 10**7, 2))
    assert r.result_code == C.RISK_NSF and r.events == []
    assert ex.user_report(1) == before
    assert ex.order_book(BTC_USDT).bids == []
    r = ex.submit(place(1, BTC_USDT, 2, A.ASK, 100, 101))      # 10 XBTC = 100 lots
    assert r.result_code == C.RISK_NSF
    assert ex.submit(place(1, BTC_USDT, 2, A.ASK, 100, 100)).ok


def test_exact_balance_is_enough(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 10**8 - 8, 1)).ok
    assert balances(ex, 1)[USDT] == 0


def test_gtc_duplicate_order_id_rests_once(ex):
    assert ex.submit(place(1, BTC_USDT, 5, A.BID, 100, 2)).ok
    before = balances(ex, 2)
    r = ex.submit(place(2, BTC_USDT, 5, A.BID, 101, 3))
    assert r.ok and r.events == [RejectEvent(BTC_USDT, 3, 101, 5, 2, 1000, 101)]
    assert balances(ex, 2) == before                       # hold taken and given back
    assert [(l.price, l.volume) for l in ex.order_book(BTC_USDT).bids] == [(100, 2)]


def test_order_ids_are_per_symbol(ex):
    assert ex.submit(place(1, BTC_USDT, 5, A.BID, 100, 2)).ok
    assert ex.submit(place(1, ETH_USDT, 5, A.BID, 100, 2)).ok
    assert len(ex.user_report(1).orders) == 2


def test_futures_place_is_margin_checked_not_held(ex):
    before = balances(ex, 1)
    assert ex.submit(place(1, FUT, 1, A.BID, 50000, 3)).ok
    assert balances(ex, 1) == before                       # margin is a check, not a hold
    (p,) = ex.user_report(1).positions
    assert (p.pending_buy_size, p.pending_sell_size, p.open_volume) == (3, 0, 0)
