"""Deterministic random command streams over the conftest symbols, shared by the property,
journal and crash tests (the crash test's child process regenerates the same stream)."""
from __future__ import annotations

import random

from ringgate.sw.exchange import OrderAction, OrderType, cancel, move, place, reduce

from .conftest import BTC_USDT, ETH_USDT, FUT, UIDS

SYMBOLS = (BTC_USDT, ETH_USDT, FUT)
MID = {BTC_USDT: 1000, ETH_USDT: 300, FUT: 1000}


def random_commands(seed: int, n: int, ids: int = 60):
    """Orders around a mid price so they cross often. Cancel/move/reduce mostly target an order
    placed earlier in the stream (it may have traded away since); ids repeat on purpose."""
    rnd = random.Random(seed)
    out, placed = [], []
    for _ in range(n):
        k = rnd.random()
        if k < 0.45 or not placed:
            sym = rnd.choice(SYMBOLS)
            uid = rnd.choice(UIDS)
            oid = rnd.randrange(ids)
            mid = MID[sym]
            side = rnd.randrange(2)
            otype = rnd.choices((OrderType.GTC, OrderType.IOC, OrderType.FOK, OrderType.FOK_BUDGET,
                                 OrderType.IOC_BUDGET), (6, 2, 1, 1, 1))[0]
            size = rnd.randrange(1, 8)
            price = mid + rnd.randrange(-20, 21) + (6 if side == OrderAction.ASK else -6)
            reserve = None
            if otype in (OrderType.FOK_BUDGET, OrderType.IOC_BUDGET):
                price = price * size
            elif side == OrderAction.BID and rnd.random() < 0.5:
                reserve = price + rnd.randrange(0, 15)
            out.append(place(uid, sym, oid, side, price, size, order_type=otype, reserve_price=reserve))
            if otype == OrderType.GTC:
                placed.append((uid, sym, oid))
            continue
        if rnd.random() < 0.85:
            uid, sym, oid = rnd.choice(placed)
        else:
            uid, sym, oid = rnd.choice(UIDS), rnd.choice(SYMBOLS), rnd.randrange(ids)
        if k < 0.6:
            out.append(cancel(uid, sym, oid))
        elif k < 0.9:
            out.append(move(uid, sym, oid, MID[sym] + rnd.randrange(-20, 21)))
        else:
            out.append(reduce(uid, sym, oid, rnd.randrange(0, 5)))
    return out


def batches(seed: int, size: int = 40):
    """Endless batches: setup and funding first, then random orders (varying batch sizes)."""
    from .conftest import fund_commands, setup_commands
    yield setup_commands() + fund_commands()
    rnd = random.Random(seed)
    k = 0
    while True:
        cmds = random_commands(seed * 1000 + k, 400)
        k += 1
        i = 0
        while i < len(cmds):
            n = rnd.randrange(1, 2 * size)
            yield cmds[i:i + n]
            i += n
