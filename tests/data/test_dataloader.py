"""striate.data.DataLoader: order, batching, resumable state and the prefetch thread."""

import gc
import json
import threading

import numpy as np
import pytest

import striate
from striate.data import ArrayDataset, DataLoader, Subset
from striate.data import transforms as T


def make_ds(n=23, transform=None):
    x = np.arange(n * 4, dtype=np.float32).reshape(n, 1, 2, 2)
    return ArrayDataset(x, np.arange(n), transform=transform)


def labels_of(loader):
    return [y.numpy().tolist() for _, y in loader]


def batches(loader):
    return [(x.numpy().copy(), y.numpy().copy()) for x, y in loader]


class ListDataset:
    """A plain map-style dataset (no ArrayDataset fast path)."""

    def __init__(self, ds, fail_at=None):
        self.ds, self.fail_at = ds, fail_at

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        if i == self.fail_at:
            raise KeyError(f"sample {i} is broken")
        return self.ds[i]


def test_unshuffled_order_and_last_partial_batch():
    loader = DataLoader(make_ds(), batch_size=5)
    got = labels_of(loader)
    assert len(loader) == 5 and [len(b) for b in got] == [5, 5, 5, 5, 3]
    assert sum(got, []) == list(range(23))


def test_drop_last_drops_partial_batch():
    loader = DataLoader(make_ds(), batch_size=5, drop_last=True)
    got = labels_of(loader)
    assert len(loader) == 4 and [len(b) for b in got] == [5, 5, 5, 5]


def test_batch_shapes_dtypes_and_uint8_scaling():
    x = np.full((6, 28, 28), 255, np.uint8)
    xb, yb = next(iter(DataLoader(ArrayDataset(x, np.arange(6)), batch_size=4)))
    assert isinstance(xb, striate.Tensor) and isinstance(yb, striate.Tensor)
    assert xb.shape == (4, 1, 28, 28) and xb.dtype == np.float32 and yb.dtype == np.int64
    np.testing.assert_array_equal(xb.numpy(), 1.0)


def test_same_seed_same_order_and_each_sample_once_per_epoch():
    a = labels_of(DataLoader(make_ds(), batch_size=4, shuffle=True, seed=11))
    b = labels_of(DataLoader(make_ds(), batch_size=4, shuffle=True, seed=11))
    c = labels_of(DataLoader(make_ds(), batch_size=4, shuffle=True, seed=12))
    assert a == b and a != c
    assert sorted(sum(a, [])) == list(range(23)) and sum(a, []) != list(range(23))


def test_order_differs_across_epochs_and_repeats_for_same_epoch():
    loader = DataLoader(make_ds(), batch_size=4, shuffle=True, seed=0)
    e0, e1 = labels_of(loader), labels_of(loader)
    assert e0 != e1 and loader.epoch == 2
    loader.set_epoch(1)
    assert labels_of(loader) == e1


def test_seed_none_follows_manual_seed():
    striate.manual_seed(5)
    a = labels_of(DataLoader(make_ds(), batch_size=4, shuffle=True))
    striate.manual_seed(5)
    b = labels_of(DataLoader(make_ds(), batch_size=4, shuffle=True))
    assert a == b


def test_images_match_labels_through_fast_path_and_subset():
    ds = make_ds()
    for loader in (
        DataLoader(ds, 4, shuffle=True, seed=1),
        DataLoader(Subset(ds, range(3, 20)), 4, shuffle=True),
    ):
        for x, y in loader:
            np.testing.assert_array_equal(x.numpy(), ds.images[y.numpy()])


def test_generic_dataset_gives_same_batches_as_fast_path():
    ds = make_ds(transform=T.Normalize(1.0, 2.0))
    fast = batches(DataLoader(ds, 4, shuffle=True, seed=3))
    slow = batches(DataLoader(ListDataset(ds), 4, shuffle=True, seed=3))
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(yf, ys)
        np.testing.assert_allclose(xf, xs, rtol=1e-7)


def test_random_transform_reproducible_for_seed_and_labels_kept():
    aug = T.Compose([T.RandomCrop(2, padding=1), T.RandomHorizontalFlip()])
    a = batches(DataLoader(make_ds(), 4, shuffle=True, seed=2, transform=aug))
    b = batches(DataLoader(make_ds(), 4, shuffle=True, seed=2, transform=aug))
    c = batches(DataLoader(make_ds(), 4, shuffle=True, seed=3, transform=aug))
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert any(not np.array_equal(xa, xc) for (xa, _), (xc, _) in zip(a, c, strict=True))


@pytest.mark.parametrize("dataset_transform", [False, True])
def test_prefetch_gives_identical_batches(dataset_transform):
    aug = T.Compose([T.RandomAffine(30, (0.2, 0.2)), T.ColorJitter(0.2)])
    ds = make_ds(transform=aug if dataset_transform else None)
    kw = dict(batch_size=3, shuffle=True, seed=9, transform=None if dataset_transform else aug)
    striate.manual_seed(0)
    with_thread = batches(DataLoader(ds, prefetch=True, **kw))
    striate.backend.rng().random(100)  # disturbing the global generator must not matter
    without = batches(DataLoader(ds, prefetch=False, **kw))
    for (xa, ya), (xb, yb) in zip(with_thread, without, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


@pytest.mark.parametrize("prefetch", [True, False])
def test_state_dict_resume_mid_epoch_gives_remaining_batches(prefetch):
    aug = T.RandomCrop(2, padding=1)
    full_run = DataLoader(make_ds(), 4, shuffle=True, seed=4, transform=aug, prefetch=prefetch)
    labels_of(full_run)  # epoch 0
    expected = batches(full_run)  # epoch 1

    run = DataLoader(make_ds(), 4, shuffle=True, seed=4, transform=aug, prefetch=prefetch)
    labels_of(run)
    for i, _ in enumerate(run):
        if i == 2:
            state = json.loads(json.dumps(run.state_dict()))  # what a checkpoint stores
            break
    assert state["epoch"] == 1 and state["position"] == 3

    resumed = DataLoader(
        make_ds(), 4, shuffle=True, transform=aug, prefetch=prefetch
    )  # other seed, overwritten
    resumed.load_state_dict(state)
    rest = batches(resumed)
    assert len(rest) == len(expected) - 3
    for (xa, ya), (xb, yb) in zip(rest, expected[3:], strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert resumed.state_dict()["epoch"] == 2 and resumed.state_dict()["position"] == 0


def _epoch_labels(epoch):
    loader = DataLoader(make_ds(), 4, shuffle=True, seed=0)
    loader.set_epoch(epoch)
    return labels_of(loader)


def test_abandoned_iteration_starts_a_new_epoch():
    loader = DataLoader(make_ds(), 4, shuffle=True, seed=0)
    for _ in loader:
        break
    assert loader.state_dict()["epoch"] == 0 and loader.state_dict()["position"] == 1
    second = labels_of(loader)
    assert loader.epoch == 2 and second == _epoch_labels(1) and second != _epoch_labels(0)


def test_load_state_dict_rejects_mismatched_loader():
    state = DataLoader(make_ds(), 4, seed=0).state_dict()
    with pytest.raises(ValueError, match="saved batch_size=4 but this loader has batch_size=5"):
        DataLoader(make_ds(), 5).load_state_dict(state)
    with pytest.raises(ValueError, match="saved num_samples=23"):
        DataLoader(make_ds(22), 4).load_state_dict(state)
    with pytest.raises(ValueError, match="missing keys"):
        DataLoader(make_ds(), 4).load_state_dict({"epoch": 0})


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "striate-DataLoader-prefetch"]


def test_prefetch_worker_exception_reraised_in_main_thread():
    loader = DataLoader(ListDataset(make_ds(), fail_at=9), batch_size=4)
    seen = []
    with pytest.raises(KeyError, match="sample 9 is broken"):
        for _, y in loader:
            seen.append(y.numpy().tolist())
    assert seen == [[0, 1, 2, 3], [4, 5, 6, 7]]
    gc.collect()
    assert _prefetch_threads() == []


def test_transform_exception_reraised_with_prefetch():
    def bad(x):
        raise RuntimeError("transform exploded")

    with pytest.raises(RuntimeError, match="transform exploded"):
        next(iter(DataLoader(make_ds(), 4, transform=bad)))


def test_no_thread_left_after_early_break():
    big = ArrayDataset(np.zeros((400, 1, 4, 4), np.float32), np.zeros(400))
    for _ in range(3):
        for i, _ in enumerate(DataLoader(big, batch_size=2, transform=T.RandomRotation(10))):
            if i == 1:
                break
    gc.collect()
    assert _prefetch_threads() == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        DataLoader(make_ds(), batch_size=0)
    with pytest.raises(TypeError, match="must have __len__ and __getitem__"):
        DataLoader(42)
    with pytest.raises(ValueError, match="seed must be"):
        DataLoader(make_ds(), seed=-1)


@pytest.mark.parametrize("build,threaded", [
    (lambda: DataLoader(make_ds(), 4), False),  # in-memory arrays: cheaper built in place
    (lambda: DataLoader(Subset(make_ds(), range(12)), 4), False),
    (lambda: DataLoader(make_ds(), 4, transform=T.RandomHorizontalFlip()), True),
    (lambda: DataLoader(make_ds(transform=T.RandomHorizontalFlip()), 4), True),
    (lambda: DataLoader(Subset(make_ds(transform=T.RandomHorizontalFlip()), range(8)), 4), True),
    (lambda: DataLoader(ListDataset(make_ds()), 4), True),  # sample by sample
    (lambda: DataLoader(make_ds(), 4, prefetch=True), True),
    (lambda: DataLoader(ListDataset(make_ds()), 4, prefetch=False), False),
])
def test_auto_prefetch_uses_a_thread_only_where_building_a_batch_does_work(build, threaded):
    loader = build()
    assert loader.prefetch is threaded
    it = iter(loader)
    next(it)
    assert len(_prefetch_threads()) == int(threaded)
    it.close()
    assert _prefetch_threads() == []


def test_prefetch_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="DataLoader: prefetch must be True, False or 'auto'"):
        DataLoader(make_ds(), 4, prefetch="always")
