"""Gateway fixtures: a real gateway (uvloop, real socket) in a background thread, set up through
its own admin API with exchange-gateway-rest's test market (XBTC scale 8, USDT scale 2, lot 0.1,
step 0.01, taker 0.08, maker 0.03), and signing clients."""
from __future__ import annotations

import itertools


from ringgate.sw.exchange import Exchange
from ringgate.sw.gateway.app import Gateway, run_in_thread
from ringgate.sw.gateway.client import Client

A = "/syncAdminApi/v1"
T = "/syncTradeApi/v1"
SYM = "XBTC_USDT"
_uids = itertools.count(100)


class Env:
    def __init__(self, gw, port, admin):
        self.gw = gw
        self.port = port
        self.admin = admin            # Client with the admin key
        self.public = Client("127.0.0.1", port)

    def user(self, funded: bool = True, usdt: str = "100000.00", xbtc: str = "100"):
        """A fresh uid with its own API key (and balances); returns its signing Client."""
        uid = next(_uids)
        st, body = self.admin.post(f"{A}/users", {"uid": uid})
        assert st == 201 and body["coreResultCode"] == 100, body
        st, key = self.admin.post(f"{A}/users/{uid}/apikeys")
        assert st == 201, key
        c = Client("127.0.0.1", self.port, key["data"]["apiKey"], key["data"]["secret"])
        c.uid = uid
        if funded:
            for tx, (cur, amount) in enumerate((("USDT", usdt), ("XBTC", xbtc)), 1):
                st, body = self.admin.post(f"{A}/users/{uid}/accounts",
                                           {"transactionId": tx, "amount": amount, "currency": cur})
                assert st == 201, body
        return c


def setup_market(admin: Client):
    for code, aid, scale in (("XBTC", 1, 8), ("USDT", 2, 2), ("ETH", 3, 6)):
        st, body = admin.post(f"{A}/assets", {"assetCode": code, "assetId": aid, "scale": scale})
        assert st == 201, body
    st, body = admin.post(f"{A}/symbols", {
        "symbolId": 10, "symbolCode": SYM, "symbolType": "CURRENCY_EXCHANGE_PAIR", "baseAsset": "XBTC",
        "quoteCurrency": "USDT", "lotSize": 0.1, "stepSize": 0.01, "takerFee": 0.08, "makerFee": 0.03,
        "marginBuy": 0, "marginSell": 0, "priceHighLimit": 0, "priceLowLimit": 0})
    assert st == 201, body
    # a second pair with limits and a step above one minor unit
    st, body = admin.post(f"{A}/symbols", {
        "symbolId": 11, "symbolCode": "ETH_USDT", "symbolType": "CURRENCY_EXCHANGE_PAIR", "baseAsset": "ETH",
        "quoteCurrency": "USDT", "lotSize": "0.01", "stepSize": "0.05", "takerFee": "0.10", "makerFee": "0.05",
        "priceHighLimit": "50.00", "priceLowLimit": "10.00"})
    assert st == 201, body


def start_env(exchange_factory=Exchange.in_memory, meta_dir=None, **kw):
    holder = {}

    def make():
        gw = Gateway(exchange_factory(), meta_dir=meta_dir, **kw)
        holder["admin"] = gw.add_key(0, "admin")
        return gw
    gw, port, stop = run_in_thread(make)
    k = holder["admin"]
    admin = Client("127.0.0.1", port, k.api_key, k.secret)
    return Env(gw, port, admin), stop


