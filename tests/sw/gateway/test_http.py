"""HTTP/1.1 framing of the hand-rolled server, over raw sockets: keep-alive, pipelining (in-order
answers even when a later handler finishes first), chunked bodies, limits and timeouts."""
from __future__ import annotations

import json
import socket
import time

import pytest

from .helpers import SYM, T, closed, raw, read_responses, setup_market, signed_request, start_env

from ringgate.sw.gateway.client import signed_headers
from ringgate.sw.gateway.http import Limits


@pytest.fixture(scope="module")
def small():
    env, stop = start_env(limits=Limits(max_body=2048, max_header=1024, max_connections=40, idle_timeout=0.6,
                                        request_timeout=0.6, max_pipelined=8))
    setup_market(env.admin)
    yield env
    stop()


def test_keep_alive_and_http10(small):
    s = raw(small.port)
    for _ in range(3):
        s.sendall(f"GET {T}/ping HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        (st, h, body), = read_responses(s, 1)
        assert st == 200 and "connection" not in h and json.loads(body)["data"] is None
    s.sendall(f"GET {T}/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    (st, h, _), = read_responses(s, 1)
    assert h["connection"] == "close" and closed(s)
    s = raw(small.port)
    s.sendall(f"GET {T}/ping HTTP/1.0\r\n\r\n".encode())
    (st, h, _), = read_responses(s, 1)
    assert st == 200 and h["connection"] == "close" and closed(s)
    s = raw(small.port)
    s.sendall(f"HEAD {T}/time HTTP/1.1\r\nHost: x\r\n\r\nGET {T}/ping HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    s.settimeout(5)
    data = b""
    while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"}"):
        data += s.recv(65536)
    head1, rest = data.split(b"\r\n\r\n", 1)
    assert rest.startswith(b"HTTP/1.1 200")                # HEAD: headers only, no body
    s.close()


def test_pipelining_answers_in_order(small):
    u = small.user()
    path = f"{T}/symbols/{SYM}/trade/{u.uid}/orders"
    # sync (ping) / async (place: sequencer round trip) / sync / async / sync, all in one write
    reqs = [f"GET {T}/ping HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
            signed_request(u, "POST", path, {"price": "100.00", "size": 1, "action": "BID", "userCookie": 1}),
            f"GET {T}/time HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
            signed_request(u, "POST", path, {"price": "100.00", "size": 1, "action": "BID", "userCookie": 2}),
            f"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n".encode()]
    s = raw(small.port)
    s.sendall(b"".join(reqs))
    res = read_responses(s, 5)
    assert [r[0] for r in res] == [200, 201, 200, 201, 404]
    assert [json.loads(res[i][2])["data"]["userCookie"] for i in (1, 3)] == [1, 2]
    assert "epoch" in json.loads(res[2][2])["data"]
    # more pipelined requests than max_pipelined: reading pauses and resumes, all answered in order
    many = [signed_request(u, "POST", path, {"price": "100.00", "size": 1, "action": "BID", "userCookie": 10 + i})
            for i in range(30)]
    s.sendall(b"".join(many))
    res = read_responses(s, 30)
    assert [json.loads(r[2])["data"]["userCookie"] for r in res] == list(range(10, 40))
    s.close()


def test_chunked_body(small):
    u = small.user()
    path = f"{T}/symbols/{SYM}/trade/{u.uid}/orders"
    body = json.dumps({"price": "100.00", "size": 2, "action": "BID", "userCookie": 7}).encode()
    h = signed_headers(u.api_key, u.secret, "POST", path, body)
    hdr = "".join(f"{k}: {v}\r\n" for k, v in h.items())
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 10]), body[i:i + 10]) for i in range(0, len(body), 10))
    s = raw(small.port)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n{hdr}Content-Type: application/json\r\n"
              f"Transfer-Encoding: chunked\r\n\r\n".encode())
    time.sleep(0.05)                                   # body in separate segments
    s.sendall(chunks)
    time.sleep(0.05)
    s.sendall(b"0\r\n\r\n")
    (st, _, b), = read_responses(s, 1)
    assert st == 201 and json.loads(b)["data"]["userCookie"] == 7
    # a chunked body over the limit: 413 and close
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
              + b"".join(b"400\r\n" + b"x" * 1024 + b"\r\n" for _ in range(3)))
    (st, h, b), = read_responses(s, 1)
    assert st == 413 and json.loads(b)["gatewayResultCode"] == 1016 and closed(s)


def test_body_and_header_limits(small):
    s = raw(small.port)
    s.sendall(f"POST {T}/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n".encode())
    (st, h, b), = read_responses(s, 1)
    assert st == 413 and "2048" in json.loads(b)["description"] and closed(s)
    s = raw(small.port)
    s.sendall(f"GET {T}/ping HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 2000}\r\n\r\n".encode())
    (st, h, b), = read_responses(s, 1)
    assert st == 431 and json.loads(b)["gatewayResultCode"] == 1021 and closed(s)
    s = raw(small.port)
    s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
    (st, h, b), = read_responses(s, 1)
    assert st == 400 and "malformed" in json.loads(b)["description"] and closed(s)


def test_timeouts(small):
    s = raw(small.port)                            # idle keep-alive connection is closed
    s.sendall(f"GET {T}/ping HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    read_responses(s, 1)
    t0 = time.monotonic()
    assert closed(s, timeout=5) and time.monotonic() - t0 < 4
    s = raw(small.port)                            # slowloris: headers never finish -> 408
    s.sendall(f"GET {T}/ping HTTP/1.1\r\nHost: x\r\n".encode())
    (st, h, b), = read_responses(s, 1)
    assert st == 408 and json.loads(b)["gatewayResultCode"] == 1022 and closed(s)
    s = raw(small.port)                            # body never finishes -> 408
    s.sendall(f"POST {T}/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc".encode())
    (st, h, b), = read_responses(s, 1)
    assert st == 408


def test_connection_limit(small):
    socks = []
    try:
        for _ in range(60):
            socks.append(raw(small.port))
        time.sleep(0.3)
        refused = 0
        for s in socks:
            s.settimeout(0.05)
            try:
                if s.recv(4096).startswith(b"HTTP/1.1 503"):
                    refused += 1
            except (socket.timeout, ConnectionResetError):
                pass
        assert refused >= 60 - 40
        assert small.gw.http.refused >= refused
    finally:
        for s in socks:
            s.close()
    time.sleep(0.2)
    s = raw(small.port)                            # capacity is back once they are gone
    s.sendall(f"GET {T}/ping HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert read_responses(s, 1)[0][0] == 200


def test_odd_requests_get_clean_answers(small):
    cases = [(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 404),
             (f"GET http://x{T}/ping HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 200),          # absolute form
             (b"GET /\xff\xfe HTTP/1.1\r\n\r\n", 400),
             (f"POST {T}/ping HTTP/1.1\r\nContent-Length: -5\r\n\r\n".encode(), 400),
             (f"POST {T}/ping HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".encode(),
              400),                                                                    # smuggling shape
             (b"GET /other HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 404),
             (f"GET {T}/ping HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n".encode(), 200),
             (b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 400)]   # no key
    for req, status in cases:
        s = raw(small.port)
        s.sendall(req)
        s.settimeout(5)
        head = s.recv(4096)
        assert head.startswith(b"HTTP/1.1 %d" % status), (req, head[:200])
        s.close()
    assert small.gw.http.errors == 0
