"""Authentication (HMAC-signed requests, timestamp window) and authorisation (admin only, own uid
only) with a real HTTP client."""
from __future__ import annotations

import time

from .helpers import A, SYM, T

from ringgate.sw.gateway.auth import sign
from ringgate.sw.gateway.client import signed_headers


def test_missing_and_bad_credentials_are_401(env):
    c = env.user()
    path = f"{T}/users/{c.uid}/state"
    st, b = env.public.get(path)
    assert st == 401 and b["gatewayResultCode"] == 1012 and "X-RG-APIKEY" in b["description"]
    st, b = env.public.get(path, headers={"X-RG-APIKEY": "rg-nope", "X-RG-TIMESTAMP": "1", "X-RG-SIGNATURE": "x"})
    assert st == 401 and "unknown API key" in b["description"]
    st, b = env.public.get(path, headers={"X-RG-APIKEY": c.api_key})
    assert st == 401 and "X-RG-TIMESTAMP" in b["description"]
    h = signed_headers(c.api_key, c.secret, "GET", path)
    h["X-RG-SIGNATURE"] = "0" * 64
    st, b = env.public.get(path, headers=h)
    assert st == 401 and "bad signature" in b["description"]
    old = int(time.time() * 1000) - 60_000
    st, b = env.public.get(path, headers=signed_headers(c.api_key, c.secret, "GET", path, timestamp=old))
    assert st == 401 and "window" in b["description"]
    st, b = env.public.get(path, headers={**signed_headers(c.api_key, c.secret, "GET", path), "X-RG-TIMESTAMP": "soon"})
    assert st == 401
    # the signature covers the body: a tampered body is refused
    opath = f"{T}/symbols/{SYM}/trade/{c.uid}/orders"
    body = b'{"price":"1.00","size":1,"action":"BID"}'
    h = signed_headers(c.api_key, c.secret, "POST", opath, body)
    st, b = env.public.post(opath, raw=body.replace(b'"size":1', b'"size":9'),
                            headers={**h, "Content-Type": "application/json"})
    assert st == 401 and "bad signature" in b["description"]
    # ... and the query string
    qpath = f"{T}/users/{c.uid}/state?x=1"
    h = signed_headers(c.api_key, c.secret, "GET", f"{T}/users/{c.uid}/state")
    st, b = env.public.get(qpath, headers=h)
    assert st == 401
    st, b = env.public.get(qpath, headers=signed_headers(c.api_key, c.secret, "GET", qpath))
    assert st == 200
    # a correctly signed request works with raw headers built by hand (what curl does)
    ts = int(time.time() * 1000)
    st, b = env.public.get(path, headers={"X-RG-APIKEY": c.api_key, "X-RG-TIMESTAMP": str(ts),
                                          "X-RG-SIGNATURE": sign(c.secret, ts, "GET", path)})
    assert st == 200 and b["data"]["uid"] == c.uid


def test_users_cannot_touch_each_other(env):
    alice, bob = env.user(), env.user()
    st, b = alice.post(f"{T}/symbols/{SYM}/trade/{alice.uid}/orders", {"price": "100.00", "size": 1, "action": "BID"})
    assert st == 201
    oid = b["data"]["orderId"]
    apath = f"{T}/symbols/{SYM}/trade/{alice.uid}/orders/{oid}"
    for method, path, body in (("GET", f"{T}/users/{alice.uid}/state", None),
                               ("GET", f"{T}/users/{alice.uid}/history", None),
                               ("GET", apath, None), ("DELETE", apath, None), ("PUT", apath, {"price": "99.00"}),
                               ("POST", apath + "/reduce", {"reduceSize": 1}),
                               ("POST", f"{T}/symbols/{SYM}/trade/{alice.uid}/orders",
                                {"price": "1.00", "size": 1, "action": "BID"})):
        st, b = bob.request(method, path, body)
        assert st == 403 and b["gatewayResultCode"] == 1013, (method, path, b)
        assert str(bob.uid) in b["description"] and str(alice.uid) in b["description"]
    # bob addressing alice's order id under his own uid: the engine refuses (unknown order), order intact
    st, b = bob.delete(f"{T}/symbols/{SYM}/trade/{bob.uid}/orders/{oid}")
    assert st == 400 and b["coreResultCode"] == -3002 and b["data"] is None
    st, b = alice.get(apath)
    assert b["data"]["state"] == "ACTIVE"


def test_admin_credential(env):
    u = env.user()
    for path, body in ((f"{A}/users", {"uid": 77}), (f"{A}/assets", {"assetCode": "X", "assetId": 99, "scale": 1}),
                       (f"{A}/users/{u.uid}/apikeys", None)):
        st, b = u.post(path, body)
        assert st == 403 and b["gatewayResultCode"] == 1013 and "admin" in b["description"]
        st, b = env.public.post(path, body)
        assert st == 401
    # the admin may read a user's state but never trade as that user
    st, b = env.admin.get(f"{T}/users/{u.uid}/state")
    assert st == 200
    st, b = env.admin.post(f"{T}/symbols/{SYM}/trade/{u.uid}/orders", {"price": "1.00", "size": 1, "action": "BID"})
    assert st == 403
    # revoked keys stop working
    st, b = env.admin.delete(f"{A}/users/{u.uid}/apikeys")
    assert b["data"] == 1
    st, b = u.get(f"{T}/users/{u.uid}/state")
    assert st == 401 and "unknown API key" in b["description"]


def test_replayed_order_is_refused(env):
    c = env.user()
    path = f"{T}/symbols/{SYM}/trade/{c.uid}/orders"
    body = b'{"price":"5.00","size":1,"action":"BID"}'
    h = {**signed_headers(c.api_key, c.secret, "POST", path, body), "Content-Type": "application/json"}
    st, b = env.public.post(path, raw=body, headers=h)
    assert st == 201
    st, b = env.public.post(path, raw=body, headers=h)            # the same signed bytes again
    assert st == 401 and "replayed" in b["description"]
    st, s = c.get(f"{T}/users/{c.uid}/state")
    assert len(s["data"]["activeOrders"]) == 1                    # one order, not two
    # reads may be repeated (nothing changes), and new timestamps are fine
    gpath = f"{T}/users/{c.uid}/state"
    gh = signed_headers(c.api_key, c.secret, "GET", gpath)
    assert env.public.get(gpath, headers=gh)[0] == 200 and env.public.get(gpath, headers=gh)[0] == 200
    for _ in range(3):                                             # identical bodies, client timestamps
        assert c.post(path, {"price": "5.00", "size": 1, "action": "BID"})[0] == 201


def test_replay_cache_survives_a_restart_and_its_files_rotate(tmp_path):
    """The replay cache on disk: a signature accepted before a restart is refused after it while
    inside the window; the two files are reused in turn only once everything in them expired."""
    from ringgate.sw.gateway.auth import KeyStore
    from ringgate.sw.gateway.errors import ApiError
    now = [1_000_000.0]
    clock = lambda: now[0]                                   # noqa: E731
    ks = KeyStore(window_ms=1000, clock=clock, replay_dir=tmp_path)
    k = ks.add(5)

    def post(ts, body=b"{}", store=ks):
        return store.verify(k.api_key, ts, sign(k.secret, ts, "POST", "/x", body), "POST", "/x", body)
    t = int(now[0] * 1000)
    post(t)
    ks.log.close()
    ks2 = KeyStore(window_ms=1000, clock=clock, replay_dir=tmp_path)
    ks2.keys = ks.keys
    try:
        post(t, store=ks2)
        raise AssertionError("replay accepted after a restart")
    except ApiError as exc:
        assert "replayed" in exc.message
    # time passes: records written more than 2 windows + 1 s ago are dropped with their file
    sizes = []
    for step in range(20):
        now[0] += 0.9
        post(int(now[0] * 1000), b"%d" % step, store=ks2)
        sizes.append(sorted(p.stat().st_size for p in tmp_path.glob("replay-*.log")))
    # a file is reused once everything in it is over 2 windows + 1 s old: at most ~2 x 3.4 steps kept
    assert max(sum(x) for x in sizes) <= 9 * 24 < 21 * 24
    ks2.log.close()
    now[0] += 0.5
    ks3 = KeyStore(window_ms=1000, clock=clock, replay_dir=tmp_path)
    assert len(ks3.log.records) == 1                              # only the last one is still inside
    ks3.log.close()
