"""striate.threads: ranges cover the work once, in order, on several threads; errors surface;
BLAS gets its thread count back; nested and concurrent regions run serially."""
import os
import signal
import threading

import numpy as np
import pytest

import striate
from striate import threads


@pytest.fixture
def three_threads():
    before = threads.get_num_threads()
    threads.set_num_threads(3)
    yield
    threads.set_num_threads(before)


def test_parallel_for_ranges_cover_every_item_once_in_order(three_threads):
    got = threads.parallel_for(lambda lo, hi: (lo, hi, threading.get_ident()), 10)
    assert [(lo, hi) for lo, hi, _ in got] == [(0, 3), (3, 6), (6, 10)]
    assert len({ident for *_, ident in got}) == 3  # three threads ran them


def test_parallel_for_writes_shared_output(three_threads):
    x = np.arange(1000.0)
    y = np.empty_like(x)

    def run(lo, hi):
        np.multiply(x[lo:hi], 2, out=y[lo:hi])

    threads.parallel_for(run, len(x))
    np.testing.assert_allclose(y, 2 * x)


def test_parallel_for_grain_keeps_small_work_on_one_range(three_threads):
    assert threads.parallel_for(lambda lo, hi: (lo, hi), 10, grain=6) == [(0, 10)]
    assert threads.parallel_for(lambda lo, hi: (lo, hi), 12, grain=6) == [(0, 6), (6, 12)]
    assert threads.parallel_for(lambda lo, hi: (lo, hi), 0) == [(0, 0)]


def test_one_thread_runs_serially_on_the_caller():
    before = threads.get_num_threads()
    threads.set_num_threads(1)
    try:
        got = threads.parallel_for(lambda lo, hi: (lo, hi, threading.get_ident()), 10)
    finally:
        threads.set_num_threads(before)
    assert got == [(0, 10, threading.get_ident())]


@pytest.mark.parametrize("failing", [0, 2])  # the caller's own range, a worker's range
def test_error_in_a_range_is_raised_and_the_pool_still_works(three_threads, failing):
    done = []

    def run(lo, hi):
        if lo == [0, 3, 6][failing]:
            raise ValueError(f"range {lo}:{hi} failed")
        done.append(lo)

    with pytest.raises(ValueError, match="failed"):
        threads.parallel_for(run, 9)
    assert sorted(done) == sorted({0, 3, 6} - {[0, 3, 6][failing]})  # the others finished
    assert threads.parallel_for(lambda lo, hi: hi - lo, 9) == [3, 3, 3]


def test_nested_region_runs_serially_inside_a_range(three_threads):
    inner = threads.parallel_for(
        lambda lo, hi: threads.parallel_for(lambda a, b: (a, b), hi - lo), 6)
    assert inner == [[(0, 2)], [(0, 2)], [(0, 2)]]
    assert not threads.in_parallel()


def test_blas_region_pins_blas_to_one_thread_and_restores_it(three_threads):
    controls = threads._blas_controls()
    if controls is None:  # not OpenBLAS: BLAS regions must then run serially
        assert threads.parallel_for(lambda lo, hi: (lo, hi), 4, blas=True) == [(0, 4)]
        return
    get, _ = controls
    before = get()
    seen = threads.parallel_for(lambda lo, hi: get(), 6, blas=True)
    assert seen == [1, 1, 1]
    assert get() == before


@pytest.fixture
def blas_on_two_threads():
    controls = threads._blas_controls()
    if controls is None:  # another BLAS: nothing to pin, and BLAS regions run serially
        yield None
        return
    get, put = controls
    before = get()
    put(2)
    yield get
    put(before)


def test_blas_work_too_small_to_split_still_runs_blas_on_one_thread(three_threads,
                                                                     blas_on_two_threads):
    get = blas_on_two_threads
    if get is None:
        assert threads.parallel_for(lambda lo, hi: (lo, hi), 6, grain=4, blas=True) == [(0, 6)]
        return
    assert threads.parallel_for(lambda lo, hi: (lo, hi, get()), 6, grain=4, blas=True) == \
        [(0, 6, 1)]  # 6 items, 4 per thread at least: one range, BLAS pinned all the same
    assert get() == 2


def test_one_large_sample_keeps_blas_threads(three_threads, blas_on_two_threads):
    get = blas_on_two_threads  # a batch of one cannot split: BLAS's threads are its only help
    if get is None:
        assert threads.parallel_for(lambda lo, hi: (lo, hi), 1, grain=1, blas=True) == [(0, 1)]
        return
    assert threads.parallel_for(lambda lo, hi: (lo, hi, get()), 1, grain=1, blas=True) == \
        [(0, 1, 2)]
    assert threads.parallel_for(lambda lo, hi: get(), 1, grain=3, blas=True) == [1]  # small one


def test_region_opened_while_another_thread_holds_the_pool_runs_serially(three_threads):
    entered, release, got = threading.Event(), threading.Event(), []

    def hold(lo, hi):
        if lo == 0:
            entered.set()
            release.wait(5)

    t = threading.Thread(target=threads.parallel_for, args=(hold, 3))
    t.start()
    entered.wait(5)
    got = threads.parallel_for(lambda lo, hi: (lo, hi), 6)
    release.set()
    t.join()
    assert got == [(0, 6)]


@pytest.mark.parametrize("bad,error", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                       (True, TypeError), ("2", TypeError)])
def test_set_num_threads_rejects_non_positive_ints(bad, error):
    with pytest.raises(error, match="set_num_threads: expected a positive int"):
        threads.set_num_threads(bad)


def test_top_level_aliases():
    assert striate.get_num_threads is threads.get_num_threads
    assert striate.set_num_threads is threads.set_num_threads


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_gets_fresh_workers(three_threads):
    threads.parallel_for(lambda lo, hi: None, 6)  # the parent's workers exist
    pid = os.fork()
    if pid == 0:  # child: the parent's worker threads are gone; a region must still complete
        signal.alarm(20)  # a region waiting on a worker that does not exist would hang: fail
        ok = threads.parallel_for(lambda lo, hi: (lo, hi), 6) == [(0, 2), (2, 4), (4, 6)]
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_over_batch_block_runs_each_threads_range_in_blocks_in_order(three_threads,
                                                                    monkeypatch):
    monkeypatch.setattr(threads, "MIN_ELEMENTS", 1)
    a = np.zeros((10, 4))
    got = threads.over_batch(lambda lo, hi: (lo, hi), a, block=2)
    # three ranges, 0:3, 3:6 and 6:10, each in runs of at most 2 items
    assert got == [[(0, 2), (2, 3)], [(3, 5), (5, 6)], [(6, 8), (8, 10)]]
