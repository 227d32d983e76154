"""OrderBook storage against a naive model: price-time order, level volumes and counts, and the
dormant-level bookkeeping (including compaction) under many random appends and unlinks."""
from __future__ import annotations

import random

import pytest

from ringgate.sw.exchange.book import Order, OrderBook


def model_levels(orders, action):
    """[(price, volume, count)] best first, from a plain list in arrival order."""
    out = {}
    for o in orders:
        if o.action == action:
            v, n = out.get(o.price, (0, 0))
            out[o.price] = (v + o.size - o.filled, n + 1)
    return [(p, *out[p]) for p in sorted(out, reverse=bool(action))]


def model_queue(orders, action):
    mine = [o for o in orders if o.action == action]
    return [o.order_id for o in sorted(mine, key=lambda o: -o.price if action else o.price)]   # stable: time


class CountingBook(OrderBook):
    __slots__ = ("compactions",)

    def compact(self, action):
        self.compactions += 1
        super().compact(action)


@pytest.mark.parametrize("seed", range(4))
def test_book_matches_naive_model(seed):
    rnd = random.Random(seed)
    book = CountingBook(spec=None)
    book.compactions = 0
    live = []            # arrival order = time priority
    next_id = 0
    for step in range(4000):
        if live and rnd.random() < (0.7 if len(live) > 60 else 0.3):
            o = live.pop(rnd.randrange(len(live)))
            book.unlink(o)
            del book.orders[o.order_id]
            if rnd.random() < 0.5:          # re-append elsewhere: a move
                o.price = rnd.randrange(1, 3000)
                book.append(o)
                book.orders[o.order_id] = o
                live.append(o)
        else:
            action = rnd.randrange(2)
            o = Order(next_id, 1, rnd.randrange(1, 3000), 0, rnd.randrange(1, 5), 0, action, 0, 0, 0, None)
            next_id += 1
            book.append(o)
            book.orders[o.order_id] = o
            live.append(o)
        if step % 50 == 0 or step > 3950:
            for action in (0, 1):
                assert [(l.price, l.volume, l.count) for l in book.levels(action)] == model_levels(live, action)
                assert [o.order_id for o in book.iter_orders(action)] == model_queue(live, action)
                side = book.bids if action else book.asks
                assert book.dormant[action] == sum(1 for l in side.values() if not l.count)
            bb, ba = book.best_bid(), book.best_ask()
            assert bb == max((o.price for o in live if o.action), default=None)
            assert ba == min((o.price for o in live if not o.action), default=None)
    assert book.compactions > 0
