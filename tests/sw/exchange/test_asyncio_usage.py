"""The pattern the gateway uses: an asyncio loop awaiting ExchangeService futures while a listener
forwards every result to the loop (e.g. for WebSocket pushes), in sequence order."""
from __future__ import annotations

import asyncio

from ringgate.sw.exchange import (Exchange, ExchangeService, OrderAction, OrderType, RejectEvent, TradeEvent, place)

from .conftest import BTC_USDT, fund_commands, setup_commands


def test_await_results_and_stream_events(tmp_path):
    async def main():
        loop = asyncio.get_running_loop()
        ex = Exchange.open(tmp_path)
        pushed: asyncio.Queue = asyncio.Queue()
        ex.subscribe(lambda r: loop.call_soon_threadsafe(pushed.put_nowait, r))
        svc = ExchangeService(ex)
        try:
            setup = await asyncio.gather(*(asyncio.wrap_future(f)
                                           for f in svc.submit_many(setup_commands() + fund_commands())))
            assert all(r.ok for r in setup)
            maker, taker = await asyncio.gather(
                asyncio.wrap_future(svc.submit(place(1, BTC_USDT, 101, OrderAction.ASK, 82933, 3))),
                asyncio.wrap_future(svc.submit(place(2, BTC_USDT, 102, OrderAction.BID, 82941, 4,
                                                     order_type=OrderType.IOC))))
            assert maker.ok and taker.ok and taker.seq == maker.seq + 1
            assert [type(e) for e in taker.events] == [RejectEvent, TradeEvent]
            seen = [await pushed.get() for _ in range(len(setup) + 2)]
            assert [r.seq for r in seen] == list(range(1, len(setup) + 3))
            assert seen[-1] == taker
        finally:
            svc.close()
            ex.close()

    asyncio.run(main())
