"""Scenarios from exchange-core's documented behaviour (its README, feature files and the
gateway's integration test), with exact balances."""
from __future__ import annotations

from ringgate.sw.exchange import (OrderAction as A, OrderType as T, RejectEvent, TradeEvent, Trade, L2Level,
                         cancel, move, place)

from .conftest import BTC_USDT, ETH_USDT, USDT, XBTC, ETH, balances


def fee_total(ex, cur):
    return {c.currency: c.fees for c in ex.total_balance().currencies}.get(cur, 0)


def test_gateway_scenario_ask_gtc_then_bid_ioc(ex):
    """ASK GTC 3 lots @ 829.33 (uid 1), then BID IOC 4 @ 829.41 (uid 2): one trade of 3 at the maker's
    price, maker completed, taker remainder 1 rejected; maker seller gets (829.33 - 0.03) x 3."""
    u1, u2 = balances(ex, 1), balances(ex, 2)
    assert ex.submit(place(1, BTC_USDT, 101, A.ASK, 82933, 3)).ok
    r = ex.submit(place(2, BTC_USDT, 102, A.BID, 82941, 4, order_type=T.IOC))
    assert r.ok
    reject, trade = r.events                        # exchange-core puts the reject first
    # the bidder hold price of each trade is the taker bid's reserve (= its price here)
    assert trade == TradeEvent(BTC_USDT, 3, 102, 2, A.BID, False, 1000, [Trade(101, 1, True, 82933, 3, 82941)])
    assert reject == RejectEvent(BTC_USDT, 1, 82941, 102, 2, 1000, 82941)
    assert balances(ex, 1) == {**u1, XBTC: u1[XBTC] - 3 * 10**7, USDT: u1[USDT] + (82933 - 3) * 3}
    assert balances(ex, 2) == {**u2, XBTC: u2[XBTC] + 3 * 10**7, USDT: u2[USDT] - (82933 + 8) * 3}
    assert fee_total(ex, USDT) == 3 * (8 + 3)
    book = ex.order_book(BTC_USDT)
    assert book.asks == [] and book.bids == []


def test_full_cycle_partial_fills_fifo_and_price_levels(ex):
    # makers: two at 100 (FIFO: 1 then 2), one at 101
    assert ex.submit(place(1, BTC_USDT, 1, A.ASK, 100, 2)).ok
    assert ex.submit(place(2, BTC_USDT, 2, A.ASK, 100, 3)).ok
    assert ex.submit(place(3, BTC_USDT, 3, A.ASK, 101, 4)).ok
    u4 = balances(ex, 4)
    r = ex.submit(place(4, BTC_USDT, 9, A.BID, 101, 7, reserve_price=105))
    (te,) = r.events
    assert [(t.maker_order_id, t.price, t.volume, t.maker_order_completed) for t in te.trades] == \
        [(1, 100, 2, True), (2, 100, 3, True), (3, 101, 2, False)]
    assert te.total_volume == 7 and te.taker_order_completed
    # taker paid the maker prices + taker fee; the rest of the reserve hold came back
    assert balances(ex, 4)[USDT] == u4[USDT] - (100 * 5 + 101 * 2) - 7 * 8
    assert balances(ex, 4)[XBTC] == u4[XBTC] + 7 * 10**7
    assert ex.order_book(BTC_USDT).asks == [L2Level(101, 2, 1)]
    # a second taker partially fills the rest and its remainder rests as a GTC bid
    r = ex.submit(place(1, BTC_USDT, 10, A.BID, 102, 5))
    (te,) = r.events
    assert te.total_volume == 2 and not te.taker_order_completed and te.trades[0].maker_order_completed
    book = ex.order_book(BTC_USDT)
    assert book.asks == [] and book.bids == [L2Level(102, 3, 1)]
    (o,) = ex.user_report(1).orders
    assert (o.order_id, o.size, o.filled) == (10, 5, 2)
    # a taker ask hitting the resting bid: the maker bid is refunded its unused taker fee minus maker fee
    u1 = balances(ex, 1)
    r = ex.submit(place(2, BTC_USDT, 11, A.ASK, 90, 3))
    assert r.events[0].trades == [Trade(10, 1, True, 102, 3, 102)]     # bidder = the maker bid
    assert balances(ex, 1)[USDT] == u1[USDT] + 3 * (8 - 3)
    assert balances(ex, 1)[XBTC] == u1[XBTC] + 3 * 10**7
    assert fee_total(ex, USDT) == 12 * (8 + 3)


def test_ioc_remainder_is_rejected_and_released(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 100, 2)).ok
    u2 = balances(ex, 2)
    r = ex.submit(place(2, BTC_USDT, 2, A.ASK, 99, 5, order_type=T.IOC))
    rej, te = r.events
    assert te.total_volume == 2 and rej.rejected_volume == 3
    assert balances(ex, 2)[XBTC] == u2[XBTC] - 2 * 10**7
    assert balances(ex, 2)[USDT] == u2[USDT] + 2 * (100 - 8)
    # nothing to match at all: only the reject
    r = ex.submit(place(2, BTC_USDT, 3, A.ASK, 99, 5, order_type=T.IOC))
    assert r.events == [RejectEvent(BTC_USDT, 5, 99, 3, 2, 1000, 99)]      # an ask keeps its reserve too
    assert ex.order_book(BTC_USDT).asks == []


def test_cancel_after_partial_fill_restores_everything_unspent(ex):
    u1 = balances(ex, 1)
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 200, 10, reserve_price=250)).ok
    assert ex.submit(place(2, BTC_USDT, 2, A.ASK, 150, 4)).ok          # maker bid trades at 200
    assert ex.submit(cancel(1, BTC_USDT, 1)).ok
    assert balances(ex, 1)[USDT] == u1[USDT] - 4 * (200 + 3)             # price + maker fee, nothing more
    assert balances(ex, 1)[XBTC] == u1[XBTC] + 4 * 10**7


def test_fok_budget_bid_budget_rule(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.ASK, 100, 2)).ok
    assert ex.submit(place(1, BTC_USDT, 2, A.ASK, 110, 2)).ok
    u2 = balances(ex, 2)
    # 3 lots cost 100*2 + 110 = 310: a budget of 309 is not enough -> everything rejected
    r = ex.submit(place(2, BTC_USDT, 3, A.BID, 309, 3, order_type=T.FOK_BUDGET))
    assert r.events == [RejectEvent(BTC_USDT, 3, 309, 3, 2, 1000, 309)]
    assert balances(ex, 2) == u2
    # 310 is; the sweep has no per-lot price cap
    r = ex.submit(place(2, BTC_USDT, 4, A.BID, 310, 3, order_type=T.FOK_BUDGET))
    (te,) = r.events
    assert [(t.price, t.volume) for t in te.trades] == [(100, 2), (110, 1)] and te.taker_order_completed
    assert balances(ex, 2)[USDT] == u2[USDT] - 310 - 3 * 8
    # more lots than the book holds: rejected whatever the budget
    r = ex.submit(place(2, BTC_USDT, 5, A.BID, 10**6, 2, order_type=T.FOK_BUDGET))
    assert r.events == [RejectEvent(BTC_USDT, 2, 10**6, 5, 2, 1000, 10**6)]


def test_fok_budget_unspent_budget_returned(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.ASK, 100, 2)).ok
    u2 = balances(ex, 2)
    assert ex.submit(place(2, BTC_USDT, 2, A.BID, 500, 2, order_type=T.FOK_BUDGET)).ok
    assert balances(ex, 2)[USDT] == u2[USDT] - 200 - 2 * 8


def test_fok_budget_ask_needs_enough_proceeds(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 100, 1)).ok
    assert ex.submit(place(1, BTC_USDT, 2, A.BID, 90, 5)).ok
    r = ex.submit(place(2, BTC_USDT, 3, A.ASK, 281, 3, order_type=T.FOK_BUDGET))   # 100 + 90 + 90 = 280
    assert isinstance(r.events[0], RejectEvent)
    r = ex.submit(place(2, BTC_USDT, 4, A.ASK, 280, 3, order_type=T.FOK_BUDGET))
    assert r.events[0].total_volume == 3


def test_fok_all_or_nothing_within_limit(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.ASK, 100, 2)).ok
    assert ex.submit(place(1, BTC_USDT, 2, A.ASK, 105, 2)).ok
    u2 = balances(ex, 2)
    r = ex.submit(place(2, BTC_USDT, 3, A.BID, 104, 3, order_type=T.FOK))
    assert r.events == [RejectEvent(BTC_USDT, 3, 104, 3, 2, 1000, 104)] and balances(ex, 2) == u2
    r = ex.submit(place(2, BTC_USDT, 4, A.BID, 105, 3, order_type=T.FOK))
    assert r.events[0].total_volume == 3 and r.events[0].taker_order_completed and len(r.events) == 1


def test_ioc_budget_bid_buys_what_the_budget_pays_for(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.ASK, 100, 2)).ok
    assert ex.submit(place(1, BTC_USDT, 2, A.ASK, 120, 5)).ok
    u2 = balances(ex, 2)
    # 450 buys 2 @ 100 and 2 @ 120 (= 440); the 5th lot would cost 560
    r = ex.submit(place(2, BTC_USDT, 3, A.BID, 450, 10, order_type=T.IOC_BUDGET))
    rej, te = r.events
    assert [(t.price, t.volume) for t in te.trades] == [(100, 2), (120, 2)] and rej.rejected_volume == 6
    assert balances(ex, 2)[USDT] == u2[USDT] - 440 - 4 * 8
    assert balances(ex, 2)[XBTC] == u2[XBTC] + 4 * 10**7


def test_ioc_budget_ask_sells_until_the_target_is_raised(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 100, 2)).ok
    assert ex.submit(place(1, BTC_USDT, 2, A.BID, 90, 5)).ok
    r = ex.submit(place(2, BTC_USDT, 3, A.ASK, 250, 10, order_type=T.IOC_BUDGET))
    rej, te = r.events
    # 2 @ 100 = 200, then ceil(50 / 90) = 1 lot @ 90 -> 290 >= 250
    assert [(t.price, t.volume) for t in te.trades] == [(100, 2), (90, 1)] and rej.rejected_volume == 7


def test_duplicate_order_id_matches_but_does_not_rest(ex):
    assert ex.submit(place(1, BTC_USDT, 7, A.BID, 90, 1)).ok
    assert ex.submit(place(2, BTC_USDT, 1, A.ASK, 100, 1)).ok
    r = ex.submit(place(3, BTC_USDT, 7, A.BID, 100, 3))     # same id as uid 1's resting bid
    rej, te = r.events
    assert te.total_volume == 1 and rej.rejected_volume == 2
    (o,) = ex.user_report(1).orders
    assert (o.order_id, o.price, o.size) == (7, 90, 1)
    assert ex.user_report(3).orders == []


def test_fees_to_maker_and_taker_with_quote_scale(ex):
    u1, u2 = balances(ex, 1), balances(ex, 2)
    assert ex.submit(place(1, ETH_USDT, 1, A.BID, 300, 4)).ok              # holds 4 * (300*10 + 5)
    assert ex.submit(place(2, ETH_USDT, 2, A.ASK, 290, 4)).ok              # taker ask at maker 300
    assert balances(ex, 1)[USDT] == u1[USDT] - 4 * (300 * 10 + 2)          # maker pays price + maker fee
    assert balances(ex, 1)[ETH] == u1[ETH] + 4 * 1000
    assert balances(ex, 2)[USDT] == u2[USDT] + 4 * (300 * 10 - 5)          # taker gets price - taker fee
    assert fee_total(ex, USDT) == 4 * (5 + 2)


def test_self_match_is_allowed(ex):
    u1 = balances(ex, 1)
    assert ex.submit(place(1, BTC_USDT, 1, A.ASK, 100, 2)).ok
    r = ex.submit(place(1, BTC_USDT, 2, A.BID, 100, 2))
    assert r.events[0].trades[0].maker_uid == 1
    assert balances(ex, 1)[USDT] == u1[USDT] - 2 * (8 + 3)                 # only the fees left
    assert balances(ex, 1)[XBTC] == u1[XBTC]


def test_move_keeps_reserve_and_bids_cannot_move_over_it(ex):
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 100, 2)).ok           # reserve defaults to price
    assert ex.submit(move(1, BTC_USDT, 1, 101)).result_code == -3041
    assert ex.submit(move(1, BTC_USDT, 1, 99)).ok
    assert ex.submit(move(1, BTC_USDT, 1, 100)).ok


def test_duplicate_id_is_checked_after_matching(ex):
    """As exchange-core: a resting order with the same id that the new order fills away does not block it."""
    assert ex.submit(place(1, BTC_USDT, 0, A.ASK, 95, 1)).ok
    r = ex.submit(place(1, BTC_USDT, 0, A.BID, 95, 2))
    assert len(r.events) == 1 and r.events[0].trades[0].maker_order_completed
    assert ex.order_book(BTC_USDT).bids == [L2Level(95, 1, 1)]


def test_ask_reserve_price_is_kept_and_reported(ex):
    """exchange-core stores the reserve price as given, for either side; an ask's takes no part in
    its hold (base asset) but is reported and carried as the bidder hold price of nothing."""
    u1 = balances(ex, 1)
    assert ex.submit(place(1, BTC_USDT, 1, A.ASK, 100, 2, reserve_price=140)).ok
    (o,) = ex.user_report(1).orders
    assert (o.price, o.reserve_price) == (100, 140)
    assert balances(ex, 1)[XBTC] == u1[XBTC] - 2 * 10**7                 # the hold is base, as before
    assert ex.submit(move(1, BTC_USDT, 1, 150)).ok                      # an ask's reserve does not cap moves
    r = ex.submit(place(2, BTC_USDT, 2, A.BID, 150, 1, reserve_price=160))
    assert r.events[0].trades[0].bidder_hold_price == 160               # the bidder is the taker
    r = ex.submit(cancel(1, BTC_USDT, 1))
    assert r.events[0].bidder_hold_price == 140 and r.command.side == A.ASK


def test_results_carry_the_orders_side_for_cancel_move_reduce(ex):
    """As exchange-core fills ``cmd.action`` from the order: cancel / move / reduce commands carry
    no side of their own, their results do."""
    from ringgate.sw.exchange import reduce
    assert ex.submit(place(1, BTC_USDT, 1, A.BID, 100, 5, reserve_price=120)).ok
    for cmd in (move(1, BTC_USDT, 1, 101), reduce(1, BTC_USDT, 1, 1), cancel(1, BTC_USDT, 1)):
        assert cmd.side == 0
        r = ex.submit(cmd)
        assert r.ok and r.command.side == A.BID
    r = ex.submit(cancel(1, BTC_USDT, 1))                  # unknown order: nothing to take it from
    assert r.result_code == -3002 and r.command.side == 0
    # reduce / cancel events carry the bid's reserve as the bidder hold price
    assert ex.submit(place(1, BTC_USDT, 2, A.BID, 100, 5, reserve_price=120)).ok
    assert ex.submit(reduce(1, BTC_USDT, 2, 2)).events[0].bidder_hold_price == 120
