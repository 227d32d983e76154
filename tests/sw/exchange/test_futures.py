"""Futures: margin checks (with unrealized PnL), positions, realized profit, fees on opened lots."""
from __future__ import annotations

from ringgate.sw.exchange import (AddUser, AdjustBalance, CommandResultCode as C, OrderAction as A, PositionDirection as D,
                         cancel, place)

from .conftest import FUT, USD


def usd(ex, uid):
    return ex.user_report(uid).accounts.get(USD, 0)


def positions(ex, uid):
    return {p.symbol: p for p in ex.user_report(uid).positions}


def fund(ex, uid, amount):
    assert ex.submit(AddUser(uid)).ok
    assert ex.submit(AdjustBalance(uid, USD, amount, 1)).ok


def test_margin_limits_exposure_and_reducing_orders_always_pass(ex):
    fund(ex, 100, 5000)
    assert ex.submit(place(100, FUT, 1, A.BID, 1000, 2)).ok                 # 2 x 2000 margin
    assert ex.submit(place(100, FUT, 2, A.BID, 1000, 1)).result_code == C.RISK_NSF
    assert ex.submit(place(100, FUT, 3, A.ASK, 5000, 2)).ok                 # does not raise the requirement
    assert ex.submit(place(100, FUT, 4, A.ASK, 5000, 1)).result_code == C.RISK_NSF   # 3 x 1900 > 5000
    assert ex.submit(cancel(100, FUT, 1)).ok
    assert ex.submit(cancel(100, FUT, 3)).ok
    assert positions(ex, 100) == {}                                         # empty record dropped


def test_open_and_close_realizes_profit_and_charges_fees_on_opened_lots(ex):
    u1, u2 = usd(ex, 1), usd(ex, 2)
    assert ex.submit(place(1, FUT, 1, A.ASK, 1000, 2)).ok
    assert ex.submit(place(2, FUT, 2, A.BID, 1000, 2)).ok
    p2, p1 = positions(ex, 2)[FUT], positions(ex, 1)[FUT]
    assert (p2.direction, p2.open_volume, p2.open_price_sum) == (D.LONG, 2, 2000)
    assert (p1.direction, p1.open_volume) == (D.SHORT, 2)
    assert usd(ex, 2) == u2 - 2 * 10 and usd(ex, 1) == u1 - 2 * 5
    assert ex.total_balance().balanced
    assert ex.submit(place(1, FUT, 3, A.BID, 1100, 2)).ok
    assert ex.submit(place(2, FUT, 4, A.ASK, 1100, 2)).ok                  # closing: no fee
    assert positions(ex, 1) == {} and positions(ex, 2) == {}
    assert usd(ex, 2) == u2 - 20 + 200
    assert usd(ex, 1) == u1 - 10 - 200


def test_partial_close_keeps_profit_in_the_basis_until_flat(ex):
    u2 = usd(ex, 2)
    assert ex.submit(place(1, FUT, 1, A.ASK, 1000, 3)).ok
    assert ex.submit(place(2, FUT, 2, A.BID, 1000, 3)).ok
    assert ex.submit(place(1, FUT, 3, A.BID, 1200, 1)).ok
    assert ex.submit(place(2, FUT, 4, A.ASK, 1200, 1)).ok
    p = positions(ex, 2)[FUT]
    assert (p.open_volume, p.open_price_sum, p.profit) == (2, 3000 - 1200, 0)
    assert ex.submit(place(1, FUT, 5, A.BID, 1000, 2)).ok
    assert ex.submit(place(2, FUT, 6, A.ASK, 1000, 2)).ok
    assert positions(ex, 2) == {}
    assert usd(ex, 2) == u2 - 3 * 10 + 200


def test_flip_charges_fee_only_on_the_new_side(ex):
    u2 = usd(ex, 2)
    assert ex.submit(place(1, FUT, 1, A.ASK, 1000, 2)).ok
    assert ex.submit(place(2, FUT, 2, A.BID, 1000, 2)).ok
    assert ex.submit(place(1, FUT, 3, A.BID, 1000, 3)).ok
    assert ex.submit(place(2, FUT, 4, A.ASK, 1000, 3)).ok                  # closes 2, opens short 1
    p = positions(ex, 2)[FUT]
    assert (p.direction, p.open_volume, p.open_price_sum) == (D.SHORT, 1, 1000)
    assert usd(ex, 2) == u2 - 2 * 10 - 1 * 10


def test_unrealized_loss_reduces_free_margin(ex):
    fund(ex, 100, 7000)
    assert ex.submit(place(1, FUT, 1, A.ASK, 1000, 2)).ok
    assert ex.submit(place(100, FUT, 2, A.BID, 1000, 2)).ok               # long 2 @ 1000, fee 20 -> 6980
    assert ex.submit(place(3, FUT, 3, A.BID, 500, 1)).ok                  # best bid 500: PnL -1000
    # one more lot needs 3 x 2000 = 6000 <= 6980, but 6980 - 1000 does not cover it
    assert ex.submit(place(100, FUT, 4, A.BID, 400, 1)).result_code == C.RISK_NSF
    assert ex.submit(cancel(3, FUT, 3)).ok
    assert ex.submit(place(3, FUT, 5, A.BID, 990, 1)).ok                  # PnL -20
    assert ex.submit(place(100, FUT, 6, A.BID, 400, 1)).ok


def test_open_interest_and_conservation(ex):
    assert ex.submit(place(1, FUT, 1, A.ASK, 1000, 5)).ok
    assert ex.submit(place(2, FUT, 2, A.BID, 1010, 3)).ok
    rep = ex.total_balance()
    row = {c.currency: c for c in rep.currencies}[USD]
    assert row.fees == 3 * (10 + 5) and row.total == 0
    # per symbol, as exchange-core: a second contract in the same currency is counted apart
    assert [(o.symbol, o.long, o.short) for o in rep.open_interest] == [(FUT, 3, 3)]
    from ringgate.sw.exchange import AddSymbol, SymbolType
    from .conftest import XBTC
    assert ex.submit(AddSymbol(21, SymbolType.FUTURES_CONTRACT, XBTC, USD, 1, 1, 10, 5, 2000, 1900)).ok
    assert ex.submit(place(1, 21, 3, A.ASK, 1000, 2)).ok
    assert ex.submit(place(3, 21, 4, A.BID, 1000, 2)).ok
    assert [(o.symbol, o.long, o.short) for o in ex.total_balance().open_interest] == [(FUT, 3, 3), (21, 2, 2)]


def test_other_positions_in_the_same_currency_use_up_free_margin(ex):
    from ringgate.sw.exchange import AddSymbol, SymbolType
    from .conftest import XBTC
    assert ex.submit(AddSymbol(21, SymbolType.FUTURES_CONTRACT, XBTC, USD, 1, 1, 10, 5, 2000, 1900)).ok
    fund(ex, 100, 10000)
    assert ex.submit(place(1, FUT, 1, A.ASK, 1000, 2)).ok
    assert ex.submit(place(100, FUT, 2, A.BID, 1000, 2)).ok             # long 2: margin 4000, fee 20
    assert ex.submit(place(3, FUT, 3, A.BID, 500, 1)).ok                # PnL -1000 on FUT
    # free for symbol 21 = 9980 - 1000 (PnL) - 4000 (FUT margin) = 4980
    assert ex.submit(place(100, 21, 4, A.BID, 1000, 3)).result_code == C.RISK_NSF     # needs 6000
    assert ex.submit(place(100, 21, 5, A.BID, 1000, 2)).ok                             # needs 4000
    # and the FUT position now sees symbol 21's requirement: one more FUT lot needs 6000 > 9980-1000-4000
    assert ex.submit(place(100, FUT, 6, A.BID, 400, 1)).result_code == C.RISK_NSF
