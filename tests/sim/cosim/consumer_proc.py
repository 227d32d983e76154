"""A host process for the co-simulation tests: RingConsumer over SimDevice, in its own process.

    python -m tests.sim.cosim.consumer_proc DIR OUT --until N [--ring R] [--delay-us D] [--attach]

Consumes entries until sequence ``N`` (possibly a few more: a poll takes what the cursor announces) and appends their raw bytes to ``OUT``; with
``--attach`` it resumes on the ring a previous process left (state line in the shared host
memory: bus address from ``OUT.state``). Writes ``OUT.state`` (JSON) when done.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ringgate.sim.cosim.device import SimDevice
from ringgate.sw.driver.consumer import RingConsumer, buffer_bytes


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("out")
    ap.add_argument("--until", type=int, required=True, help="consume until this sequence")
    ap.add_argument("--ring", type=int, default=64)
    ap.add_argument("--delay-us", type=float, default=0.0)
    ap.add_argument("--doorbell-every", type=int, default=8)
    ap.add_argument("--attach", action="store_true")
    ap.add_argument("--health", type=float, default=1.0, help="idle health-check period (s)")
    a = ap.parse_args(argv)
    out = Path(a.out)
    state = Path(a.out + ".state")
    dev = SimDevice(a.dir, timeout=120)
    fh = open(out, "ab")

    def on_batch(view):
        fh.write(view.tobytes())
        if a.delay_us:
            time.sleep(a.delay_us * 1e-6)

    kw = dict(callback=on_batch, poll="sleep", doorbell_every=a.doorbell_every, idle_sleep=20e-6,
              health_every=a.health, batch_limit=16, cursor_interval=2)
    if a.attach:
        prev = json.loads(state.read_text())
        buf = dev.buffer(prev["bus"], buffer_bytes(a.ring))
        c = RingConsumer.attach(dev, buf, a.ring, **kw)
    else:
        c = RingConsumer.open(dev, a.ring, **kw)
    first = c.next
    got = c.run(count=max(0, a.until - c.next), timeout=240)
    c.close()
    dev.sync()
    fh.close()
    state.write_text(json.dumps({"bus": c.buffer.bus, "first": first, "next": c.next, "delivered": got,
                                 "doorbells": c.doorbells, "batches": c.batches, "resyncs": c.resyncs}))
    dev.close()
    return 0 if c.next >= a.until else 3


if __name__ == "__main__":
    sys.exit(main())
