"""The embedded demo market ``ringgate serve`` starts with: two assets pairs, a market maker with
a small book on each side, and two funded traders with API keys, so a new user can place an
order with curl at once (docs/gateway.md has the walkthrough)."""
from __future__ import annotations

from decimal import Decimal

from ringgate.sw.exchange import AddAsset, AddSymbol, AddUser, AdjustBalance, OrderAction, SymbolType, place

from .units import AssetMeta, SymbolMeta

__all__ = ["DEMO_USERS", "MAKER_UID", "install_demo"]

MAKER_UID = 1000
DEMO_USERS = (1001, 1002)
XBTC, USDT, ETH = 1, 2, 3
# (id, code, base, quote, lot (base minor units), step (quote minor units), taker, maker fee per lot)
_SYMBOLS = ((1, "XBTC_USDT", XBTC, USDT, 10**5, 1, 8, 3),       # lot 0.001 XBTC, step 0.01 USDT
            (2, "ETH_USDT", ETH, USDT, 10**4, 1, 5, 2))          # lot 0.01 ETH, step 0.01 USDT


def install_demo(gateway) -> dict:
    """Create the demo market through the exchange (journaled like any command) and API keys.
    Returns the credentials to print."""
    ex = gateway.ex
    assets = [AddAsset(XBTC, "XBTC", 8), AddAsset(USDT, "USDT", 2), AddAsset(ETH, "ETH", 6)]
    cmds: list = list(assets)
    for sid, _, base, quote, bsk, qsk, taker, maker in _SYMBOLS:
        cmds.append(AddSymbol(sid, SymbolType.CURRENCY_EXCHANGE_PAIR, base, quote, bsk, qsk, taker, maker))
    for uid in (MAKER_UID,) + DEMO_USERS:
        cmds += [AddUser(uid), AdjustBalance(uid, XBTC, 100 * 10**8, 1), AdjustBalance(uid, USDT, 10**10, 2),
                 AdjustBalance(uid, ETH, 1000 * 10**6, 3)]
    # a small book around 60,000 USDT/XBTC (60.00 per 0.001 lot) and 3,000 USDT/ETH (30.00 per 0.01 lot)
    oid = 1
    for sid, mid in ((1, 6000), (2, 3000)):
        for k in range(1, 6):
            cmds.append(place(MAKER_UID, sid, oid, OrderAction.ASK, mid + 5 * k, 10 * k))
            cmds.append(place(MAKER_UID, sid, oid + 1, OrderAction.BID, mid - 5 * k, 10 * k))
            oid += 2
    results = ex.submit_many(cmds)
    bad = [r for r in results if not r.ok]
    if bad:
        raise RuntimeError(f"demo market setup failed: {bad[0]}")
    meta = gateway.meta
    for a in assets:
        meta.add_asset(AssetMeta(a.asset_id, a.code, a.scale))
    for sid, code, base, quote, bsk, qsk, taker, maker in _SYMBOLS:
        s = SymbolMeta(sid, code, 0, meta.assets_by_id[base], meta.assets_by_id[quote], bsk, qsk, taker, maker, 0, 0)
        s.price_high = s.steps(Decimal("1000000"))
        s.price_low = s.steps(Decimal("0.01"))
        meta.add_symbol(s)
    gateway.fanout.seed()                       # the maker's orders were placed below the gateway
    creds = {"users": {}}
    for uid in DEMO_USERS:
        k = gateway.keys.add(uid)
        creds["users"][uid] = k.view()
    meta.save()
    return creds
