"""Intra-op parallelism: large kernels split their batch over a small pool of threads.

NumPy runs each ufunc and copy on one core, and only its BLAS uses more. On a 2-core machine
that leaves one core idle during im2col copies, col2im, depthwise convolution and every
elementwise pass. NumPy releases the GIL inside those loops, so striate's kernels hand
contiguous ranges of their batch to :func:`parallel_for`, which runs them on
``get_num_threads()`` threads at once (the calling thread takes the first range).

A range that calls BLAS (``blas=True``) runs with NumPy's OpenBLAS pinned to one thread per
call, as PyTorch pins MKL inside its own parallel regions: two ranges each asking BLAS for two
threads would wait for each other. Measured on the project's 2-core EPYC (2 threads, A/B in one
process): ResNet-20's 16-channel 3x3 forward 15 -> 8 ms, a ResNet-20 training step 166 -> 250
img/s. BLAS work too small to split runs on the calling thread with BLAS pinned as well: after
a threaded call OpenBLAS's workers spin for a while, and the next split region shares its cores
with them. A LeNet-5 training step took 25.6-28.5 ms with only its first linear layer's GEMM left
threaded, against 19.1-19.9 ms with every GEMM pinned (two A/B runs). Only a single sample too
large for one thread (batch-1 inference) keeps BLAS's own threads: its batch offers nothing to
split.
Where striate cannot find OpenBLAS's controls (another BLAS, not Linux), BLAS regions are not
split. A range that runs inside another range runs serially: the pool never waits on itself.

The thread count defaults to the cores this process may use; ``STRIATE_NUM_THREADS`` or
:func:`set_num_threads` change it (1 turns the pool off).
"""
from __future__ import annotations

import ctypes
import functools
import os
import threading

__all__ = ["get_num_threads", "set_num_threads", "parallel_for", "in_parallel",
           "elementwise_grain", "macs_grain", "over_batch"]

#: Least elements one thread's share of an elementwise pass must hold; smaller passes run on one
#: thread. Memory-bound passes measured 1.4-1.8x faster on 2 threads from about 0.5M elements.
MIN_ELEMENTS = 1 << 18
#: Least multiply-adds one thread's share of a BLAS-bound kernel (convolution, linear) must hold
#: before its batch is split. At 4M, all of LeNet-5's convolutions (15-31M per batch of 128)
#: split: each kernel measured 10-36% faster split than whole with BLAS's two threads.
MIN_MACS = 4 << 20


def elementwise_grain(per_item: int) -> int:
    """Least items per thread for a pass over items of ``per_item`` elements each."""
    return -(-MIN_ELEMENTS // max(per_item, 1))


def macs_grain(per_item: int) -> int:
    """Least items per thread for BLAS work of ``per_item`` multiply-adds each."""
    return -(-MIN_MACS // max(per_item, 1))


def over_batch(fn, a, block: int = 0) -> list:
    """``parallel_for(fn, len(a))`` for an elementwise pass over the batch axis of ``a``: split
    only when each thread gets at least ``MIN_ELEMENTS`` elements. With ``block``, each thread
    calls ``fn`` on runs of at most ``block`` items of its range in turn (a kernel that makes
    several passes over its output then keeps a block of it in cache); the results are then
    lists, one entry per run."""
    n = a.shape[0]
    if block > 0:
        whole = fn

        def fn(lo, hi):
            return [whole(i, min(i + block, hi)) for i in range(lo, hi, block)]

    return parallel_for(fn, n, elementwise_grain(a.size // max(n, 1)))


def _default_threads() -> int:
    env = os.environ.get("STRIATE_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_threads = _default_threads()
_workers: list = []
_busy = threading.Lock()  # held by the thread whose parallel region is using the workers
_local = threading.local()  # .inside: this thread is running a range already
_blas_lock = threading.Lock()
_blas_depth = 0  # parallel regions open that pinned BLAS; the first saves, the last restores
_blas_saved = 1


def get_num_threads() -> int:
    """Threads striate's kernels split their work over (as ``torch.get_num_threads``)."""
    return _threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in striate's kernels (as ``torch.set_num_threads``).

    Args:
        n (int): threads, at least 1; 1 runs every kernel on the calling thread.
    """
    global _threads
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"set_num_threads: expected a positive int, got {n!r}")
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    _threads = n  # idle workers beyond n just stay asleep


def _reset_after_fork() -> None:
    global _workers, _busy, _blas_depth
    # the parent's worker threads do not exist in the child, and its locks may be held
    _workers, _busy, _blas_depth = [], threading.Lock(), 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _find_blas():
    """``(get, set)`` for the thread count of the OpenBLAS NumPy loaded, or None."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({ln.split()[-1] for ln in f if "openblas" in ln.lower()})
    except OSError:
        return None
    for path in paths:
        if not path.startswith("/"):
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", "")):
            get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
            put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                put.argtypes = [ctypes.c_int]
                return get, put
    return None


_blas_controls = functools.cache(_find_blas)  # looked up once, on the first BLAS region


def _pin_blas(pin: bool) -> None:
    """Open (pin=True) or close a region in which BLAS runs one thread per call."""
    global _blas_depth, _blas_saved
    get, put = _blas_controls()
    with _blas_lock:
        if pin:
            if _blas_depth == 0:
                _blas_saved = get()
                put(1)
            _blas_depth += 1
        else:
            _blas_depth -= 1
            if _blas_depth == 0:
                put(_blas_saved)


def in_parallel() -> bool:
    """Whether the calling thread is running a range of :func:`parallel_for`."""
    return getattr(_local, "inside", False)


def _run(fn, lo, hi):
    _local.inside = True
    try:
        return fn(lo, hi)
    finally:
        _local.inside = False


class _Worker:
    """A daemon thread that runs one range at a time, woken by a lock.

    Two bare locks rather than a ``ThreadPoolExecutor``: a round trip through the executor's
    queue and futures measured 170 us on the project's EPYC VM, a lock hand-off 16 us, and
    striate parallelises ops that take a millisecond. On the later Xeon VM (2026-12), whose idle
    vCPUs take longer to wake, a split that does nothing costs 82 us; raising MIN_ELEMENTS or
    MIN_MACS 4x or 16x made LeNet-5 training no faster there.
    """

    def __init__(self, k: int):
        self.go, self.done = threading.Lock(), threading.Lock()
        self.go.acquire()
        self.done.acquire()
        self.job = self.result = self.error = None
        threading.Thread(target=self._loop, name=f"striate-{k}", daemon=True).start()

    def _loop(self):
        while True:
            self.go.acquire()
            fn, lo, hi = self.job
            try:
                self.result, self.error = _run(fn, lo, hi), None
            except BaseException as e:  # handed to the caller, which re-raises it
                self.result, self.error = None, e
            self.job = None
            self.done.release()

    def start(self, fn, lo, hi):
        self.job = (fn, lo, hi)
        self.go.release()

    def join(self):
        self.done.acquire()
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return self.result


def parallel_for(fn, n: int, grain: int = 1, blas: bool = False) -> list:
    """``[fn(lo, hi) for each range]`` over contiguous ranges covering ``range(n)``.

    Up to ``get_num_threads()`` ranges of at least ``grain`` items run at once; results come
    back in range order. ``blas=True`` says ``fn`` calls BLAS, which then runs one thread per
    call, also when the work is too small to split (see the module docstring); only a single
    sample of at least ``grain`` work keeps BLAS's threads. A range calling this, or a call while
    another thread's region holds the workers, runs serially on the calling thread with BLAS as
    it is.
    """
    if _threads == 1 or in_parallel():
        return [fn(0, n)]
    if blas and _blas_controls() is None:  # cannot pin BLAS: let it thread as it would alone
        return [fn(0, n)]
    parts = min(_threads, n // max(grain, 1))
    if parts <= 1 and blas and not (n == 1 and parts == 1):
        # too small to split: one thread, and BLAS too (threaded, it would leave its workers
        # spinning on the core the next split region needs); only one large sample, which
        # cannot be split, keeps BLAS's threads
        _pin_blas(True)
        try:
            return [fn(0, n)]
        finally:
            _pin_blas(False)
    if parts <= 1 or not _busy.acquire(blocking=False):
        return [fn(0, n)]
    try:
        if blas:
            _pin_blas(True)
        try:
            return _split(fn, n, parts)
        finally:
            if blas:
                _pin_blas(False)
    finally:
        _busy.release()


def _split(fn, n: int, parts: int) -> list:
    while len(_workers) < parts - 1:
        _workers.append(_Worker(len(_workers) + 1))
    bounds = [n * k // parts for k in range(parts + 1)]
    for k in range(1, parts):
        _workers[k - 1].start(fn, bounds[k], bounds[k + 1])
    results, error = [None] * parts, None
    try:
        results[0] = _run(fn, bounds[0], bounds[1])
    except BaseException as e:
        error = e
    for k in range(1, parts):  # wait for every range even after an error: they write shared
        try:                   # arrays
            results[k] = _workers[k - 1].join()
        except BaseException as e:
            error = error or e
    if error is not None:
        raise error
    return results
