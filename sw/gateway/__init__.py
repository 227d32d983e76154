"""ringgate gateway: exchange-gateway-rest's REST API and WebSocket topics over ``sw.exchange``.

``Gateway(exchange).start(host, port)`` on a running (uv)loop; ``gateway.feed.submit(entries)``
for FPGA ring batches; ``python -m sw.gateway.cli`` / ``ringgate serve``; docs/gateway.md.
"""
