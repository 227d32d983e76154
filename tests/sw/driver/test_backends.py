"""open_ring: backend selection, clear errors, and release only after the batch is durable."""
import concurrent.futures as cf

import numpy as np
import pytest

from ringgate.contracts.entry import ENTRY_DTYPE
from ringgate.sw.driver import DeviceError
from ringgate.sw.driver.backends import open_ring


def entries(n, start_uid=0):
    e = np.zeros(n, dtype=ENTRY_DTYPE)
    e["cmd"] = 1
    e["uid"] = np.arange(start_uid, start_uid + n)
    e["size"] = 1
    return e


def test_model_backend_releases_only_durable_batches():
    futures = []
    seen = []

    def callback(view):
        seen.append(view["uid"].copy())
        f = cf.Future()
        futures.append((int(view["seq"][-1]) + 1, f))
        return f

    c = open_ring("model", callback, ring_size=64, doorbell_every=1)
    for k in range(4):
        c.device.feed(entries(10, 10 * k))
        c.run(count=10, timeout=5)
    assert np.concatenate(seen).tolist() == list(range(40))
    assert c.released == 0                       # nothing durable yet
    assert len(futures) >= 2
    # Durable out of order: the doorbell may only pass a prefix of durable batches.
    futures[-1][1].set_result(None)
    assert c.released == 0
    futures[0][1].set_result(None)
    assert c.released == futures[0][0]
    for _, f in futures[1:-1]:
        f.set_result(None)
    assert c.released == 40


def test_failed_batch_is_kept_unreleased():
    def callback(view):
        f = cf.Future()
        f.set_exception(OSError("journal write failed"))
        return f

    c = open_ring("model", callback, ring_size=64)
    c.device.feed(entries(8))
    c.run(count=8, timeout=5)
    assert c.released == 0


def test_plain_callback_releases_at_once():
    c = open_ring("model", lambda view: None, ring_size=64)
    c.device.feed(entries(5))
    c.run(count=5, timeout=5)
    assert c.released == 5


@pytest.mark.parametrize("backend,env,msg", [("sim", "RINGGATE_SIM_DIR", "RINGGATE_SIM_DIR"),
                                             ("linux", "RINGGATE_VFIO_BDF", "RINGGATE_VFIO_BDF"),
                                             ("fpga", None, "unknown backend")])
def test_unconfigured_backends_are_refused_with_a_reason(monkeypatch, backend, env, msg):
    if env:
        monkeypatch.delenv(env, raising=False)
    with pytest.raises(DeviceError, match=msg):
        open_ring(backend, lambda v: None)
