"""exchange-core's benchmark workload: ~9% GTC, 3% IOC, 6% cancel, 82% move, about 1,000 resting
orders over ~750 price levels per symbol.

Commands are generated up front by running them through a generator engine, so cancels and
moves target live orders and the book keeps its shape (as exchange-core's perf tests do). The
engine benchmark (``ringgate perf engine``) replays them; the FPGA traffic generator
(``ringgate.sim.traffic``) turns them into ring entries.
"""
from __future__ import annotations

import random

from .codes import OrderType, SymbolType
from .commands import AddAsset, AddSymbol, AddUser, AdjustBalance, cancel, move, place
from .engine import Engine
from .events import TradeEvent

__all__ = ["generate", "setup_commands", "QUOTE", "BASE0", "CENTER", "HALF_RANGE"]

QUOTE, BASE0 = 1, 100
CENTER = 100_000
HALF_RANGE = 800                       # 1,000 orders spread over 1,600 ticks occupy ~750 levels


def setup_commands(symbols: int, users: int) -> list:
    cmds = [AddAsset(QUOTE, "USD", 2)]
    for s in range(symbols):
        cmds.append(AddAsset(BASE0 + s, f"B{s}", 8))
        cmds.append(AddSymbol(s, SymbolType.CURRENCY_EXCHANGE_PAIR, BASE0 + s, QUOTE, 10**6, 1, 2, 1))
    for uid in range(1, users + 1):
        cmds.append(AddUser(uid))
        cmds.append(AdjustBalance(uid, QUOTE, 10**15, 1))
        # every user holds every base asset only for small universes; otherwise a few
        picks = range(symbols) if symbols <= 10 else random.Random(uid).sample(range(symbols), 10)
        for k, s in enumerate(picks):
            cmds.append(AdjustBalance(uid, BASE0 + s, 10**15, 2 + k))
    return cmds


class _SymbolGen:
    """Per-symbol generator state: live orders (for O(1) random pick) and a drifting centre."""
    __slots__ = ("live", "index", "center", "next_id", "users")

    def __init__(self, users):
        self.live: list[int] = []
        self.index: dict[int, int] = {}
        self.center = CENTER
        self.next_id = 1
        self.users = users

    def add(self, oid):
        self.index[oid] = len(self.live)
        self.live.append(oid)

    def drop(self, oid):
        i = self.index.pop(oid, None)
        if i is None:
            return
        last = self.live.pop()
        if last != oid:
            self.live[i] = last
            self.index[last] = i


def generate(n: int, symbols: int = 1, users: int = 1000, resting: int = 1000, seed: int = 1):
    """(setup commands, benchmark commands, owner of each order)."""
    rnd = random.Random(seed)
    setup = setup_commands(symbols, users)
    eng = Engine()
    for i, c in enumerate(setup, 1):
        eng.apply(i, 0, c)
    seq = len(setup)
    if symbols <= 10:
        user_pool = {s: list(range(1, users + 1)) for s in range(symbols)}
    else:
        user_pool = {s: [] for s in range(symbols)}
        for uid in range(1, users + 1):
            for s in random.Random(uid).sample(range(symbols), 10):
                user_pool[s].append(uid)
    gens = [_SymbolGen(user_pool[s]) for s in range(symbols)]
    owner: dict[tuple[int, int], int] = {}
    out = []
    # fill books first (not measured): `resting` orders per symbol spread over the range
    fill = []
    for s, g in enumerate(gens):
        for _ in range(resting):
            side = rnd.randrange(2)
            off = rnd.randrange(1, HALF_RANGE)
            price = g.center - off if side else g.center + off
            uid = rnd.choice(g.users)
            oid = g.next_id
            g.next_id += 1
            owner[(s, oid)] = uid
            fill.append(place(uid, s, oid, side, price, rnd.randrange(1, 10),
                              reserve_price=price + 2 * HALF_RANGE if side else None))
            g.add(oid)
    for c in fill:
        seq += 1
        eng.apply(seq, 0, c)
    books = eng.books
    for _ in range(n):
        s = rnd.randrange(symbols)
        g = gens[s]
        book = books[s]
        r = rnd.random()
        live = g.live
        if r < 0.09 or not live or (len(live) < resting * 0.9 and r < 0.5):
            # GTC, with the resting count steering between cancels and new orders
            side = rnd.randrange(2)
            aggressive = rnd.random() < 0.1
            off = rnd.randrange(1, HALF_RANGE)
            if aggressive:
                off = -rnd.randrange(0, 5)
            price = g.center - off if side else g.center + off
            uid = rnd.choice(g.users)
            oid = g.next_id
            g.next_id += 1
            owner[(s, oid)] = uid
            cmd = place(uid, s, oid, side, price, rnd.randrange(1, 10),
                        reserve_price=price + 2 * HALF_RANGE if side else None)
        elif r < 0.12:
            side = rnd.randrange(2)
            best = book.best_ask() if side else book.best_bid()
            price = (best if best is not None else g.center) + (rnd.randrange(0, 3) if side else -rnd.randrange(0, 3))
            uid = rnd.choice(g.users)
            oid = g.next_id
            g.next_id += 1
            cmd = place(uid, s, oid, side, price, rnd.randrange(1, 6), order_type=OrderType.IOC,
                        reserve_price=price if side else None)
        elif r < 0.18 or (len(live) > resting * 1.1 and r < 0.5):
            oid = live[rnd.randrange(len(live))]
            cmd = cancel(owner[(s, oid)], s, oid)
        else:
            oid = live[rnd.randrange(len(live))]
            o = book.orders[oid]
            # small steps keep the price profile; a step across the centre trades (~6% of moves do)
            step = rnd.randrange(1, 6) * (1 if rnd.random() < 0.5 else -1)
            price = o.price + step
            if rnd.random() < 0.02:
                best = book.best_ask() if o.action else book.best_bid()
                if best is not None:
                    price = best
            if o.action:
                price = max(min(price, o.reserve_price), g.center - HALF_RANGE)
            else:
                price = min(max(price, 1), g.center + HALF_RANGE)
            cmd = move(o.uid, s, oid, price)
        seq += 1
        res = eng.apply(seq, 0, cmd)
        out.append(cmd)
        # keep the live set in step with the book
        if cmd.cmd == 1 and cmd.order_type == OrderType.GTC and cmd.order_id in book.orders:
            g.add(cmd.order_id)
        elif cmd.cmd == 2 and res.result_code == 100:
            g.drop(cmd.order_id)
        for ev in res.events:
            if type(ev) is TradeEvent:
                if ev.taker_order_completed:
                    g.drop(ev.taker_order_id)
                for t in ev.trades:
                    if t.maker_order_completed:
                        g.drop(t.maker_order_id)
        if rnd.random() < 0.001:
            g.center += rnd.choice((-1, 1))
    return setup + fill, out, eng
