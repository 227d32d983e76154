"""Shared fixtures: the gateway test's XBTC/USDT pair, a pair with quote_scale_k > 1, a futures
contract, and funded users. Every test's exchange is checked afterwards for the invariants that
must hold after any command: conservation, an uncrossed book, consistent levels."""
from __future__ import annotations

import pytest

from ringgate.sw.exchange import (AddAsset, AddSymbol, AddUser, AdjustBalance, Exchange, SymbolType)

XBTC, USDT, ETH, USD = 1, 2, 3, 4
BTC_USDT = 10       # lot 0.1 XBTC (baseScaleK 10^7), step 0.01 USDT, taker 0.08, maker 0.03
ETH_USDT = 11       # lot 0.001 ETH, step 0.10 USDT (quoteScaleK 10), taker 5, maker 2
FUT = 20            # futures in USD, margin 2000/1900 per lot, fees 10/5
UIDS = (1, 2, 3, 4)


def setup_commands():
    return [
        AddAsset(XBTC, "XBTC", 8), AddAsset(USDT, "USDT", 2), AddAsset(ETH, "ETH", 6), AddAsset(USD, "USD", 2),
        AddSymbol(BTC_USDT, SymbolType.CURRENCY_EXCHANGE_PAIR, XBTC, USDT, 10**7, 1, 8, 3),
        AddSymbol(ETH_USDT, SymbolType.CURRENCY_EXCHANGE_PAIR, ETH, USDT, 1000, 10, 5, 2),
        AddSymbol(FUT, SymbolType.FUTURES_CONTRACT, XBTC, USD, 1, 1, 10, 5, 2000, 1900),
    ]


def fund_commands(uids=UIDS):
    out = []
    for uid in uids:
        out += [AddUser(uid), AdjustBalance(uid, XBTC, 10 * 10**8, 1), AdjustBalance(uid, USDT, 10**8, 2),
                AdjustBalance(uid, ETH, 10**9, 3), AdjustBalance(uid, USD, 10**6, 4)]
    return out


def check_invariants(ex: Exchange) -> None:
    assert ex.total_balance().balanced, ex.total_balance()
    for sym, book in ex.engine.books.items():
        bb, ba = book.best_bid(), book.best_ask()
        assert bb is None or ba is None or bb < ba, f"book {sym} crossed: bid {bb} ask {ba}"
        n = 0
        for action in (0, 1):
            keys = book.bid_keys if action else book.ask_keys
            side = book.bids if action else book.asks
            assert keys == sorted(keys) and len(set(keys)) == len(keys)
            assert sorted(abs(k) for k in keys) == sorted(side)
            empty = [p for p, lvl in side.items() if lvl.count == 0]
            assert all(side[p].head is None and side[p].volume == 0 for p in empty)
            assert book.dormant[action] == len(empty)
            assert not keys or side[abs(keys[-1])].count > 0, "best level is dormant"
            for lvl in book.levels(action):
                vol = cnt = 0
                o = lvl.head
                while o is not None:
                    rem = o.size - o.filled
                    assert rem > 0 and o.price == lvl.price and o.action == action
                    assert book.orders[o.order_id] is o
                    vol += rem
                    cnt += 1
                    o = o.next
                assert (vol, cnt) == (lvl.volume, lvl.count) and cnt > 0
                n += cnt
        assert n == len(book.orders)
    for uid, u in ex.engine.users.items():
        for o, sym in u.orders.items():
            assert ex.engine.books[sym].orders.get(o.order_id) is o
        for cur in (XBTC, USDT, ETH):
            assert u.accounts.get(cur, 0) >= 0


@pytest.fixture
def ex():
    e = Exchange.in_memory(clock=lambda: 1_000)
    for r in e.submit_many(setup_commands() + fund_commands()):
        assert r.ok, r
    yield e
    check_invariants(e)


def balances(ex, uid):
    return dict(ex.user_report(uid).accounts)
