"""striate.data.dataset: ArrayDataset, Subset, random_split."""

import numpy as np
import pytest

import striate
from striate.data import ArrayDataset, Dataset, Subset, random_split
from striate.data import transforms as T


def test_array_dataset_items_and_length(rng):
    x = rng.random((5, 2, 3, 3)).astype(np.float32)
    ds = ArrayDataset(x, [4, 3, 2, 1, 0])
    assert len(ds) == 5 and isinstance(ds, Dataset)
    image, label = ds[1]
    np.testing.assert_array_equal(image, x[1])
    assert label == 3 and ds.labels.dtype == np.int64
    np.testing.assert_array_equal(ds[-1][0], x[4])


def test_array_dataset_length_mismatch_names_both_lengths():
    with pytest.raises(ValueError, match="same length, got 4 images .* and 3 labels"):
        ArrayDataset(np.zeros((4, 1, 2, 2)), np.zeros(3))


def test_array_dataset_views_uint8_nhw_as_greyscale_nchw():
    x = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    ds = ArrayDataset(x, [0, 1])
    assert ds.images.shape == (2, 1, 3, 3)
    assert np.shares_memory(ds.images, x)


def test_array_dataset_accepts_tensors_and_applies_transform():
    ds = ArrayDataset(
        striate.tensor(np.full((2, 1, 2, 2), 255, np.uint8)),
        striate.tensor([1, 0]),
        transform=T.ToFloat(),
    )
    image, label = ds[0]
    np.testing.assert_array_equal(image, np.ones((1, 2, 2), np.float32))
    assert label == 1


def test_array_dataset_index_errors():
    ds = ArrayDataset(np.zeros((3, 1, 2, 2)), [0, 1, 2])
    with pytest.raises(IndexError, match="index 3 out of range for 3 samples"):
        ds[3]
    with pytest.raises(TypeError, match="index must be an int"):
        ds[0.5]


def test_array_dataset_rejects_non_numeric_and_scalars():
    with pytest.raises(TypeError, match="labels must be numeric"):
        ArrayDataset(np.zeros((2, 1, 2, 2)), [object(), object()])
    with pytest.raises(ValueError, match="need a sample axis"):
        ArrayDataset(np.zeros((2, 1, 2, 2)), 3)


def test_subset_maps_indices():
    ds = ArrayDataset(np.arange(10.0).reshape(10, 1, 1, 1), np.arange(10))
    sub = Subset(ds, [7, 2, -1])
    assert len(sub) == 3
    assert [int(sub[i][1]) for i in range(3)] == [7, 2, 9]
    with pytest.raises(IndexError):
        Subset(ds, [10])


def test_random_split_partitions_reproducibly():
    ds = ArrayDataset(np.zeros((20, 1, 1, 1)), np.arange(20))
    a, b = random_split(ds, [15, 5], seed=1)
    assert sorted(np.concatenate([a.indices, b.indices]).tolist()) == list(range(20))
    np.testing.assert_array_equal(random_split(ds, [15, 5], seed=1)[1].indices, b.indices)
    with pytest.raises(ValueError, match="sum to len"):
        random_split(ds, [15, 4])
