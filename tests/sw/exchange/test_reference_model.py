"""Matching against a naive reference model (a flat list of resting orders, sorted on demand):
the same fills, in the same order, at the same prices, and the same book afterwards. Risk is kept
out of the way (large balances, no fees) so that only matching is compared."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ringgate.sw.exchange import (AddAsset, AddSymbol, AddUser, AdjustBalance, Exchange, OrderAction, OrderType,
                         RejectEvent, TradeEvent, cancel, move, place, reduce)

SYM = 1
BIG_RESERVE = 10**6


class Reference:
    def __init__(self):
        self.resting = []          # [order_id, uid, side, price, remaining, time]
        self.clock = 0

    def find(self, oid, uid):
        for o in self.resting:
            if o[0] == oid and o[1] == uid:
                return o
        return None

    def queue(self, side):
        """Opposite-side makers for a taker of ``side``, best first then oldest first."""
        makers = [o for o in self.resting if o[2] != side]
        return sorted(makers, key=lambda o: ((o[3] if side else -o[3]), o[5]))

    def take(self, side, price, size, check_fok=False):
        crossing = [o for o in self.queue(side) if (o[3] <= price if side else o[3] >= price)]
        if check_fok and sum(o[4] for o in crossing) < size:
            return [], size
        fills = []
        for o in crossing:
            if not size:
                break
            f = min(size, o[4])
            o[4] -= f
            size -= f
            fills.append((o[0], o[3], f, o[4] == 0))
        self.resting = [o for o in self.resting if o[4] > 0]
        return fills, size

    def take_budget(self, side, budget, size, fok):
        """FOK_BUDGET: all `size` lots or nothing, by total cost/proceeds; IOC_BUDGET: greedy within budget."""
        queue = self.queue(side)
        if fok:
            need, cost = size, 0
            for o in queue:
                f = min(need, o[4])
                cost += f * o[3]
                need -= f
            if need or (cost > budget if side else cost < budget):
                return [], size
            return self.take(side, 10**9 if side else 0, size)
        fills, spent = [], 0
        for o in queue:
            if not size:
                break
            if side:
                f = min(size, o[4], (budget - spent) // o[3])
            else:
                if spent >= budget:
                    break
                f = min(size, o[4], -(-(budget - spent) // o[3]))
            if f <= 0:
                break
            o[4] -= f
            size -= f
            spent += f * o[3]
            fills.append((o[0], o[3], f, o[4] == 0))
        self.resting = [o for o in self.resting if o[4] > 0]
        return fills, size

    def apply(self, c):
        self.clock += 1
        if c.cmd == 1 and c.order_type in (OrderType.FOK_BUDGET, OrderType.IOC_BUDGET):
            fills, left = self.take_budget(c.side, c.price, c.size, c.order_type == OrderType.FOK_BUDGET)
            return fills, left, None
        if c.cmd == 1:
            fills, left = self.take(c.side, c.price, c.size, check_fok=c.order_type == OrderType.FOK)
            # exchange-core checks for a duplicate id after matching: a maker with the same id
            # that was just filled away no longer blocks the remainder
            ids = {o[0] for o in self.resting}
            rest = left and c.order_type == OrderType.GTC and c.order_id not in ids
            if rest:
                self.resting.append([c.order_id, c.uid, c.side, c.price, left, self.clock])
            return fills, (left if left and not rest else 0), None
        o = self.find(c.order_id, c.uid)
        if o is None:
            return None
        if c.cmd == 2:
            self.resting.remove(o)
            return [], 0, o[4]
        if c.cmd == 4:
            by = min(c.size, o[4])
            o[4] -= by
            if not o[4]:
                self.resting.remove(o)
            return [], 0, by
        self.resting.remove(o)            # move: loses priority, trades as a taker
        fills, left = self.take(o[2], c.price, o[4])
        if left:
            self.resting.append([o[0], o[1], o[2], c.price, left, self.clock])
        return fills, 0, None

    def levels(self, side):
        out = {}
        for o in self.resting:
            if o[2] == side:
                v, n = out.get(o[3], (0, 0))
                out[o[3]] = (v + o[4], n + 1)
        return [(p, *out[p]) for p in sorted(out, reverse=bool(side))]


uids = st.integers(1, 3)
oids = st.integers(0, 15)
prices = st.integers(95, 105)
commands = st.one_of(
    st.builds(lambda u, i, s, p, n, t: place(u, SYM, i, s, p, n, order_type=t, reserve_price=BIG_RESERVE if s else None),
              uids, oids, st.sampled_from(OrderAction), prices, st.integers(1, 6),
              st.sampled_from([OrderType.GTC, OrderType.GTC, OrderType.IOC, OrderType.FOK])),
    st.builds(lambda u, i, s, b, n, t: place(u, SYM, i, s, b, n, order_type=t),
              uids, oids, st.sampled_from(OrderAction), st.integers(90, 700), st.integers(1, 6),
              st.sampled_from([OrderType.FOK_BUDGET, OrderType.IOC_BUDGET])),
    st.builds(lambda u, i: cancel(u, SYM, i), uids, oids),
    st.builds(lambda u, i, p: move(u, SYM, i, p), uids, oids, prices),
    st.builds(lambda u, i, n: reduce(u, SYM, i, n), uids, oids, st.integers(1, 4)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(commands, min_size=40, max_size=160))
def test_matching_equals_reference(cmds):
    ex = Exchange.in_memory(clock=lambda: 0)
    setup = [AddAsset(1, "B", 0), AddAsset(2, "Q", 0), AddSymbol(SYM, 0, 1, 2, 1, 1)]
    for u in (1, 2, 3):
        setup += [AddUser(u), AdjustBalance(u, 1, 10**12, 1), AdjustBalance(u, 2, 10**15, 2)]
    assert all(r.ok for r in ex.submit_many(setup))
    ref = Reference()
    for c in cmds:
        r = ex.submit(c)
        want = ref.apply(c)
        if want is None:
            assert r.result_code == -3002
            continue
        assert r.ok, (c, r)
        fills, rejected, reduced = want
        trades = [t for e in r.events if isinstance(e, TradeEvent) for t in e.trades]
        assert [(t.maker_order_id, t.price, t.volume, t.maker_order_completed) for t in trades] == fills
        rejects = [e.rejected_volume for e in r.events if isinstance(e, RejectEvent)]
        assert rejects == ([rejected] if rejected else [])
        reduces = [e.reduced_volume for e in r.events if type(e).__name__ == "ReduceEvent"]
        assert reduces == ([reduced] if reduced is not None else [])
        book = ex.order_book(SYM)
        assert [(l.price, l.volume, l.orders) for l in book.asks] == ref.levels(0)
        assert [(l.price, l.volume, l.orders) for l in book.bids] == ref.levels(1)
        for side in (0, 1):
            engine_queue = [o.order_id for o in ex.engine.books[SYM].iter_orders(side)]
            ref_queue = [o[0] for o in sorted((o for o in ref.resting if o[2] == side),
                                               key=lambda o: ((-o[3] if side else o[3]), o[5]))]
            assert engine_queue == ref_queue
