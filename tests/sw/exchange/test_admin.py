"""Users, balance adjustments, suspend/resume, assets and symbols."""
from __future__ import annotations

import pytest

from ringgate.sw.exchange import (AddAsset, AddSymbol, AddUser, AdjustBalance, BalanceAdjustmentType, CommandResultCode as C,
                         OrderAction as A, ResumeUser, SuspendUser, SymbolType, UserStatus, cancel, place)

from .conftest import BTC_USDT, FUT, USD, USDT, XBTC, ETH


def test_add_user_twice(ex):
    assert ex.submit(AddUser(100)).ok
    assert ex.submit(AddUser(100)).result_code == C.USER_MGMT_USER_ALREADY_EXISTS
    assert ex.user_report(100).accounts == {}
    assert ex.user_report(12345) is None


def test_adjustment_transaction_ids_strictly_increase(ex):
    assert ex.submit(AddUser(100)).ok
    assert ex.submit(AdjustBalance(100, USDT, 500, 5)).ok
    assert ex.submit(AdjustBalance(100, USDT, 500, 5)).result_code == \
        C.USER_MGMT_ACCOUNT_BALANCE_ADJUSTMENT_ALREADY_APPLIED_SAME
    assert ex.submit(AdjustBalance(100, USDT, 500, 4)).result_code == \
        C.USER_MGMT_ACCOUNT_BALANCE_ADJUSTMENT_ALREADY_APPLIED_MANY
    assert ex.submit(AdjustBalance(100, USDT, 500, 9)).ok
    assert ex.user_report(100).accounts == {USDT: 1000}


def test_withdrawal_nsf(ex):
    assert ex.submit(AddUser(100)).ok
    assert ex.submit(AdjustBalance(100, USDT, 500, 1)).ok
    assert ex.submit(AdjustBalance(100, USDT, -501, 2)).result_code == C.USER_MGMT_ACCOUNT_BALANCE_ADJUSTMENT_NSF
    assert ex.submit(AdjustBalance(100, USDT, -500, 3)).ok     # a failed one does not consume its id... nor block the next
    assert ex.user_report(100).accounts == {USDT: 0}


def test_withdrawal_cannot_touch_held_funds(ex):
    assert ex.submit(AddUser(100)).ok
    assert ex.submit(AdjustBalance(100, USDT, 1000, 1)).ok
    assert ex.submit(place(100, BTC_USDT, 1, A.BID, 492, 2)).ok          # holds 2*(492+8) = 1000
    assert ex.submit(AdjustBalance(100, USDT, -1, 2)).result_code == C.USER_MGMT_ACCOUNT_BALANCE_ADJUSTMENT_NSF


def test_adjustment_unknown_user_and_currency(ex):
    assert ex.submit(AdjustBalance(777, USDT, 1, 1)).result_code == C.AUTH_INVALID_USER
    assert ex.submit(AdjustBalance(1, 99, 1, 100)).result_code == C.UNKNOWN_ASSET


def test_adjustments_and_suspends_are_separate_totals(ex):
    assert ex.submit(AddUser(100)).ok
    assert ex.submit(AdjustBalance(100, USD, 700, 1)).ok
    assert ex.submit(AdjustBalance(100, USD, -700, 2, BalanceAdjustmentType.SUSPEND)).ok
    row = {c.currency: c for c in ex.total_balance().currencies}[USD]
    assert row.suspends == 700 and row.adjustments == -(4 * 10**6 + 700)


def test_suspend_rules_and_resume(ex):
    assert ex.submit(SuspendUser(555)).result_code == C.USER_MGMT_USER_NOT_FOUND
    assert ex.submit(AddUser(100)).ok
    assert ex.submit(AdjustBalance(100, XBTC, 10**7, 1)).ok
    assert ex.submit(SuspendUser(100)).result_code == C.USER_MGMT_USER_NOT_SUSPENDABLE_NON_EMPTY_ACCOUNTS
    # an open order holds the whole balance: free balance is 0 but the user is still not suspendable
    assert ex.submit(place(100, BTC_USDT, 1, A.ASK, 500, 1)).ok
    assert ex.user_report(100).accounts == {XBTC: 0}
    assert ex.submit(SuspendUser(100)).result_code == C.USER_MGMT_USER_NOT_SUSPENDABLE_NON_EMPTY_ACCOUNTS
    assert ex.submit(cancel(100, BTC_USDT, 1)).ok
    assert ex.submit(AdjustBalance(100, XBTC, -10**7, 2)).ok
    assert ex.submit(ResumeUser(100)).result_code == C.USER_MGMT_USER_NOT_SUSPENDED
    assert ex.submit(SuspendUser(100)).ok
    assert ex.user_report(100).status == UserStatus.SUSPENDED
    assert ex.submit(SuspendUser(100)).result_code == C.USER_MGMT_USER_ALREADY_SUSPENDED
    assert ex.submit(AdjustBalance(100, XBTC, 5, 3)).result_code == C.AUTH_INVALID_USER
    assert ex.submit(ResumeUser(100)).ok
    assert ex.user_report(100).status == UserStatus.ACTIVE
    # the transaction-id counter survived the suspension: old ids cannot be replayed
    assert ex.submit(AdjustBalance(100, XBTC, 5, 2)).result_code == \
        C.USER_MGMT_ACCOUNT_BALANCE_ADJUSTMENT_ALREADY_APPLIED_SAME


def test_suspend_with_position_refused(ex):
    assert ex.submit(place(1, FUT, 1, A.ASK, 1000, 1)).ok
    assert ex.submit(place(2, FUT, 2, A.BID, 1000, 1)).ok
    assert ex.submit(AdjustBalance(2, XBTC, -10 * 10**8, 10)).ok
    assert ex.submit(AdjustBalance(2, USDT, -10**8, 11)).ok
    assert ex.submit(AdjustBalance(2, ETH, -10**9, 12)).ok
    usd = ex.user_report(2).accounts[USD]
    assert ex.submit(AdjustBalance(2, USD, -usd, 13)).ok
    assert ex.submit(SuspendUser(2)).result_code == C.USER_MGMT_USER_NOT_SUSPENDABLE_HAS_POSITIONS


def test_resume_unknown_user_creates_it(ex):
    assert ex.submit(ResumeUser(4242)).ok
    assert ex.user_report(4242).status == UserStatus.ACTIVE


def test_assets(ex):
    assert ex.submit(AddAsset(XBTC, "XBTC", 8)).result_code == C.ASSET_ALREADY_EXISTS
    assert ex.submit(AddAsset(50, "BAD", 19)).result_code == C.INVALID_SYMBOL_SPECIFICATION
    assert ex.submit(AddAsset(50, "OK", 0)).ok


@pytest.mark.parametrize("spec, code", [
    (AddSymbol(BTC_USDT, 0, XBTC, USDT, 1, 1), C.SYMBOL_MGMT_SYMBOL_ALREADY_EXISTS),
    (AddSymbol(50, SymbolType.OPTION, XBTC, USDT, 1, 1), C.UNSUPPORTED_SYMBOL_TYPE),
    (AddSymbol(50, 0, 99, USDT, 1, 1), C.UNKNOWN_ASSET),
    (AddSymbol(50, 0, XBTC, 99, 1, 1), C.UNKNOWN_ASSET),
    (AddSymbol(50, 0, XBTC, USDT, 0, 1), C.INVALID_SYMBOL_SPECIFICATION),
    (AddSymbol(50, 0, XBTC, USDT, 1, 0), C.INVALID_SYMBOL_SPECIFICATION),
    (AddSymbol(50, 0, XBTC, USDT, 1, 1, 2, 3), C.INVALID_SYMBOL_SPECIFICATION),        # taker < maker
    (AddSymbol(50, 0, XBTC, USDT, 1, 1, 2, -1), C.INVALID_SYMBOL_SPECIFICATION),
    (AddSymbol(50, 0, XBTC, USDT, 1, 1, 0, 0, 5, 5), C.INVALID_SYMBOL_SPECIFICATION),  # margin on a pair
    (AddSymbol(50, 0, XBTC, XBTC, 1, 1), C.INVALID_SYMBOL_SPECIFICATION),
    (AddSymbol(50, 1, XBTC, USD, 1, 1, 0, 0, 0, 5), C.INVALID_SYMBOL_SPECIFICATION),   # futures without margin
    (AddSymbol(50, 1, XBTC, USD, 1, 1, 0, 0, 5, 5), C.SUCCESS),
])
def test_add_symbol_validation(ex, spec, code):
    assert ex.submit(spec).result_code == code


def test_unknown_adjustment_type(ex):
    r = ex.submit(AdjustBalance(1, USDT, 5, 100, adjustment_type=7))
    assert r.result_code == C.MATCHING_UNSUPPORTED_COMMAND
    assert ex.submit(AdjustBalance(1, USDT, 5, 100)).ok        # the id was not consumed


def test_unknown_command_type_is_unsupported():
    from ringgate.sw.exchange import Engine
    assert Engine().apply(1, 0, "not a command").result_code == C.MATCHING_UNSUPPORTED_COMMAND


def test_settlement_never_takes_a_balance_past_64_bits():
    """A seller holding 2**63 - 1 USDT sells 1 lot @ 100: the proceeds would take it past a 64-bit
    long (and every later adjustment would fail). The supply cap refuses the deposit that would
    have paid for it, the same way an over-large deposit is refused; withdrawals still work."""
    from ringgate.sw.exchange import Exchange
    from .conftest import setup_commands
    ex = Exchange.in_memory(clock=lambda: 1000)
    ex.submit_many(setup_commands() + [AddUser(1), AddUser(2)])
    top = 2**63 - 1
    assert ex.submit(AdjustBalance(1, USDT, top, 1)).ok
    assert ex.submit(AdjustBalance(1, XBTC, 10**8, 2)).ok
    assert ex.submit(AdjustBalance(2, USDT, 1000, 1)).result_code == C.INVALID_AMOUNT
    assert ex.submit(place(1, BTC_USDT, 1, A.ASK, 100, 1)).ok
    assert ex.submit(place(2, BTC_USDT, 2, A.BID, 100, 1)).result_code == C.RISK_NSF   # nothing to pay with
    assert all(v <= top for u in (1, 2) for v in ex.user_report(u).accounts.values())
    assert ex.submit(AdjustBalance(1, USDT, -1000, 3)).ok             # the account is not stuck
    assert ex.submit(AdjustBalance(2, USDT, 1000, 2)).ok              # and the room is usable again
    r = ex.submit(place(2, BTC_USDT, 2, A.BID, 100, 1))
    assert r.ok and r.events[0].total_volume == 1
    assert ex.user_report(1).accounts[USDT] == top - 1000 + 100 - 3
    assert ex.total_balance().balanced
