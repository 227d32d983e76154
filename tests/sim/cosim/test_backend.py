"""The co-simulation backend end to end: the RTL (hw/pcie/top.py) under Verilator + cocotb +
cocotbext-pcie in one process, the host driver in others, through the shared files."""
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ringgate.contracts.entry import ENTRY_DTYPE
from ringgate.contracts.regmap import Access, Control, Error, REGMAP
from ringgate.sim.cosim.session import CoSim, CoSimError
from ringgate.sim.traffic import make_traffic
from ringgate.model.hostmem import HostMemory
from ringgate.model.fpga import FpgaModel, stamp
from ringgate.sim.cosim.device import SimDevice

REPO = Path(__file__).resolve().parents[3]
SKIP_READ = {"TIMESTAMP", "STATUS"}          # free-running counter; STATUS carries link state the model lacks


def test_cosim_registers_through_the_mailbox_match_the_model(tmp_path):
    """A random program of 1-DW BAR accesses from another process's point of view (the mailbox),
    executed by the RTL as real CQ/CC TLPs, against the golden model's register semantics."""
    rng = random.Random(5)
    model = FpgaModel(HostMemory(), depth=256, max_payload=256)
    with CoSim(tmp_path / "sim") as sim:
        sim.start()
        dev = SimDevice(sim.directory)
        assert dev.read("ID") == model.read("ID")
        assert dev.read("CAPS") & 0xFFFF == 256
        rw = [r for r in REGMAP if r.access is Access.RW and r.name != "DOORBELL"]
        offsets = sorted({o for r in REGMAP for o in (r.offset, r.offset + 4)[:r.width // 32]} | {0x0A0, 0x0FC, 0x800})
        for step in range(120):
            k = rng.random()
            if k < 0.45:
                r = rng.choice(rw)
                off = r.offset + (4 if r.width == 64 and rng.random() < 0.5 else 0)
                v = rng.getrandbits(32)
                dev.write32(off, v)
                model.write32(off, v)
            elif k < 0.5:
                off = rng.choice(offsets)                      # anything: holes, read-only registers
                dev.write32(off, 0x5A5A_0000 | step)
                model.write32(off, 0x5A5A_0000 | step)
            else:
                off = rng.choice(offsets)
                reg = REGMAP.dword(off)
                got = dev.read32(off)
                want = model.read32(off)
                if reg is None or reg[0].name not in SKIP_READ:
                    assert got == want, f"step {step}: read32({off:#x}) = {got:#x}, model {want:#x}"
        assert dev.read("BAD_ACCESSES") == model.read("BAD_ACCESSES") > 0
        assert dev.read("ERROR") & Error.BAD_ACCESS
        dev.write("CONTROL", Control.RESET)                    # clears the sticky errors and the count
        assert dev.read("ERROR") == 0 and dev.read("BAD_ACCESSES") == 0
        t0 = dev.read("TIMESTAMP")
        assert dev.read("TIMESTAMP") > t0                      # the RTL clock runs between reads
        dev.close()
        summary = sim.stop()
    assert summary["errors"] == [] and summary["fed"] == 0
    assert summary["registers"]["DATA_TLPS"] == 0             # registers only: no DMA happened


def _consumer(directory, out, *args):
    return subprocess.run([sys.executable, "-m", "tests.sim.cosim.consumer_proc", str(directory), str(out), *args],
                          capture_output=True, text=True, timeout=300, cwd=REPO)


def test_cosim_consumer_in_other_processes_byte_exact_with_backpressure_and_restart(tmp_path):
    """Bursty traffic, random RQ back-pressure, a small host ring and a slow host that restarts
    half-way (a second process attaches to the ring the first left): every entry arrives once,
    in order, byte-exact against the golden model; every Memory Write passed the scoreboard."""
    tr = make_traffic(460, users=50, symbols=1, resting=40, load=0.5, burst=32, seed=3)
    n = len(tr)
    out = tmp_path / "entries.bin"
    with CoSim(tmp_path / "sim", rq_pause=0.3, seed=3, traffic=(tr.entries, tr.cycles)) as sim:
        sim.start()
        p1 = _consumer(sim.directory, out, "--until", "200", "--ring", "64", "--delay-us", "20000")
        assert p1.returncode == 0, p1.stderr[-3000:]
        s1 = json.loads(Path(str(out) + ".state").read_text())
        p2 = _consumer(sim.directory, out, "--until", str(n), "--ring", "64", "--delay-us", "2000", "--attach")
        assert p2.returncode == 0, p2.stderr[-3000:]
        s2 = json.loads(Path(str(out) + ".state").read_text())
        dev = SimDevice(sim.directory)
        t0 = dev.traffic_t0
        dev.close()
        summary = sim.stop()
    assert s1["first"] == 0 and s2["first"] == s1["next"] and s2["next"] == n
    got = np.frombuffer(out.read_bytes(), ENTRY_DTYPE)
    rel = tr.cycles - tr.cycles[0]
    want = stamp(tr.entries, 0, ts=np.uint64(t0) + rel)
    assert len(got) == n
    assert np.array_equal(got["seq"], np.arange(n, dtype=np.uint64))
    assert got.tobytes() == want.tobytes()
    regs = summary["registers"]
    assert summary["errors"] == [] and summary["host_memory_matches_scoreboard"]
    assert summary["scoreboard"]["sent"] == n == regs["SENT"] == regs["CURSOR_WRITTEN"]
    assert regs["RQ_STALL_CYCLES"] > 0, "random RQ back-pressure never happened"
    assert regs["HOST_FULL_CYCLES"] > 0, "the slow host never filled its ring"
    assert summary["scoreboard"]["data_tlps"] < n, "backlog never batched entries into one TLP"


def test_cosim_device_reset_from_another_process_resyncs_without_loss(tmp_path):
    """While a consumer process runs, this process (a second mailbox client) resets the device
    (CONTROL.RESET: the writer stops, sequences are kept). The consumer notices (idle health check),
    delivers what is in host memory, re-enables the writer where it stopped; nothing is lost or
    repeated, and the re-enabled writer's TLPs pass a fresh scoreboard."""
    import time

    tr = make_traffic(380, users=20, symbols=1, resting=20, load=0.05, seed=6)
    n = len(tr)
    out = tmp_path / "entries.bin"
    with CoSim(tmp_path / "sim", traffic=(tr.entries, tr.cycles)) as sim:
        sim.start()
        proc = subprocess.Popen([sys.executable, "-m", "tests.sim.cosim.consumer_proc", str(sim.directory), str(out),
                                 "--until", str(n), "--ring", "128", "--health", "0.05"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        dev = SimDevice(sim.directory)
        deadline = time.monotonic() + 120
        while dev.read("SENT") < n // 3:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr and proc.stderr.read()
            time.sleep(0.05)
        dev.write("CONTROL", Control.RESET)
        assert proc.wait(240) == 0, proc.stderr.read()[-3000:]
        state = json.loads(Path(str(out) + ".state").read_text())
        t0 = dev.traffic_t0
        enables = dev.enables
        dev.close()
        summary = sim.stop()
    assert state["resyncs"] >= 1 and enables >= 2
    got = np.frombuffer(out.read_bytes(), ENTRY_DTYPE)
    want = stamp(tr.entries, 0, ts=np.uint64(t0) + (tr.cycles - tr.cycles[0]))
    assert got.tobytes() == want.tobytes()
    assert summary["errors"] == [] and summary["registers"]["SENT"] == n


def test_cosim_scoreboard_is_live(tmp_path):
    """Fault injection: the simulator's scoreboard told the MPS is 128 B sees the RTL's 256-byte
    TLPs (a backlog batches 4 entries) and fails the run with its reason; the host sees it while
    the simulation runs, and stop() raises."""
    from ringgate.sw.driver.consumer import RingConsumer

    tr = make_traffic(60, users=10, symbols=1, resting=4, load=1.0, seed=4)
    with CoSim(tmp_path / "sim", traffic=(tr.entries, tr.cycles), extra_env={"COSIM_CHECK_MPS": "128"}) as sim:
        sim.start()
        dev = SimDevice(sim.directory)
        c = RingConsumer.open(dev, 256, poll="sleep", health_every=0)
        c.run(count=len(tr), timeout=60)
        assert c.delivered == len(tr)                  # the RTL itself is right: everything arrived
        assert dev.errors > 0 and sim.errors() == dev.errors
        dev.close()
        with pytest.raises(CoSimError, match="exceeds MPS 128"):
            sim.stop()


def test_cosim_failure_is_reported_with_the_log(tmp_path):
    """A simulator that cannot start (bad MPS reaching the bench) fails start() with its log."""
    sim = CoSim(tmp_path / "sim")
    sim.mps = 100                                   # bypass the constructor's check on purpose
    with pytest.raises(CoSimError, match="before it was ready|failed while starting") as e:
        sim.start(timeout=120)
    assert "100" in str(e.value)
    sim.close()
    with pytest.raises(ValueError, match="MPS"):
        CoSim(mps=100)
    for bad in (dict(perst_after=-1), dict(perst_after=10, perst_cycles=0), dict(perst_after=10, perst_wall=-1)):
        with pytest.raises(ValueError, match="hard reset after"):
            CoSim(**bad)


def test_cosim_hard_reset_during_traffic_host_resyncs_without_losing_or_repeating_announced_entries(tmp_path):
    """PERST# / link down in the middle of an RQ TLP while entries stream: the gateware is reset
    (user_reset), the function's configuration is lost, the host's BAR0 reads return all ones.
    The host driver (RingConsumer, in this process) sees the device go away, waits, and when it
    is back delivers what the last cursor write announced, once, and restarts the device: its
    sequences start again at 0 with the first entry the ring accepted after the reset. Every entry
    the cursor announced arrives exactly once, byte-exact; the entries the ring held unannounced
    are lost with the device's state (counted); the traffic after the reset arrives whole; the
    writes before and after the reset pass their scoreboards."""
    import time

    from ringgate.sw.driver.consumer import RingConsumer

    tr = make_traffic(400, users=20, symbols=1, resting=20, load=0.3, burst=16, seed=9)
    n = len(tr)
    got = []
    with CoSim(tmp_path / "sim", traffic=(tr.entries, tr.cycles), rq_pause=0.2, seed=9,
               perst_after=n // 3, perst_cycles=2000, perst_wall=0.5) as sim:
        sim.start()
        dev = SimDevice(sim.directory)
        c = RingConsumer.open(dev, 128, callback=lambda v: got.append(v.copy()), poll="sleep",
                              idle_sleep=1e-3, health_every=0.02, gone_timeout=120, doorbell_every=16)
        deadline = time.monotonic() + 240
        while not (dev.fed == n and c.epoch and c.next == dev.read("SENT")):
            assert time.monotonic() < deadline, f"stuck: fed {dev.fed}/{n}, epoch {c.epoch}, next {c.next}"
            c.run(timeout=0.2)
        c.close()
        t0 = dev.traffic_t0
        dev.close()
        summary = sim.stop()
    perst = summary["perst"]
    assert summary["errors"] == [] and summary["host_memory_matches_scoreboard"]
    assert perst["mid_tlp"], "the reset did not cut an RQ TLP short"
    assert perst["gone_reads"] > 0 and c.outages == 1 and c.epoch == 1
    accepted, announced = perst["accepted_before"], perst["announced"]
    assert 0 < announced <= accepted <= n
    rows = np.concatenate(got)
    want = stamp(tr.entries, 0, ts=np.uint64(t0) + (tr.cycles - tr.cycles[0]))
    # epoch 0: every announced entry once, in order; epoch 1: the traffic after the reset, renumbered
    assert len(rows) == announced + (n - accepted)
    assert rows[:announced].tobytes() == want[:announced].tobytes()
    after = want[accepted:].copy()
    after["seq"] = np.arange(n - accepted, dtype=np.uint64)
    assert rows[announced:].tobytes() == after.tobytes()
    assert summary["registers"]["SENT"] == n - accepted
