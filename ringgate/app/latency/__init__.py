"""Latency of the whole path, from the first byte on the wire to the WebSocket frame.

- :mod:`.replay`: the real-time host measurement (``ringgate latency``): the golden model writes
  entries and cursor lines into host memory from another process, paced open-loop, while the
  real consumer -> sequencer -> engine -> gateway path runs with a WebSocket client subscribed;
- :mod:`.budget`: the budget of one run (every stage labelled by how it is known) and its two
  figures: the waterfall and the like-for-like comparison with the technology-selection note;
- :mod:`.timing`: one order cycle by cycle, a WaveDrom-style SVG drawn from the simulation's trace;
- :mod:`.compare`: ``ringgate report compare OLD NEW``.
"""
