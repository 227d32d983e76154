"""Order registry and history: the gateway's view of every order's life, driven by the engine's
results in sequence order.

Fixes against exchange-gateway-rest:

* orders are registered *before* they are submitted (REST) or, for orders that come from the
  FPGA ring, while processing their own PLACE result, which precedes every event that can name
  them: an event can never arrive for an order the registry does not know;
* a moved order stays active (the Java gateway also inserted moved orders into history);
* history holds only finished orders (COMPLETED, CANCELLED, REJECTED), newest last, bounded per
  user.
"""
from __future__ import annotations

from collections import deque

__all__ = ["GwOrder", "OrderRegistry", "NEW", "ACTIVE", "PARTIALLY_FILLED", "COMPLETED", "CANCELLED",
           "REJECTED"]

NEW, ACTIVE, PARTIALLY_FILLED, COMPLETED, CANCELLED, REJECTED = (
    "NEW", "ACTIVE", "PARTIALLY_FILLED", "COMPLETED", "CANCELLED", "REJECTED")
FINAL = frozenset((COMPLETED, CANCELLED, REJECTED))


class GwOrder:
    __slots__ = ("order_id", "symbol", "uid", "price", "reserve_price", "size", "filled", "state", "user_cookie",
                 "action", "order_type", "deals", "timestamp", "reject_code", "source")

    def __init__(self, order_id: int, symbol: int, uid: int, price: int, reserve_price: int, size: int,
                 user_cookie: int, action: int, order_type: int, source: str = "rest"):
        self.order_id = order_id
        self.symbol = symbol
        self.uid = uid
        self.price = price
        self.reserve_price = reserve_price
        self.size = size
        self.filled = 0
        self.state = NEW
        self.user_cookie = user_cookie
        self.action = action
        self.order_type = order_type
        self.deals: list = []           # (price steps, size, "MAKER"/"TAKER", timestamp ns)
        self.timestamp = 0
        self.reject_code = 0
        self.source = source


class OrderRegistry:
    def __init__(self, history_per_user: int = 1000):
        self.active: dict[tuple[int, int], GwOrder] = {}       # (symbol, order id) -> resting order
        self.pending: dict[tuple[int, int], GwOrder] = {}      # REST orders submitted, not yet sequenced
        self.by_user: dict[int, dict[tuple[int, int], GwOrder]] = {}
        self.history: dict[int, deque] = {}
        self.history_per_user = history_per_user
        self.known_users: set[int] = set()

    def register_pending(self, o: GwOrder):
        self.pending[(o.symbol, o.order_id)] = o
        self.known_users.add(o.uid)

    def take_pending(self, symbol: int, order_id: int) -> GwOrder | None:
        return self.pending.pop((symbol, order_id), None)

    def rest(self, o: GwOrder):
        key = (o.symbol, o.order_id)
        self.active[key] = o
        self.by_user.setdefault(o.uid, {})[key] = o

    def finish(self, o: GwOrder, state: str):
        o.state = state
        key = (o.symbol, o.order_id)
        if self.active.get(key) is o:
            del self.active[key]
            u = self.by_user.get(o.uid)
            if u is not None:
                u.pop(key, None)
        h = self.history.get(o.uid)
        if h is None:
            h = self.history[o.uid] = deque(maxlen=self.history_per_user)
        h.append(o)
        self.known_users.add(o.uid)

    def get(self, symbol: int, order_id: int) -> GwOrder | None:
        return self.active.get((symbol, order_id))

    def find(self, uid: int, symbol: int, order_id: int) -> GwOrder | None:
        """Active order of this user, else the newest finished one with that id."""
        o = self.active.get((symbol, order_id))
        if o is not None and o.uid == uid:
            return o
        for h in reversed(self.history.get(uid, ())):
            if h.symbol == symbol and h.order_id == order_id:
                return h
        return None

    def user_active(self, uid: int) -> list[GwOrder]:
        return sorted(self.by_user.get(uid, {}).values(), key=lambda o: (o.symbol, o.order_id))

    def user_history(self, uid: int) -> list[GwOrder]:
        return list(self.history.get(uid, ()))
