"""Pure units: decimal <-> steps / minor units, bars per time frame, HMAC signing."""
from __future__ import annotations

import calendar
from decimal import Decimal

import pytest

from ringgate.sw.gateway.auth import KeyStore, sign
from ringgate.sw.gateway.bars import Bars
from ringgate.sw.gateway.errors import ApiError, GwCode
from ringgate.sw.gateway.units import AssetMeta, SymbolMeta, to_minor

XBTC, USDT = AssetMeta(1, "XBTC", 8), AssetMeta(2, "USDT", 2)


def sym(bsk=10**7, qsk=1):
    return SymbolMeta(10, "XBTC_USDT", 0, XBTC, USDT, bsk, qsk, 8, 3, 0, 0)


def test_price_steps_per_lot_and_per_unit():
    s = sym()                                   # lot 0.1 XBTC, step 0.01 USDT
    assert s.steps(Decimal("829.33")) == 82933
    assert s.unit_steps(Decimal("8293.3")) == 82933
    assert s.price(82933) == Decimal("829.33") and s.unit_price(82933) == Decimal("8293.3")
    with pytest.raises(ApiError) as e:
        s.steps(Decimal("829.333"))
    assert e.value.code == GwCode.INVALID_PRICE and "0.01" in e.value.message
    # a step above one minor unit: the Java gateway's price * 10^scale would be 10x off here
    s5 = sym(bsk=10**6, qsk=5)                  # lot 0.01 XBTC, step 0.05 USDT
    assert s5.steps(Decimal("600.05")) == 12001
    assert s5.price(12001) == Decimal("600.05")
    assert s5.unit_price(12001) == Decimal("60005")
    with pytest.raises(ApiError):
        s5.steps(Decimal("600.03"))
    with pytest.raises(ApiError):
        s5.unit_steps(Decimal("60003"))
    for bad in ("NaN", "Infinity", "-1", "1E+100"):
        with pytest.raises(ApiError) as e:
            s.steps(Decimal(bad))
        assert e.value.code == GwCode.INVALID_REQUEST and "price" in e.value.message


def test_minor_units():
    assert to_minor(Decimal("10.5"), 2, "amount") == 1050
    assert to_minor(Decimal("-0.01"), 2, "amount", allow_negative=True) == -1
    with pytest.raises(ApiError) as e:
        to_minor(Decimal("1.001"), 2, "amount")
    assert e.value.code == GwCode.PRECISION_IS_TOO_HIGH and "amount" in e.value.message
    with pytest.raises(ApiError):
        to_minor(Decimal("-1"), 2, "amount")
    with pytest.raises(ApiError):
        to_minor(Decimal("1e30"), 2, "amount")        # beyond 64 bits


def ns(y, mo, d, h=0, mi=0, s=0):
    return calendar.timegm((y, mo, d, h, mi, s)) * 10**9


def test_bars_timeframes_low_and_alignment():
    b = Bars()
    trades = [(ns(2026, 11, 25, 10, 1, 5), 100, 1), (ns(2026, 11, 25, 10, 3, 0), 90, 2),
              (ns(2026, 11, 25, 10, 4, 59), 120, 3), (ns(2026, 11, 25, 10, 5, 0), 95, 4),
              (ns(2026, 11, 25, 11, 0, 0), 80, 5)]
    for ts, price, vol in trades:
        b.trade(10, ts, price, vol)
    m1 = b.get(10, "M1")
    assert [x[0] for x in m1] == [ns(2026, 11, 25, 10, m) // 10**6 for m in (1, 3, 4, 5)] + \
        [ns(2026, 11, 25, 11) // 10**6]
    m5 = b.get(10, "M5")
    # [start, open, high, low, close, volume]: low is the minimum (the Java gateway got it wrong)
    assert m5[0] == [ns(2026, 11, 25, 10, 0) // 10**6, 100, 120, 90, 120, 6]
    assert m5[1] == [ns(2026, 11, 25, 10, 5) // 10**6, 95, 95, 95, 95, 4]
    h1 = b.get(10, "H1")
    assert h1[0] == [ns(2026, 11, 25, 10) // 10**6, 100, 120, 90, 95, 10] and h1[1][1:] == [80, 80, 80, 80, 5]
    d1 = b.get(10, "D1")
    assert d1 == [[ns(2026, 11, 25) // 10**6, 100, 120, 80, 80, 15]]
    w1 = b.get(10, "W1")
    assert w1[0][0] == ns(2026, 11, 23) // 10**6            # Monday 2026-11-23 00:00 UTC
    # a clock step backwards never reopens a closed bar
    b.trade(10, ns(2026, 11, 25, 10, 2), 70, 1)
    assert b.get(10, "M1")[-1][3] == 70 and len(b.get(10, "M1")) == 5
    # at most 100 closed bars + the current one
    for k in range(150):
        b.trade(11, ns(2026, 1, 1) + k * 60 * 10**9, 1, 1)
    assert len(b.get(11, "M1")) == 101


def test_signature_window_and_constant_secret():
    now = [1_000.0]
    ks = KeyStore(window_ms=5000, clock=lambda: now[0])
    k = ks.add(7)
    ts = 1_000_000
    sig = sign(k.secret, ts, "POST", "/p?q=1", b"{}")
    assert ks.verify(k.api_key, str(ts), sig, "POST", "/p?q=1", b"{}") is k
    for args in ((k.api_key, str(ts), sig, "POST", "/p?q=2", b"{}"), (k.api_key, str(ts), sig, "PUT", "/p?q=1", b"{}"),
                 (k.api_key, str(ts), sig, "POST", "/p?q=1", b"{ }"), (k.api_key, str(ts + 1), sig, "POST", "/p?q=1", b"{}")):
        with pytest.raises(ApiError):
            ks.verify(*args)
    now[0] = 1_006.0                                            # 6 s later: outside the window
    with pytest.raises(ApiError) as e:
        ks.verify(k.api_key, str(ts), sig, "POST", "/p?q=1", b"{}")
    assert "window" in e.value.message and ks.failures == 5
