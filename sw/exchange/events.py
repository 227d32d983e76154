"""What the engine hands back: one CommandResult per sequenced command, carrying
its events in exchange-core's order (trade, then reject; or a single reduce; or
the order book for an ORDER_BOOK_REQUEST), plus the report structures."""
from __future__ import annotations

from typing import Any, Union

import msgspec

__all__ = ["Trade", "TradeEvent", "RejectEvent", "ReduceEvent", "L2Level", "L2Book",
           "CommandResult", "Event", "OrderRecord", "PositionRecord", "UserReport",
           "CurrencyTotals", "TotalBalanceReport"]


class Trade(msgspec.Struct, gc=False):
    """One maker fill inside a TradeEvent; ``price`` is the maker's price."""
    maker_order_id: int
    maker_uid: int
    maker_order_completed: bool
    price: int
    volume: int


class TradeEvent(msgspec.Struct, tag="trade"):
    symbol: int
    total_volume: int
    taker_order_id: int
    taker_uid: int
    taker_action: int
    taker_order_completed: bool
    timestamp: int
    trades: list[Trade]


class RejectEvent(msgspec.Struct, tag="reject", gc=False):
    """Unfilled remainder of an IOC/FOK/budget order, or of a GTC whose order id is already resting."""
    symbol: int
    rejected_volume: int
    price: int
    order_id: int
    uid: int
    timestamp: int


class ReduceEvent(msgspec.Struct, tag="reduce", gc=False):
    """From CANCEL (completed=True, volume = whole remainder) or REDUCE."""
    symbol: int
    reduced_volume: int
    order_completed: bool
    price: int
    order_id: int
    uid: int
    timestamp: int


class L2Level(msgspec.Struct, gc=False):
    price: int
    volume: int
    orders: int


class L2Book(msgspec.Struct, tag="orderbook"):
    """Asks best (lowest) first, bids best (highest) first; ``seq`` = last applied command."""
    symbol: int
    seq: int
    asks: list[L2Level]
    bids: list[L2Level]


Event = Union[TradeEvent, RejectEvent, ReduceEvent, L2Book]


class CommandResult(msgspec.Struct, gc=False):
    seq: int
    timestamp: int
    command: Any
    result_code: int
    events: list = []

    @property
    def ok(self) -> bool:
        return self.result_code == 100


class OrderRecord(msgspec.Struct):
    """A resting order as reported to its owner (exchange-core's Order plus type and cookie)."""
    symbol: int
    order_id: int
    action: int
    order_type: int
    price: int
    reserve_price: int
    size: int
    filled: int
    user_cookie: int
    timestamp: int


class PositionRecord(msgspec.Struct):
    symbol: int
    currency: int
    direction: int
    open_volume: int
    open_price_sum: int
    profit: int
    pending_buy_size: int
    pending_sell_size: int


class UserReport(msgspec.Struct):
    """Balances are free (spendable) amounts; ``held`` is what open orders reserve, which
    exchange-core does not show per user."""
    uid: int
    status: int
    accounts: dict[int, int]
    held: dict[int, int]
    orders: list[OrderRecord]
    positions: list[PositionRecord]


class CurrencyTotals(msgspec.Struct):
    currency: int
    accounts: int
    orders: int          # held by open exchange-pair orders
    fees: int
    adjustments: int     # minus the sum of ADJUSTMENT amounts (deposits make it negative)
    suspends: int        # minus the sum of SUSPEND amounts
    positions: int       # futures: realized profit minus signed open cost, in quote minor units
    open_interest_long: int
    open_interest_short: int

    @property
    def total(self) -> int:
        return self.accounts + self.orders + self.fees + self.adjustments + self.suspends + self.positions


class TotalBalanceReport(msgspec.Struct):
    currencies: list[CurrencyTotals]

    @property
    def balanced(self) -> bool:
        """The conservation invariant: every currency sums to zero."""
        return all(c.total == 0 for c in self.currencies)
