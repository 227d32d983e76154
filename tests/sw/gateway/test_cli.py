"""``serve`` as a user runs it: a subprocess with the demo market, credentials printed and written,
an order placed with them, a clean stop on SIGTERM."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from ringgate.sw.gateway.cli import serve
from ringgate.sw.gateway.client import Client

ROOT = Path(__file__).resolve().parents[3]


def test_serve_demo_market_order_with_printed_credentials(tmp_path):
    creds_file = tmp_path / "creds.json"
    p = subprocess.Popen([sys.executable, "-m", "ringgate.sw.gateway.cli", "--port", "0", "--journal-dir",
                          str(tmp_path / "j"), "--credentials-file", str(creds_file)],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not creds_file.exists() and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.05)
        assert creds_file.exists(), p.stdout.read() if p.poll() is not None else "no credentials file"
        assert oct(creds_file.stat().st_mode & 0o777) == "0o600"
        creds = json.loads(creds_file.read_text())
        host, port = creds["url"].removeprefix("http://").split(":")
        uid, key = next(iter(creds["users"].items()))
        c = Client(host, int(port), key["apiKey"], key["secret"])
        st, book = c.get("/syncTradeApi/v1/symbols/XBTC_USDT/orderbook?depth=5")
        assert st == 200 and len(book["data"]["askPrices"]) == 5
        best_ask = book["data"]["askPrices"][0]
        st, b = c.post(f"/syncTradeApi/v1/symbols/XBTC_USDT/trade/{uid}/orders",
                       {"price": best_ask, "size": 3, "action": "BID", "orderType": "IOC"})
        assert st == 201 and b["data"]["filled"] == 3 and b["data"]["state"] == "COMPLETED"
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=20)
        assert p.returncode == 0, out
        assert f"uid {uid} key={key['apiKey']}" in out and "rg POST" in out and "stopped" in out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    r = CliRunner().invoke(serve, ["--help"])
    assert "--backend" in r.output and "127.0.0.1" in r.output


def test_serve_refuses_unconfigured_backend(monkeypatch):
    """The sim backend needs a running co-simulation; without one, serve refuses with the reason."""
    monkeypatch.delenv("RINGGATE_SIM_DIR", raising=False)
    r = CliRunner().invoke(serve, ["--port", "0", "--backend", "sim", "--no-demo"])
    assert r.exit_code == 2 and "RINGGATE_SIM_DIR" in r.output
    r = CliRunner().invoke(serve, ["--admin-key", "k"])
    assert r.exit_code == 2 and "both --admin-key and --admin-secret" in r.output


def test_serve_ingress_option_is_checked_and_refused_with_the_reason():
    dst = "02:52:47:00:00:01/10.0.0.2/9000"
    r = CliRunner().invoke(serve, ["--port", "0", "--no-demo", "--ingress", dst])
    assert r.exit_code == 2 and "--ingress needs a device" in r.output
    r = CliRunner().invoke(serve, ["--port", "0", "--no-demo", "--backend", "model", "--ingress", "10.0.0.2:9000"])
    assert r.exit_code == 2 and "is not MAC/IP/PORT" in r.output
    # The golden model has no Ethernet ingress: the driver says so (a board's does, docs/boards.md).
    r = CliRunner().invoke(serve, ["--port", "0", "--no-demo", "--backend", "model", "--ingress", dst])
    assert r.exit_code == 2 and "no Ethernet ingress (INGRESS_CAPS reads 0)" in r.output
