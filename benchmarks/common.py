"""Shared pieces of the benchmark suite: thread control, interleaved timing, machine description.

Timing protocol (every throughput figure of the suite): each side (striate, PyTorch) first runs
untimed warm-up work, then the sides take turns -- striate, torch, striate, torch, ... -- for
``repeats`` rounds, and each side's figure is the median over its rounds. A busy neighbour or a
frequency change then hurts both sides alike instead of whichever happened to run second.

Thread control: ``set_threads(n)`` sets ``torch.set_num_threads(n)`` and limits NumPy's BLAS to
``n`` threads, through threadpoolctl when it is installed, else by calling OpenBLAS's own
``*openblas_set_num_threads*`` in the library NumPy loaded (what threadpoolctl does too). Element-
wise NumPy code is single-threaded either way. This module never imports torch at import time,
so a striate-only subprocess (benchmarks.memory) can use it without loading torch.
"""
from __future__ import annotations

import ctypes
import datetime
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
SIDES = ("striate", "torch")


# ---- threads ----
def default_threads() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _openblas_libs() -> list:
    """ctypes handles of the OpenBLAS libraries mapped into this process (Linux only)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return []
    return [ctypes.CDLL(p) for p in sorted(paths) if p.startswith("/")]


def _openblas_call(suffix: str, *args):
    """Call ``<prefix>openblas_<suffix>`` in every loaded OpenBLAS; the results."""
    out = []
    for lib in _openblas_libs():
        for prefix in ("scipy_", ""):
            for tail in ("64_", ""):
                fn = getattr(lib, f"{prefix}openblas_{suffix}{tail}", None)
                if fn is not None:
                    out.append(fn(*args))
                    break
            else:
                continue
            break
    return out


def set_threads(n: int) -> str:
    """Use ``n`` threads in NumPy's BLAS and (if loaded) in torch and striate's kernels; says
    how BLAS's count was set."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    os.environ["STRIATE_NUM_THREADS"] = str(n)  # read by a striate imported later
    if "striate" in sys.modules:
        sys.modules["striate"].set_num_threads(n)
    try:
        import threadpoolctl
    except ImportError:
        _openblas_call("set_num_threads", ctypes.c_int(n))
        how = "OpenBLAS openblas_set_num_threads (threadpoolctl not installed)"
    else:
        threadpoolctl.threadpool_limits(n, user_api="blas")
        how = "threadpoolctl"
    return how


def blas_threads() -> int | None:
    """Threads NumPy's OpenBLAS uses now (None if it is not OpenBLAS)."""
    got = _openblas_call("get_num_threads")
    return int(got[0]) if got else None


# ---- timing ----
#: Seconds to wait, untimed, before each timed call. The side that ran before leaves threads
#: busy-waiting for more work (PyTorch's OpenMP workers spin after each parallel region,
#: OpenBLAS's after each threaded call), and they share the cores with whatever runs next:
#: measured, striate's ResNet-20 16-channel conv forward took 17-19 ms right after a 2-thread
#: GEMM against 8-11 ms after a pause. A pause lets each side run on idle cores, as it would alone.
SETTLE = 0.1


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call, after a ``SETTLE`` pause."""
    time.sleep(SETTLE)
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def interleave(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Wall seconds of each callable, taking turns for ``repeats`` rounds (no warm-up here)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            times[name].append(timed(fn))
    return times


def round_ratios(times: dict[str, list[float]], counts: dict[str, int]) -> list[float]:
    """The striate/PyTorch throughput ratio of each interleaved round on its own: round i's
    ``counts["striate"] / times["striate"][i]`` over PyTorch's. Rounds a few seconds apart share
    the machine's state, so their spread shows how much it drifted during the run."""
    return [(counts["striate"] / s) / (counts["torch"] / t)
            for s, t in zip(times["striate"], times["torch"])]


def median(xs) -> float:
    return float(statistics.median(xs))


def calls_for(seconds_per_call: float, target: float, most: int) -> int:
    """How many calls make one timed round last about ``target`` seconds (1 .. ``most``)."""
    return max(1, min(most, round(target / max(seconds_per_call, 1e-9))))


def warm_up(fn: Callable[[], object], target: float, most: int) -> int:
    """Warm ``fn`` up and return how many calls make a round of about ``target`` seconds.

    One call, or two when the first took under a second (the first pays for allocation and
    library start-up); the count comes from the last call's time (see :func:`calls_for`).
    """
    t = timed(fn)
    if t < 1.0:
        t = timed(fn)
    return calls_for(t, target, most)


# ---- memory ----
def _status_mb(field: str) -> float | None:
    """A ``Vm*`` field of /proc/self/status in MiB (None off Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_now_mb() -> float:
    """Current resident set size of this process, MiB (VmRSS; off Linux, the peak so far)."""
    now = _status_mb("VmRSS")
    return peak_rss_mb() if now is None else now


def reset_peak_rss() -> bool:
    """Restart the peak-RSS count from the current RSS (Linux ``clear_refs`` 5); False if not."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident set size of this process, MiB.

    VmHWM (the high-water mark of this address space: it starts afresh at exec and at
    :func:`reset_peak_rss`) where Linux has it; else ``getrusage().ru_maxrss``, which on Linux
    would carry over the peak of the parent process across fork and exec.
    """
    hwm = _status_mb("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# ---- the machine ----
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def numpy_blas() -> str:
    """NumPy's BLAS as its build reports it, e.g. 'scipy-openblas 0.3.31 (OpenBLAS ... Haswell)'."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # older NumPy or an unusual build: say so rather than fail the run
        return "unknown"
    conf = blas.get("openblas configuration", "")
    return f"{blas.get('name', '?')} {blas.get('version', '?')}" + (f" ({conf})" if conf else "")


def torch_blas() -> str:
    import torch

    info = torch.__config__.show()
    parts = [p for p in ("MKL", "MKL-DNN", "OpenBLAS") if f"USE_{p.replace('-', '')}=ON" in info
             or f"BLAS_INFO={p.lower()}" in info]
    return ", ".join(parts) or "see torch.__config__.show()"


def machine(threads: int, command: str) -> list[tuple[str, str]]:
    """(field, value) pairs describing this machine and run, for the RESULTS.md header."""
    rows = [
        ("date", datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
        ("command", f"`{command}`"),
        ("CPU", cpu_model()),
        ("cores", f"{os.cpu_count()} logical, {default_threads()} usable by this process"),
        ("threads", f"{threads} (NumPy BLAS reports {blas_threads()}, torch "
                    f"{_torch_threads()})"),
        ("Python", platform.python_version()),
        ("NumPy", f"{np.__version__}, BLAS {numpy_blas()}"),
    ]
    if "torch" in sys.modules:
        import torch

        rows.append(("PyTorch", f"{torch.__version__}, {torch_blas()}"))
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        rows.append(("load average at start (1, 5, 15 min)", load))
    except OSError:
        pass
    return rows


def _torch_threads():
    return sys.modules["torch"].get_num_threads() if "torch" in sys.modules else "not loaded"


def fmt_rate(x: float) -> str:
    """Images per second with 3 significant figures."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


# ---- results ----
class Result:
    """One line of the table: a case measured on both sides, and how to read the ratio.

    Args:
        case: what was measured, e.g. "LeNet-5 training, 1x28x28, batch 128".
        striate, torch: the two figures (None when a side could not run).
        unit: "img/s" or "MiB" (any string).
        target: e.g. ">= 0.8" (a target on the striate/PyTorch ratio) or "".
        note: how it was measured (rounds, steps, data).
        rounds: the ratio of each interleaved round (``round_ratios``); the table shows their
            lowest and highest after the ratio of the medians.
    """

    def __init__(self, case: str, striate: float | None, torch: float | None, unit: str,
                 target: str = "", note: str = "", rounds: list[float] | None = None):
        self.case, self.striate, self.torch, self.unit = case, striate, torch, unit
        self.target, self.note, self.rounds = target, note, rounds or []

    @property
    def ratio(self) -> float | None:
        if self.striate is None or not self.torch:
            return None
        return self.striate / self.torch

    def cells(self) -> list[str]:
        def num(x):
            return "n/a" if x is None else f"{fmt_rate(x)} {self.unit}"

        ratio = "n/a" if self.ratio is None else f"{self.ratio:.2f}x"
        if self.ratio is not None and len(self.rounds) > 1:
            ratio += f" ({min(self.rounds):.2f}-{max(self.rounds):.2f})"
        return [self.case, num(self.striate), num(self.torch), ratio, self.target, self.note]


HEADER = ["case", "striate", "PyTorch", "striate/PyTorch", "target", "how"]


def table(rows: list[list[str]], header: list[str]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# ---- the two sides of a case ----
def build_pair(name: str, seed: int = 0):
    """striate's ``models.get(name)`` (seeded) and its torch twin holding the same weights."""
    import striate

    from . import torch_models

    striate.manual_seed(seed)
    s = striate.models.get(name)
    t = torch_models.build(name)
    torch_models.copy_weights(s, t)
    return s, t


def check_same(name: str, ys, yt, rtol: float = 1e-3) -> float:
    """Raise if striate's and torch's outputs differ: the two sides must be the same network.

    float32 through a deep net drifts, so the test is max |ys - yt| <= rtol * max |yt|.
    Returns that relative difference.
    """
    ys, yt = np.asarray(ys, np.float64), np.asarray(yt, np.float64)
    scale = max(float(np.abs(yt).max()), 1e-30)
    rel = float(np.abs(ys - yt).max()) / scale
    if not rel <= rtol:
        raise RuntimeError(f"{name}: striate and PyTorch outputs differ (max relative "
                           f"difference {rel:.2e} > {rtol}); benchmarks/torch_models.py no "
                           f"longer mirrors striate.models.{name}")
    return rel
