"""Every REST endpoint through a real HTTP client against a running gateway: envelopes, codes,
statuses, the exchange-gateway-rest test scenario, and the fixed Java gateway bugs."""
from __future__ import annotations

from decimal import Decimal

from .helpers import A, SYM, T


def orders_path(c, sym=SYM):
    return f"{T}/symbols/{sym}/trade/{c.uid}/orders"


def place(c, price, size, action, order_type="GTC", sym=SYM, **kw):
    return c.post(orders_path(c, sym), {"price": price, "size": size, "action": action, "orderType": order_type,
                                        **kw})


def test_ping_time_info(env):
    st, b = env.public.get(f"{T}/ping")
    assert st == 200 and b == {"ticket": 0, "gatewayResultCode": 0, "coreResultCode": 0, "description": None,
                               "data": None}
    st, b = env.public.get(f"{T}/time")
    assert st == 200 and b["data"]["isoTime"].endswith("Z") and b["data"]["epoch"] > 1.7e12
    st, b = env.public.get(f"{T}/info")
    assert st == 200
    assert {"assetCode": "XBTC", "scale": 8} in b["data"]["assets"]
    s = {x["symbolCode"]: x for x in b["data"]["symbols"]}[SYM]
    assert s["baseAsset"] == "XBTC" and s["quoteCurrency"] == "USDT"
    assert Decimal(str(s["lotSize"])) == Decimal("0.1") and Decimal(str(s["takerFee"])) == Decimal("0.08")


def test_gateway_rest_scenario(env):
    """exchange-gateway-rest's ITExchangeGatewayHttp: ASK GTC 3 @ 829.33, then BID IOC 4 @ 829.41."""
    maker, taker = env.user(), env.user()
    st, b = place(maker, 829.33, 3, "ASK")
    assert st == 201 and b["coreResultCode"] == 100 and b["description"] == "SUCCESS"
    ask = b["data"]
    assert ask["state"] == "ACTIVE" and ask["filled"] == 0 and ask["price"] == 829.33 and ask["size"] == 3
    assert ask["unitPrice"] == 8293.3                # per whole XBTC: 829.33 per 0.1 lot
    st, b = env.public.get(f"{T}/symbols/{SYM}/orderbook?depth=10")
    assert 829.33 in b["data"]["askPrices"]
    st, b = place(taker, 829.41, 4, "BID", "IOC")
    assert st == 201
    bid = b["data"]
    # the reply reflects the fill (the Java gateway answered NEW and left it to STOMP)
    assert bid["state"] == "REJECTED" and bid["filled"] == 3
    assert bid["deals"] == [{"price": 829.33, "size": 3, "party": "TAKER", "timestamp": bid["deals"][0]["timestamp"]}]
    st, b = maker.get(f"{orders_path(maker)}/{ask['orderId']}")
    assert st == 200 and b["data"]["state"] == "COMPLETED" and b["data"]["filled"] == 3
    assert b["data"]["deals"][0]["party"] == "MAKER"
    # balances: maker got (829.33 - 0.03) * 3 USDT and gave 0.3 XBTC; taker paid (829.33 + 0.08) * 3
    st, b = maker.get(f"{T}/users/{maker.uid}/state")
    acc = {a["currency"]: Decimal(str(a["balance"])) for a in b["data"]["accounts"]}
    assert acc["USDT"] == Decimal("100000.00") + (Decimal("829.33") - Decimal("0.03")) * 3
    assert acc["XBTC"] == Decimal("100") - Decimal("0.3")
    st, b = taker.get(f"{T}/users/{taker.uid}/state")
    acc = {a["currency"]: Decimal(str(a["balance"])) for a in b["data"]["accounts"]}
    assert acc["USDT"] == Decimal("100000.00") - (Decimal("829.33") + Decimal("0.08")) * 3
    assert acc["XBTC"] == Decimal("100.3")
    # history: both finished orders, with deals
    st, b = maker.get(f"{T}/users/{maker.uid}/history")
    assert [o["state"] for o in b["data"]["orders"]] == ["COMPLETED"]
    st, b = taker.get(f"{T}/users/{taker.uid}/history")
    assert [o["state"] for o in b["data"]["orders"]] == ["REJECTED"]
    assert b["data"]["orders"][0]["deals"][0]["size"] == 3
    # bars: every time frame honoured (the Java gateway always answered M1)
    for tf in ("M1", "M5", "H1", "W1"):
        st, b = env.public.get(f"{T}/symbols/{SYM}/bars/{tf}")
        assert st == 200
        bars = b["data"]
        assert bars and bars[-1]["close"] == 829.33 and bars[-1]["timestamp"] % 60_000 == 0


def test_bars_ohlc_low_and_timeframes(env):
    a, b_ = env.user(), env.user()
    # three trades at 700.10, 700.05, 700.20 (sizes 1, 2, 3): low must be 700.05
    for price, size in (("700.10", 1), ("700.05", 2), ("700.20", 3)):
        assert place(a, price, size, "ASK")[0] == 201
        assert place(b_, price, size, "BID", "IOC")[1]["data"]["filled"] == size
    st, b = env.public.get(f"{T}/symbols/{SYM}/bars/M1")
    bar = b["data"][-1]
    if bar["volume"] == 6:                      # all three in one minute (nearly always)
        assert (bar["open"], bar["high"], bar["low"], bar["close"]) == (700.10, 700.20, 700.05, 700.20)
    st, w1 = env.public.get(f"{T}/symbols/{SYM}/bars/W1")
    assert w1["data"][-1]["volume"] >= 6
    assert (w1["data"][-1]["timestamp"] // 86_400_000 - 4) % 7 == 0        # weeks start on Monday
    st, b = env.public.get(f"{T}/symbols/{SYM}/bars/M2")
    assert st == 400 and b["gatewayResultCode"] == 1011 and "timeFrame" in b["description"]
    st, b = env.public.get(f"{T}/symbols/NOPE/bars/M1")
    assert st == 404 and b["gatewayResultCode"] == 1007


def test_orderbook_depth_and_errors(env):
    mm = env.user()
    for k in range(5):
        assert place(mm, f"{900 + k}.00", 1, "ASK")[0] == 201
        assert place(mm, f"{500 + k}.00", 2, "BID")[0] == 201
    st, b = env.public.get(f"{T}/symbols/{SYM}/orderbook?depth=2")
    d = b["data"]
    assert st == 200 and len(d["askPrices"]) == 2 and len(d["bidPrices"]) == 2
    assert d["askPrices"] == sorted(d["askPrices"]) and d["bidPrices"] == sorted(d["bidPrices"], reverse=True)
    st, full = env.public.get(f"{T}/symbols/{SYM}/orderbook?depth=-1")
    assert len(full["data"]["askPrices"]) >= 5
    st, b = env.public.get(f"{T}/symbols/{SYM}/orderbook")
    assert st == 400 and "depth" in b["description"]
    st, b = env.public.get(f"{T}/symbols/{SYM}/orderbook?depth=x")
    assert st == 400 and "depth" in b["description"]
    st, b = env.public.get(f"{T}/symbols/NOPE/orderbook?depth=1")
    assert st == 404 and b["gatewayResultCode"] == 1007


def test_move_reduce_cancel_and_history(env):
    c = env.user()
    st, b = place(c, "300.00", 10, "BID", reservePrice="310.00")
    oid = b["data"]["orderId"]
    path = f"{orders_path(c)}/{oid}"
    st, b = c.put(path, {"price": "305.00"})
    assert st == 200 and b["coreResultCode"] == 100 and b["data"]["price"] == 305.0
    assert b["data"]["state"] == "ACTIVE"
    st, b = c.put(path, {"price": "320.00"})                   # above the reserve price
    assert st == 400 and b["coreResultCode"] == -3041 and b["description"] == "MATCHING_MOVE_FAILED_PRICE_OVER_RISK_LIMIT"
    st, b = c.put(path, {"unitPrice": "3060"})                 # 3060 per XBTC = 306.00 per lot
    assert st == 200 and b["data"]["price"] == 306.0
    # moved orders stay out of history (Java bug)
    st, h = c.get(f"{T}/users/{c.uid}/history")
    assert h["data"]["orders"] == []
    st, b = c.post(f"{path}/reduce", {"reduceSize": 4})
    assert st == 200 and b["data"]["size"] == 6 and b["data"]["state"] == "ACTIVE"
    st, s = c.get(f"{T}/users/{c.uid}/state")
    (active,) = s["data"]["activeOrders"]
    assert active["orderId"] == oid and active["size"] == 6 and active["price"] == 306.0
    held = {a["currency"]: Decimal(str(a["held"])) for a in s["data"]["accounts"]}
    assert held["USDT"] == (Decimal("310.00") + Decimal("0.08")) * 6    # reserve price holds
    st, b = c.post(f"{path}/reduce", {"reduceSize": 0})
    assert st == 400 and b["gatewayResultCode"] == 1011 and "reduceSize" in b["description"]
    st, b = c.delete(path)
    assert st == 200 and b["data"]["state"] == "CANCELLED"
    st, b = c.delete(path)
    assert st == 400 and b["coreResultCode"] == -3002 and b["description"] == "MATCHING_UNKNOWN_ORDER_ID"
    st, h = c.get(f"{T}/users/{c.uid}/history")
    assert [o["state"] for o in h["data"]["orders"]] == ["CANCELLED"]
    st, b = c.get(path)
    assert st == 200 and b["data"]["state"] == "CANCELLED"
    st, b = c.get(f"{orders_path(c)}/999")
    assert st == 404 and b["gatewayResultCode"] == 1018
    st, b = c.get(f"{orders_path(c)}/abc")
    assert st == 400 and "orderId" in b["description"]
    # reduce to zero finishes the order
    oid2 = place(c, "301.00", 2, "BID")[1]["data"]["orderId"]
    st, b = c.post(f"{orders_path(c)}/{oid2}/reduce", {"reduceSize": 5})
    assert st == 200 and b["data"]["state"] == "CANCELLED" and b["data"]["size"] == 0


def test_place_validation_names_the_field(env):
    c = env.user()
    cases = [
        ({"price": 1, "size": 0, "action": "BID"}, "size"),
        ({"price": 1, "size": 1, "action": "BUY"}, "action"),
        ({"price": 1, "size": 1, "action": "BID", "orderType": "LIMIT"}, "orderType"),
        ({"price": "abc", "size": 1, "action": "BID"}, "price"),
        ({"size": 1, "action": "BID"}, "price"),
        ({"price": 1, "unitPrice": 10, "size": 1, "action": "BID"}, "price"),
        ({"price": 1, "size": 1, "action": "BID", "extra": 1}, "extra"),
        ({"price": 1, "size": 1, "action": "BID", "userCookie": 2**40}, "userCookie"),
        ({"price": "NaN", "size": 1, "action": "BID"}, "price"),
        ({"price": "-5", "size": 1, "action": "BID"}, "price"),
        ({"price": "1e100000", "size": 1, "action": "BID"}, "price"),
        ({"price": 1, "size": 1, "action": "ASK", "reservePrice": 2}, "reservePrice"),
    ]
    for body, field in cases:
        st, b = c.post(orders_path(c), body)
        assert st == 400 and b["gatewayResultCode"] == 1011, (body, b)
        assert field in b["description"], (body, b["description"])
    st, b = c.post(orders_path(c), raw=b"{not json")
    assert st == 400 and b["gatewayResultCode"] == 1011 and "JSON" in b["description"]
    st, b = c.post(orders_path(c), raw=b"[1,2]")
    assert st == 400 and "object" in b["description"]
    st, b = c.post(orders_path(c), None)
    assert st == 400 and "body is required" in b["description"]
    st, b = c.post(orders_path(c), raw=b'{"price":1}', headers={"Content-Type": "text/plain"})
    assert st == 415 and b["gatewayResultCode"] == 1019
    # off the price grid: 829.333 per lot with a 0.01 step
    st, b = place(c, "829.333", 1, "BID")
    assert st == 400 and b["gatewayResultCode"] == 1009 and "price" in b["description"]
    st, b = c.post(orders_path(c), {"unitPrice": "8293.31", "size": 1, "action": "BID"})
    assert st == 400 and b["gatewayResultCode"] == 1009 and "unitPrice" in b["description"]
    # core failures: 400 + core code, order recorded as REJECTED
    poor = env.user(funded=False)
    st, b = place(poor, "100.00", 1, "BID")
    assert st == 400 and b["coreResultCode"] == -2001 and b["description"] == "RISK_NSF"
    assert b["data"]["state"] == "REJECTED" and b["data"]["rejectCode"] == -2001
    st, b = c.post(f"{T}/symbols/NOPE/trade/{c.uid}/orders", {"price": 1, "size": 1, "action": "BID"})
    assert st == 404 and b["gatewayResultCode"] == 1007


def test_price_limits_enforced_and_step_conversion(env):
    c = env.user()
    path = orders_path(c, "ETH_USDT")
    st, b = c.post(path, {"price": "50.05", "size": 1, "action": "BID"})
    assert st == 400 and b["gatewayResultCode"] == 1017 and "priceHighLimit" in b["description"]
    st, b = c.post(path, {"price": "9.95", "size": 1, "action": "ASK"})
    assert st == 400 and b["gatewayResultCode"] == 1017 and "priceLowLimit" in b["description"]
    st, b = c.post(path, {"price": "20.03", "size": 1, "action": "BID"})       # step is 0.05
    assert st == 400 and b["gatewayResultCode"] == 1009
    st, b = c.post(path, {"unitPrice": "2000", "size": 3, "action": "BID"})    # 20.00 per 0.01 ETH
    assert st == 201 and b["data"]["price"] == 20.0 and b["data"]["unitPrice"] == 2000
    oid = b["data"]["orderId"]
    st, b = c.put(f"{path}/{oid}", {"price": "55.00"})
    assert st == 400 and b["gatewayResultCode"] == 1017
    # hold = size * (price + taker fee): 3 * (20.00 + 0.10)
    st, s = c.get(f"{T}/users/{c.uid}/state")
    held = {a["currency"]: Decimal(str(a["held"])) for a in s["data"]["accounts"]}
    assert held["USDT"] == Decimal("60.30")
    # budget orders: price is the total budget, no per-lot limit
    st, b = c.post(path, {"price": "1000.00", "size": 2, "action": "BID", "orderType": "FOK_BUDGET"})
    assert st == 201 and b["data"]["state"] == "REJECTED"             # no asks: nothing to buy
    st, b = c.post(path, {"unitPrice": "1000", "size": 2, "action": "BID", "orderType": "IOC_BUDGET"})
    assert st == 400 and "unitPrice" in b["description"]


def test_admin_endpoints(env):
    adm = env.admin
    st, b = adm.post(f"{A}/assets", {"assetCode": "XBTC", "assetId": 9, "scale": 8})
    assert st == 400 and b["gatewayResultCode"] == 1003
    st, b = adm.post(f"{A}/assets", {"assetCode": "DOGE", "assetId": 1, "scale": 8})       # id taken
    assert st == 400 and b["coreResultCode"] == -7101
    st, b = adm.post(f"{A}/assets", {"assetCode": "LTC", "assetId": 7, "scale": 19})
    assert st == 400 and "scale" in b["description"]
    st, b = adm.post(f"{A}/assets", {"assetCode": "LTC", "assetId": 7, "scale": 8})
    assert st == 201 and b["data"] == {"assetCode": "LTC", "assetId": 7, "scale": 8}
    spec = {"symbolId": 12, "symbolCode": "LTC_USDT", "symbolType": "CURRENCY_EXCHANGE_PAIR", "baseAsset": "LTC",
            "quoteCurrency": "USDT", "lotSize": "0.01", "stepSize": "0.01", "takerFee": "0.02", "makerFee": "0.01"}
    for patch, code, word in (({"baseAsset": "NOPE"}, 1001, "base"), ({"quoteCurrency": "NOPE"}, 1002, "quote"),
                              ({"lotSize": "0.000000001"}, 1008, "lotSize"), ({"stepSize": "0"}, 1008, "stepSize"),
                              ({"takerFee": "0.001"}, 1008, "takerFee"),
                              ({"makerFee": "0.05"}, 1008, "takerFee must be >= makerFee"),
                              ({"marginBuy": "1"}, 1008, "margin"),
                              ({"symbolType": "FUTURES_CONTRACT"}, 1008, "margin"),
                              ({"priceLowLimit": "5", "priceHighLimit": "4"}, 1008, "priceLowLimit"),
                              ({"symbolId": 10}, 1000, "exists"), ({"symbolCode": SYM}, 1000, "exists")):
        st, b = adm.post(f"{A}/symbols", {**spec, **patch})
        assert st == 400 and b["gatewayResultCode"] == code and word in b["description"], (patch, b)
    st, b = adm.post(f"{A}/symbols", spec)
    assert st == 201 and b["coreResultCode"] == 100 and b["data"]["status"] == "ACTIVE"
    assert b["data"]["baseAsset"] == {"assetCode": "LTC", "assetId": 7, "scale": 8, "active": True}
    # users: duplicates still 201 with the core code (exchange-gateway-rest behaviour)
    st, b = adm.post(f"{A}/users", {"uid": 555})
    assert (st, b["coreResultCode"], b["data"]) == (201, 100, 555)
    st, b = adm.post(f"{A}/users", {"uid": 555})
    assert (st, b["coreResultCode"], b["description"]) == (201, -4001, "USER_MGMT_USER_ALREADY_EXISTS")
    st, b = adm.post(f"{A}/users", {"uid": 0})
    assert st == 400 and "uid" in b["description"]
    # balance adjustments
    acc = f"{A}/users/555/accounts"
    assert adm.post(acc, {"transactionId": 1, "amount": "10.5", "currency": "USDT"})[0] == 201
    st, b = adm.post(acc, {"transactionId": 1, "amount": "1", "currency": "USDT"})
    assert st == 400 and b["coreResultCode"] == -4101
    st, b = adm.post(acc, {"transactionId": 2, "amount": "1.001", "currency": "USDT"})
    assert st == 400 and b["gatewayResultCode"] == 1005 and "amount" in b["description"]
    st, b = adm.post(acc, {"transactionId": 2, "amount": "1", "currency": "NOPE"})
    assert st == 400 and b["gatewayResultCode"] == 1004
    st, b = adm.post(acc, {"transactionId": 3, "amount": "-20", "currency": "USDT"})
    assert st == 400 and b["coreResultCode"] == -4103
    st, b = adm.post(f"{A}/users/556/accounts", {"transactionId": 1, "amount": "1", "currency": "USDT"})
    assert st == 400 and b["coreResultCode"] == -1001
    # suspend / resume
    st, b = adm.post(f"{A}/users/555/suspend")
    assert st == 400 and b["coreResultCode"] == -4131                       # non-empty account
    assert adm.post(acc, {"transactionId": 4, "amount": "-10.5", "currency": "USDT"})[0] == 201
    st, b = adm.post(f"{A}/users/555/suspend")
    assert st == 200 and b["coreResultCode"] == 100
    st, s = adm.get(f"{T}/users/555/state")
    assert s["data"]["status"] == "SUSPENDED"
    st, b = adm.post(f"{A}/users/555/suspend")
    assert st == 400 and b["coreResultCode"] == -4133
    st, b = adm.post(f"{A}/users/555/resume")
    assert st == 200 and b["coreResultCode"] == 100
    st, b = adm.post(f"{A}/users/555/resume")
    assert st == 400 and b["coreResultCode"] == -4132
    # API keys
    st, b = adm.post(f"{A}/users/999999/apikeys")
    assert st == 404 and b["gatewayResultCode"] == 1010
    st, b = adm.post(f"{A}/users/555/apikeys")
    assert st == 201 and b["data"]["uid"] == 555 and b["data"]["role"] == "user"
    st, b = adm.delete(f"{A}/users/555/apikeys")
    assert st == 200 and b["data"] == 1


def test_unknown_user_and_routes(env):
    adm = env.admin
    st, b = adm.get(f"{T}/users/424242/state")
    assert st == 404 and b["gatewayResultCode"] == 1010
    st, b = adm.get(f"{T}/users/424242/history")
    assert st == 404 and b["gatewayResultCode"] == 1010
    st, b = env.public.get("/nope")
    assert st == 404 and b["gatewayResultCode"] == 1014
    st, b = env.public.request("DELETE", f"{T}/ping")
    assert st == 405 and b["gatewayResultCode"] == 1015 and "GET" in b["description"]
    st, b = env.public.request("PATCH", f"{T}/symbols/{SYM}/trade/1/orders/1")
    assert st == 405 and b["gatewayResultCode"] == 1015
