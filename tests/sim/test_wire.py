"""cocotb + Verilator: order frames from the MAC's receive stream through the ingress, the BRAM ring,
the DMA writer and the UltraScale+ PCIe interface into host memory (bench: sim/ingress/tb_wire.py),
with random RQ back-pressure, against the ingress's golden model; registers over BAR0 by name."""
import json

from ringgate.sim import verilator
from ringgate.sim.builds import wire_top


def test_wire_to_host_memory_malformed_mix(tmp_path):
    out = tmp_path / "wire.json"
    verilator.run(wire_top(256), "ringgate.sim.ingress.tb_wire", testcase="wire_to_host",
                  extra_env={"WIRE_FRAMES": "120", "WIRE_MIX": "0.3", "WIRE_RQ_PAUSE": "0.3", "WIRE_OUT": str(out)})
    r = json.loads(out.read_text())
    assert r["frames"] == 120 and 0 < r["accepted"] < 120
    order = ("first", "published", "ring_accept", "rq_first", "cursor_last")
    for a, b in zip(order, order[1:]):          # every accepted datagram passes each stage in order
        assert len(r[a]) == len(r[b]) == r["accepted"]
        assert all(y > x for x, y in zip(r[a], r[b])), (a, b)
