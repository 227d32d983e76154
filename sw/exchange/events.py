"""What the engine hands back: one CommandResult per sequenced command, carrying
its events in exchange-core's order (a reject first, then the trades; or a single
reduce; or the order book for an ORDER_BOOK_REQUEST), plus the report structures.

Every trade, reject and reduce carries ``bidder_hold_price`` as exchange-core's
``MatcherTradeEvent.bidderHoldPrice``: the reserve price of the bid side of that event
(the maker's for a taker ask, the taker's for a taker bid; the order's own reserve
for a reject or reduce), which is what a risk stage needs to release a bid's hold."""
from __future__ import annotations

from typing import Any, Union

import msgspec

__all__ = ["Trade", "TradeEvent", "RejectEvent", "ReduceEvent", "L2Level", "L2Book",
           "CommandResult", "Event", "OrderRecord", "PositionRecord", "UserReport",
           "CurrencyTotals", "OpenInterest", "TotalBalanceReport"]


class Trade(msgspec.Struct, gc=False):
    """One maker fill inside a TradeEvent; ``price`` is the maker's price."""
    maker_order_id: int
    maker_uid: int
    maker_order_completed: bool
    price: int
    volume: int
    bidder_hold_price: int = 0


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
    """Unfilled remainder of an IOC/FOK/budget order, or of a GTC whose order id is already resting
    (or that would take a balance past 2**63 - 1); ``price`` is the command's."""
    symbol: int
    rejected_volume: int
    price: int
    order_id: int
    uid: int
    timestamp: int
    bidder_hold_price: int = 0


class ReduceEvent(msgspec.Struct, tag="reduce", gc=False):
    """From CANCEL (completed=True, volume = whole remainder) or REDUCE."""
    symbol: int
    reduced_volume: int
    order_completed: bool
    price: int
    order_id: int
    uid: int
    timestamp: int
    bidder_hold_price: int = 0


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

    @property
    def total(self) -> int:
        return self.accounts + self.orders + self.fees + self.adjustments + self.suspends + self.positions


class OpenInterest(msgspec.Struct):
    """Open futures lots of one symbol, as exchange-core's ``openInterestLong/Short`` (per symbol)."""
    symbol: int
    long: int
    short: int


class TotalBalanceReport(msgspec.Struct):
    currencies: list[CurrencyTotals]
    open_interest: list[OpenInterest] = []

    @property
    def balanced(self) -> bool:
        """The conservation invariant: every currency sums to zero."""
        return all(c.total == 0 for c in self.currencies)
