"""API keys with HMAC-SHA256 request signatures (the scheme of Binance / Coinbase / Kraken style
trading APIs), and the admin credential.

A signed request carries three headers::

    X-RG-APIKEY:    the key id
    X-RG-TIMESTAMP: milliseconds since the epoch when the client signed
    X-RG-SIGNATURE: hex HMAC-SHA256(secret, timestamp + METHOD + path[?query] + body)

The server recomputes the signature over the exact bytes it received and refuses a timestamp
more than ``window_ms`` away from its clock, so a captured request cannot be replayed later; a
state-changing request (anything but GET/HEAD) whose signature was already seen inside the window
is refused as a replay, so it cannot be replayed sooner either. Two identical requests therefore
need different timestamps (the bundled client moves to the next millisecond only then).
Signatures are compared in constant time.

The replay cache is durable when the key store has a directory: every accepted state-changing
signature is appended (one ``write`` before the request is acted on, so it is in the page cache
before anything it causes is journaled) to ``replay-0.log`` / ``replay-1.log``, two files used in
turn, each truncated only when everything in it has expired. A restart reloads what is still
inside the window, so a request accepted before a crash (kill -9 included) is refused after it.
The files are not fsynced: after a power loss, the host's reboot outlasts a window of seconds.

A WebSocket client authenticates with one message ``{"op": "auth", "apiKey", "timestamp",
"signature"}`` where the signature is over ``timestamp + "GET" + "/ws"``.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import struct
import time
from collections import deque
from pathlib import Path

from .errors import ApiError, GwCode

__all__ = ["Key", "KeyStore", "sign", "HEADER_KEY", "HEADER_TS", "HEADER_SIG"]

HEADER_KEY = "x-rg-apikey"
HEADER_TS = "x-rg-timestamp"
HEADER_SIG = "x-rg-signature"


def sign(secret: str, timestamp: int | str, method: str, path: str, body: bytes = b"") -> str:
    msg = f"{timestamp}{method.upper()}{path}".encode() + body
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


class Key:
    __slots__ = ("api_key", "secret", "uid", "role", "_mac")

    def __init__(self, api_key: str, secret: str, uid: int, role: str = "user"):
        self.api_key = api_key
        self.secret = secret
        self.uid = uid
        self.role = role
        self._mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)   # keyed once, copied per request

    @property
    def admin(self) -> bool:
        return self.role == "admin"

    def view(self) -> dict:
        return {"uid": self.uid, "apiKey": self.api_key, "secret": self.secret, "role": self.role}

    def check(self, msg: bytes, signature: str) -> bool:
        m = self._mac.copy()
        m.update(msg)
        return hmac.compare_digest(m.hexdigest(), signature)


_RECORD = struct.Struct("<Q16s")           # expiry (ms since the epoch), first 16 bytes of the signature


class ReplayLog:
    """Accepted signatures on disk, so the replay cache survives a restart (two files in turn)."""

    def __init__(self, directory: str | Path, window_ms: int, now_ms: int):
        self.paths = [Path(directory) / f"replay-{i}.log" for i in (0, 1)]
        self.window_ms = window_ms
        self.records: list[tuple[int, bytes]] = []
        for p in self.paths:
            if p.exists():
                data = p.read_bytes()
                usable = len(data) - len(data) % _RECORD.size        # a torn last record is dropped
                for expiry, digest in _RECORD.iter_unpack(data[:usable]):
                    if expiry >= now_ms:
                        self.records.append((expiry, digest))
        self.records.sort()
        # what is still valid goes into file 0 (by rename: a crash here loses nothing), then file 1
        # starts empty and file 0 is appended to
        tmp = self.paths[0].with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"".join(_RECORD.pack(e, d) for e, d in self.records))
        finally:
            os.close(fd)
        os.replace(tmp, self.paths[0])
        os.close(os.open(self.paths[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        self.current = 0
        self.fd = os.open(self.paths[0], os.O_WRONLY | os.O_APPEND, 0o600)
        self.started = now_ms

    def _open(self, i: int, now_ms: int):
        self.current = i
        self.fd = os.open(self.paths[i], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        self.started = now_ms

    def add(self, expiry: int, digest: bytes, now_ms: int):
        # A record can matter until its expiry, at most 2 windows after it is written (timestamps
        # may be a window ahead): once the current file is older than that, the other one holds
        # only expired records and is reused.
        if now_ms - self.started > 2 * self.window_ms + 1000:
            os.close(self.fd)
            self._open(1 - self.current, now_ms)
        os.write(self.fd, _RECORD.pack(expiry, digest))

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class KeyStore:
    """API keys, signature checks and the replay cache (durable with ``replay_dir``)."""

    def __init__(self, window_ms: int = 5000, clock=time.time, replay_dir: str | Path | None = None):
        self.keys: dict[str, Key] = {}
        self.window_ms = window_ms
        self.clock = clock
        self.failures = 0
        self.replays = 0
        self._seen: set[bytes] = set()          # signatures of state-changing requests in the window
        self._expiry: deque = deque()           # (expiry ms, signature), roughly oldest first
        self.log: ReplayLog | None = None
        if replay_dir is not None:
            self.log = ReplayLog(replay_dir, window_ms, int(clock() * 1000))
            for expiry, digest in self.log.records:
                self._seen.add(digest)
                self._expiry.append((expiry, digest))

    def add(self, uid: int, role: str = "user", api_key: str | None = None, secret: str | None = None) -> Key:
        k = Key(api_key or "rg" + secrets.token_hex(10), secret or secrets.token_urlsafe(32), uid, role)
        self.keys[k.api_key] = k
        return k

    def revoke(self, uid: int) -> list[Key]:
        """Remove every user key of ``uid``; returns them (so their sessions can be ended)."""
        gone = [v for v in self.keys.values() if v.uid == uid and v.role == "user"]
        for k in gone:
            del self.keys[k.api_key]
        return gone

    def _fail(self, message: str):
        self.failures += 1
        raise ApiError(GwCode.UNAUTHORIZED, message)

    def verify(self, api_key: str | None, timestamp: str | int | None, signature: str | None,
               method: str, path: str, body: bytes = b"") -> Key:
        """The key a request was signed with; ApiError(401) naming what is wrong otherwise."""
        if not api_key:
            self._fail(f"missing {HEADER_KEY.upper()} header: this endpoint needs a signed request")
        key = self.keys.get(api_key)
        if key is None:
            self._fail("unknown API key")
        if timestamp is None or signature is None:
            self._fail(f"missing {HEADER_TS.upper()} or {HEADER_SIG.upper()} header")
        try:
            ts = int(timestamp)
        except (TypeError, ValueError):
            self._fail(f"{HEADER_TS.upper()} must be milliseconds since the epoch")
        now = int(self.clock() * 1000)
        if abs(now - ts) > self.window_ms:
            self._fail(f"timestamp {ts} is outside the {self.window_ms} ms window around server time {now}")
        if not key.check(f"{timestamp}{method}{path}".encode() + body, str(signature)):
            self._fail("bad signature: expected hex HMAC-SHA256(secret, timestamp + METHOD + path + body)")
        if method != "GET" and method != "HEAD":
            exp = self._expiry
            while exp and exp[0][0] < now:
                self._seen.discard(exp.popleft()[1])
            digest = bytes.fromhex(signature)[:16]      # a checked signature is 64 hex digits
            if digest in self._seen:
                self.replays += 1
                self._fail("replayed request: this signature was already used; sign each request with a "
                           "new timestamp")
            expiry = ts + self.window_ms
            if self.log is not None:
                self.log.add(expiry, digest, now)       # on disk before the request is acted on
            self._seen.add(digest)
            exp.append((expiry, digest))
        return key
