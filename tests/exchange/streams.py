"""Deterministic random command streams over the conftest symbols, shared by the property,
journal and crash tests (the crash test's child process regenerates the same stream)."""
from __future__ import annotations

import random

from sw.exchange import OrderAction, OrderType, cancel, move, place, reduce

from .conftest import BTC_USDT, ETH_USDT, FUT, UIDS

SYMBOLS = (BTC_USDT, ETH_USDT, FUT)
MID = {BTC_USDT: 1000, ETH_USDT: 300, FUT: 1000}


def random_commands(seed: int, n: int, ids: int = 60):
    """Orders around a mid price so they cross often; ids reused on purpose (duplicates, unknowns)."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        sym = rnd.choice(SYMBOLS)
        uid = rnd.choice(UIDS)
        oid = rnd.randrange(ids)
        k = rnd.random()
        mid = MID[sym]
        if k < 0.45:
            side = rnd.randrange(2)
            otype = rnd.choices((OrderType.GTC, OrderType.IOC, OrderType.FOK, OrderType.FOK_BUDGET,
                                 OrderType.IOC_BUDGET), (6, 2, 1, 1, 1))[0]
            size = rnd.randrange(1, 8)
            price = mid + rnd.randrange(-20, 21)
            reserve = None
            if otype in (OrderType.FOK_BUDGET, OrderType.IOC_BUDGET):
                price = price * size
            elif side == OrderAction.BID and rnd.random() < 0.5:
                reserve = price + rnd.randrange(0, 15)
            out.append(place(uid, sym, oid, side, price, size, order_type=otype, reserve_price=reserve))
        elif k < 0.6:
            out.append(cancel(uid, sym, oid))
        elif k < 0.9:
            out.append(move(uid, sym, oid, mid + rnd.randrange(-20, 21)))
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
