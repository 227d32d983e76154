"""ringgate gateway: exchange-gateway-rest's REST API and WebSocket topics over ``ringgate.sw.exchange``.

``Gateway(exchange).start(host, port)`` on a running (uv)loop; ``gateway.feed.submit(entries)``
for FPGA ring batches; ``python -m ringgate.sw.gateway.cli`` / ``ringgate serve``; docs/gateway.md.
"""
