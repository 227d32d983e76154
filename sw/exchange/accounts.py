"""User profiles and futures positions (exchange-core's UserProfile and SymbolPositionRecord)."""
from __future__ import annotations

__all__ = ["User", "Position"]

_LONG, _SHORT, _EMPTY = 1, -1, 0


class User:
    """``accounts`` hold FREE balances: what open orders reserve has already been taken out."""
    __slots__ = ("uid", "status", "accounts", "last_txid", "orders", "positions")

    def __init__(self, uid: int, status: int = 0):
        self.uid = uid
        self.status = status
        self.accounts: dict[int, int] = {}
        self.last_txid = 0
        self.orders: dict = {}          # Order -> symbol id; insertion order is irrelevant (reports sort)
        self.positions: dict[int, Position] = {}


class Position:
    """A futures position with exchange-core's integer bookkeeping.

    Closing part of a position does not realise profit: the closed lots leave the
    cost basis at the *trade* price (``open_price_sum -= size * price``), so the
    difference stays in the remaining basis until the position is flat. This is
    exact in integers and keeps ``profit - direction * open_price_sum`` summed over
    all users at zero, which is what the conservation report checks.
    """
    __slots__ = ("currency", "direction", "open_volume", "open_price_sum", "profit",
                 "pending_buy", "pending_sell")

    def __init__(self, currency: int):
        self.currency = currency
        self.direction = _EMPTY
        self.open_volume = 0
        self.open_price_sum = 0
        self.profit = 0
        self.pending_buy = 0
        self.pending_sell = 0

    def is_empty(self) -> bool:
        return self.direction == _EMPTY and not self.pending_buy and not self.pending_sell

    def required_margin(self, spec) -> int:
        signed = self.direction * self.open_volume
        return max(spec.margin_buy * (self.pending_buy + signed),
                   spec.margin_sell * (self.pending_sell - signed))

    def required_margin_for_order(self, spec, action: int, size: int) -> int:
        """New margin requirement if an order is added, or -1 when it does not increase exposure."""
        signed = self.direction * self.open_volume
        buy = spec.margin_buy * (self.pending_buy + signed)
        sell = spec.margin_sell * (self.pending_sell - signed)
        current = max(buy, sell)
        if action:
            buy += spec.margin_buy * size
        else:
            sell += spec.margin_sell * size
        new = max(buy, sell)
        return -1 if new <= current else new

    def pending_release(self, action: int, size: int) -> None:
        if action:
            self.pending_buy -= size
        else:
            self.pending_sell -= size

    def trade(self, action: int, size: int, price: int) -> int:
        """Apply a fill of a pending order; returns the lots that opened (or extended) a position."""
        if action:
            self.pending_buy -= size
            want = _LONG
        else:
            self.pending_sell -= size
            want = _SHORT
        direction = self.direction
        if direction != _EMPTY and direction != want:
            if self.open_volume > size:
                self.open_volume -= size
                self.open_price_sum -= size * price
                return 0
            self.profit += (self.open_volume * price - self.open_price_sum) * direction
            size -= self.open_volume
            self.open_price_sum = 0
            self.open_volume = 0
            self.direction = _EMPTY
        if size > 0:
            self.direction = want
            self.open_volume += size
            self.open_price_sum += size * price
        return size

    def unrealized(self, best_bid: int | None, best_ask: int | None) -> int:
        """Profit if closed at the opposite best price, in price steps x lots.

        exchange-core substitutes ``margin * volume`` (a *gain*) when there is no
        opposite price; counting nothing is the conservative choice."""
        if self.direction == _LONG:
            return self.profit + (self.open_volume * best_bid - self.open_price_sum if best_bid is not None else 0)
        if self.direction == _SHORT:
            return self.profit + (self.open_price_sum - self.open_volume * best_ask if best_ask is not None else 0)
        return self.profit
