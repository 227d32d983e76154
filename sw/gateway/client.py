"""A small signing client for the gateway (stdlib ``http.client``; one keep-alive connection).

    c = Client("127.0.0.1", 8080, api_key, secret)
    status, body = c.post("/syncTradeApi/v1/symbols/XBTC_USDT/trade/1001/orders",
                          {"price": "60.00", "size": 1, "action": "BID", "orderType": "GTC"})
"""
from __future__ import annotations

import http.client
import json
import threading
import time

from .auth import sign

__all__ = ["Client", "signed_headers"]


_last: dict[str, tuple[int, set]] = {}       # api key -> (last timestamp, signatures used with it)
_lock = threading.Lock()


def signed_headers(api_key: str, secret: str, method: str, path: str, body: bytes = b"",
                   timestamp: int | None = None) -> dict:
    """Signing headers with the current time in milliseconds.

    The server refuses a state-changing request whose signature it has already seen, and a
    signature repeats only for an identical request in the same millisecond: only then does this
    wait for the next millisecond. Timestamps never run ahead of the clock (a burst of thousands of
    requests a second stays inside the server's window)."""
    if timestamp is not None:
        return {"X-RG-APIKEY": api_key, "X-RG-TIMESTAMP": str(timestamp),
                "X-RG-SIGNATURE": sign(secret, timestamp, method, path, body)}
    with _lock:
        while True:
            now = int(time.time() * 1000)
            last, used = _last.get(api_key, (0, set()))
            ts = now if now > last else last       # a clock step back does not reuse older times
            if ts != last:
                used = set()
            sig = sign(secret, ts, method, path, body)
            if sig not in used:
                break
            time.sleep(max(0.0, (ts + 1) / 1000 - time.time()))
        used.add(sig)
        _last[api_key] = (ts, used)
    return {"X-RG-APIKEY": api_key, "X-RG-TIMESTAMP": str(ts), "X-RG-SIGNATURE": sig}


class Client:
    def __init__(self, host: str, port: int, api_key: str | None = None, secret: str | None = None,
                 timeout: float = 10.0):
        self.host, self.port = host, port
        self.api_key, self.secret = api_key, secret
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def as_user(self, api_key: str, secret: str) -> "Client":
        return Client(self.host, self.port, api_key, secret, self.timeout)

    def request(self, method: str, path: str, body=None, sign_it: bool | None = None,
                headers: dict | None = None, raw: bytes | None = None):
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        h = {"Content-Type": "application/json"} if data else {}
        if (sign_it is None and self.api_key) or sign_it:
            h.update(signed_headers(self.api_key, self.secret, method, path, data))
        h.update(headers or {})
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=data or None, headers=h)
                res = self.conn.getresponse()
                break
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                # the server closed an idle keep-alive connection (it does so only with nothing in
                # flight, so the request was not processed): reconnect and send it once more
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                if attempt:
                    raise
        payload = res.read()
        try:
            return res.status, json.loads(payload) if payload else None
        except ValueError:
            return res.status, payload

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def close(self):
        self.conn.close()
