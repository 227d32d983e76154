"""``ringgate serve``: the gateway on 127.0.0.1 with an embedded demo market.

The ``ringgate`` command line loads :data:`serve` from here; it also runs standalone:
``python -m ringgate.sw.gateway.cli --port 8080``.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import threading

import click

__all__ = ["serve", "attach_backend", "resolve_backend"]

_FSYNC = ("batch", "interval", "never")


def resolve_backend(backend: str):
    """The driver's ring opener (:func:`ringgate.sw.driver.open_ring`) once ``backend`` is known
    to be installed; click.UsageError with the reason otherwise. Checked before anything starts.

    The driver's ``RingConsumer`` hands zero-copy ENTRY_DTYPE views to a callback; the gateway's
    ``RingFeed.submit`` is that callback (it copies the entries into commands before returning)."""
    from ringgate.sw.driver import open_ring
    from ringgate.sw.driver.backends import backends

    if backend == "none":
        return None
    if backend not in backends():
        raise click.UsageError(f"backend {backend!r} is not installed (known: {', '.join(sorted(backends()))})")
    return open_ring


def attach_backend(gateway, backend: str, opener, stop: threading.Event, poll: str = "adaptive",
                   ingress=None) -> str:
    """Start the ring-feed thread of ``backend`` (none for ``backend == "none"``: no thread);
    ``ingress`` (an Endpoint): also set up the device's Ethernet ingress for that destination."""
    if backend == "none":
        return "FPGA ring feed: none (REST only; --backend model|sim|linux attaches one)"
    try:
        consumer = opener(backend, gateway.feed.submit, poll=poll,
                          **({} if ingress is None else {"ingress": ingress}))
    except Exception as e:          # device missing or misconfigured: the driver says why
        raise click.UsageError(f"backend {backend!r}: {e}") from None

    def run():
        try:
            consumer.run(stop=stop.is_set)
        except Exception as e:      # device gone (co-simulation stopped, board reset...)
            logging.getLogger("ringgate.gateway").error(
                "FPGA ring feed (%s backend) stopped: %s; REST keeps serving", backend, e)
    threading.Thread(target=run, name="ring-feed", daemon=True).start()
    return (f"FPGA ring feed: {backend} backend, {poll} polling"
            + ("" if ingress is None else f"; Ethernet ingress takes orders for {ingress}"))


def tune_gc():
    """Fewer, cheaper cyclic-GC passes for a long-running server.

    The engine and the registry keep one Python object per resting order (and more), none of them
    in reference cycles that need collecting; with CPython's default thresholds (700, 10, 10) a
    large book triggers full collections that scan every one of them again and again: under
    load, loop iterations stretched to hundreds of milliseconds (measured with the open-loop
    benchmark). Objects alive at start-up are frozen out of collection, and the young generation
    is collected every 50,000 allocations instead of 700."""
    import gc
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _curl_help(host: str, port: int, key: dict) -> str:
    base = f"http://{host}:{port}"
    return f"""
  # sign and send (bash + openssl): rg METHOD PATH [JSON]
  export RG={base} RG_KEY={key['apiKey']} RG_SECRET={key['secret']}
  rg() {{ ts=$(date +%s%3N); sig=$(printf '%s%s%s%s' "$ts" "$1" "$2" "$3" | openssl dgst -sha256 -hmac "$RG_SECRET" | sed 's/^.* //');
         curl -s -X "$1" "$RG$2" -H "X-RG-APIKEY: $RG_KEY" -H "X-RG-TIMESTAMP: $ts" -H "X-RG-SIGNATURE: $sig" \\
              ${{3:+-H 'Content-Type: application/json' --data "$3"}}; echo; }}
  curl -s {base}/syncTradeApi/v1/symbols/XBTC_USDT/orderbook?depth=5; echo
  rg POST /syncTradeApi/v1/symbols/XBTC_USDT/trade/{key['uid']}/orders '{{"unitPrice":60010,"size":2,"action":"BID","orderType":"GTC"}}'
  rg GET /syncTradeApi/v1/users/{key['uid']}/state
"""


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--journal-dir", type=click.Path(file_okay=False), default=None,
              help="journal + snapshots + gateway metadata; omitted = in memory (state lost on exit)")
@click.option("--fsync", type=click.Choice(_FSYNC), default="batch", show_default=True,
              help="when an acknowledged command is durable: batch = on disk before the reply")
@click.option("--backend", type=click.Choice(("none", "model", "sim", "linux")), default="none", show_default=True,
              help="where FPGA ring entries come from (none: REST only, no ring-poll thread)")
@click.option("--poll", type=click.Choice(("adaptive", "busy", "sleep")), default="adaptive", show_default=True,
              help="how the ring-feed thread waits: adaptive back-off (spin, yield, sleep up to 1 ms), "
                   "busy (a whole core, lowest latency) or sleep (fixed 50 us naps)")
@click.option("--ingress", metavar="MAC/IP/PORT", default=None,
              help="also set up the FPGA's Ethernet ingress to take order datagrams for this destination "
                   "(e.g. 02:52:47:00:00:01/10.0.0.2/9000); omitted: the ingress is left as it is")
@click.option("--demo/--no-demo", default=True, show_default=True,
              help="create the demo market on an empty exchange")
@click.option("--admin-key", envvar="RINGGATE_ADMIN_KEY", default=None, help="admin API key (env RINGGATE_ADMIN_KEY)")
@click.option("--admin-secret", envvar="RINGGATE_ADMIN_SECRET", default=None,
              help="admin secret (env RINGGATE_ADMIN_SECRET)")
@click.option("--credentials-file", type=click.Path(dir_okay=False), default=None,
              help="also write the printed credentials as JSON here (mode 0600)")
@click.option("--auth-window-ms", default=5000, show_default=True, type=click.IntRange(100, 600_000))
@click.option("--snapshot-every", default=1_000_000, show_default=True, type=click.IntRange(0),
              help="commands between snapshots of the exchange and the gateway's history (0: never)")
def serve(host, port, journal_dir, fsync, backend, poll, ingress, demo, admin_key, admin_secret, credentials_file,
          auth_window_ms, snapshot_every):
    """Serve the REST/WebSocket gateway (exchange-gateway-rest API + /ws topics)."""
    import uvloop

    from ringgate.sw.exchange import Exchange, FsyncPolicy

    from .app import Gateway
    from .demo import DEMO_USERS, install_demo
    from .persist import recover

    opener = resolve_backend(backend)
    if ingress is not None:
        from ringgate.contracts.datagram import Endpoint
        if backend == "none":
            raise click.UsageError("--ingress needs a device: give --backend sim or linux")
        try:
            ingress = Endpoint.parse(ingress)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--ingress") from None
    # the sequencer thread (BATCH / INTERVAL fsync) hands results back to the loop: with the default
    # 5 ms GIL switch interval each hand-off can wait that long under load
    sys.setswitchinterval(0.0002)
    tune_gc()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if (admin_key is None) != (admin_secret is None):
        raise click.UsageError("give both --admin-key and --admin-secret, or neither (one is generated)")
    history, note = None, "history: in memory"
    if journal_dir:
        ex, history, note = recover(journal_dir, fsync=FsyncPolicy(fsync), background_snapshots=True,
                                    snapshot_every=snapshot_every)
    else:
        ex = Exchange.in_memory()
    gw = Gateway(ex, meta_dir=journal_dir, auth_window_ms=auth_window_ms, history=history)
    admins = [k for k in gw.keys.keys.values() if k.admin]
    if admin_key:
        admin = gw.keys.keys.get(admin_key) or gw.add_key(0, "admin", admin_key, admin_secret)
        if admin.secret != admin_secret:
            raise click.UsageError("--admin-key exists in the journal directory with another secret")
    elif admins:
        admin = admins[0]
    else:
        admin = gw.add_key(0, "admin")
    creds = {"admin": admin.view(), "users": {}}
    if demo and ex.seq == 0:
        creds["users"] = install_demo(gw)["users"]
    elif demo:
        creds["users"] = {k.uid: k.view() for k in gw.keys.keys.values() if k.uid in DEMO_USERS}
    stop = threading.Event()
    feed_note = None

    async def main():
        nonlocal feed_note
        bound = await gw.start(host, port)
        feed_note = attach_backend(gw, backend, opener, stop, poll, ingress)
        click.echo(f"ringgate gateway on http://{host}:{bound}  (WebSocket ws://{host}:{bound}/ws, "
                   f"OpenAPI /openapi.json)")
        click.echo(f"  journal: {journal_dir or 'none (in memory)'}, fsync={fsync}; {note}; {feed_note}")
        click.echo(f"  admin   key={admin.api_key} secret={admin.secret}")
        for uid, k in sorted(creds["users"].items()):
            click.echo(f"  uid {uid} key={k['apiKey']} secret={k['secret']}")
        if creds["users"]:
            first = creds["users"][sorted(creds["users"])[0]]
            click.echo(_curl_help(host, bound, first))
        if credentials_file:
            fd = os.open(credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"url": f"http://{host}:{bound}", **creds}, f, indent=2)
        sys.stdout.flush()
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        await done.wait()
        stop.set()
        await gw.stop()
        ex.close()
        click.echo("stopped")

    uvloop.run(main())


if __name__ == "__main__":
    serve()
