"""Order book storage: price levels as intrusive FIFO lists, prices kept sorted.

Each side maps price -> Level and keeps a sorted list of *keys* in which the best
price is always the last element (bids: key = price; asks: key = -price). Taking
or dropping the best level is then ``list.pop()``, and inserting a new level is a
``bisect.insort`` into a few hundred ints (a memmove), both far cheaper in CPython
than a balanced tree. Orders are intrusive list nodes so cancel and move unlink in
O(1) without searching the level.

A level that empties somewhere below the best price is left in place, *dormant*
(count 0), instead of being deleted: in the benchmark mix most moves empty one
level and fill another, and re-using the level skips an object allocation, a
``bisect`` delete and an ``insort``. The best level of each side is never dormant
(emptied best levels are popped at once, with any dormant ones under them), so
best-price checks stay a single index. Dormant levels are compacted away when they
outnumber live ones.
"""
from __future__ import annotations

from bisect import insort

from .events import L2Level

__all__ = ["Order", "Level", "OrderBook"]


class Order:
    __slots__ = ("order_id", "uid", "price", "reserve_price", "size", "filled", "action",
                 "order_type", "user_cookie", "timestamp", "prev", "next", "user")

    def __init__(self, order_id, uid, price, reserve_price, size, filled, action, order_type,
                 user_cookie, timestamp, user):
        self.order_id = order_id
        self.uid = uid
        self.price = price
        self.reserve_price = reserve_price
        self.size = size
        self.filled = filled
        self.action = action
        self.order_type = order_type
        self.user_cookie = user_cookie
        self.timestamp = timestamp
        self.prev = None
        self.next = None
        self.user = user


class Level:
    __slots__ = ("price", "head", "tail", "volume", "count")

    def __init__(self, price):
        self.price = price
        self.head = None
        self.tail = None
        self.volume = 0
        self.count = 0


class OrderBook:
    __slots__ = ("spec", "orders", "asks", "bids", "ask_keys", "bid_keys", "dormant", "exchange", "min_ask")

    def __init__(self, spec):
        self.spec = spec
        # precomputed risk limits for move, the hot command: an exchange-pair ask must stay at a
        # price that pays the taker fee; bids are capped per order by their reserve price
        self.exchange = spec is None or spec.symbol_type == 0
        self.min_ask = -(-spec.taker_fee // spec.quote_scale_k) if spec is not None and self.exchange else 0
        self.orders: dict[int, Order] = {}
        self.asks: dict[int, Level] = {}
        self.bids: dict[int, Level] = {}
        self.ask_keys: list[int] = []
        self.bid_keys: list[int] = []
        self.dormant = [0, 0]                # empty levels kept per side (ask, bid)

    def append(self, o: Order) -> None:
        """Rest ``o`` at the tail of its price level (it loses any time priority it had)."""
        price = o.price
        if o.action:
            side, keys, key = self.bids, self.bid_keys, price
        else:
            side, keys, key = self.asks, self.ask_keys, -price
        lvl = side.get(price)
        if lvl is None:
            lvl = side[price] = Level(price)
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        elif not lvl.count:
            self.dormant[o.action] -= 1
        tail = lvl.tail
        o.next = None
        o.prev = tail
        if tail is None:
            lvl.head = o
        else:
            tail.next = o
        lvl.tail = o
        lvl.volume += o.size - o.filled
        lvl.count += 1

    def unlink(self, o: Order) -> None:
        """Take ``o`` out of its level; the id index is the caller's."""
        price = o.price
        if o.action:
            side, keys, key = self.bids, self.bid_keys, price
        else:
            side, keys, key = self.asks, self.ask_keys, -price
        lvl = side[price]
        prev, nxt = o.prev, o.next
        if prev is None:
            lvl.head = nxt
        else:
            prev.next = nxt
        if nxt is None:
            lvl.tail = prev
        else:
            nxt.prev = prev
        o.prev = o.next = None
        lvl.count -= 1
        lvl.volume -= o.size - o.filled
        if not lvl.count:
            if keys[-1] == key:
                self.drop_top(o.action)
            else:
                self.dormant[o.action] += 1
                if self.dormant[o.action] > 64 + 2 * len(keys) // 3:
                    self.compact(o.action)

    def drop_top(self, action: int) -> None:
        """Remove the emptied best level of a side and any dormant levels right under it."""
        if action:
            side, keys, sign = self.bids, self.bid_keys, 1
        else:
            side, keys, sign = self.asks, self.ask_keys, -1
        del side[sign * keys.pop()]
        dormant = self.dormant
        while keys:
            p = sign * keys[-1]
            if side[p].count:
                break
            del side[p]
            keys.pop()
            dormant[action] -= 1

    def compact(self, action: int) -> None:
        if action:
            side, keys, sign = self.bids, self.bid_keys, 1
        else:
            side, keys, sign = self.asks, self.ask_keys, -1
        live = []
        for k in keys:
            if side[sign * k].count:
                live.append(k)
            else:
                del side[sign * k]
        keys[:] = live
        self.dormant[action] = 0

    def best_ask(self) -> int | None:
        return -self.ask_keys[-1] if self.ask_keys else None

    def best_bid(self) -> int | None:
        return self.bid_keys[-1] if self.bid_keys else None

    def levels(self, action: int):
        """Non-empty levels of one side, best first."""
        if action:
            side, keys, sign = self.bids, self.bid_keys, 1
        else:
            side, keys, sign = self.asks, self.ask_keys, -1
        out = []
        for k in reversed(keys):
            lvl = side[sign * k]
            if lvl.count:
                out.append(lvl)
        return out

    def l2(self, depth: int = -1) -> tuple[list[L2Level], list[L2Level]]:
        def side(action):
            lv = self.levels(action)
            if depth >= 0:
                lv = lv[:depth]
            return [L2Level(x.price, x.volume, x.count) for x in lv]
        return side(0), side(1)

    def iter_orders(self, action: int):
        """Orders of one side in matching order (price, then time)."""
        for lvl in self.levels(action):
            o = lvl.head
            while o is not None:
                yield o
                o = o.next
