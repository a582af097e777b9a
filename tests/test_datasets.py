"""Data-set loaders on the course's real copies (via $CNN_COURSE_DATA); no network."""

import zipfile

import numpy as np
import pytest

from coursework import datasets


def test_mnist_has_keras_shapes_and_dtypes(data_dir):
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist(data_dir)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.dtype == y_train.dtype == np.uint8
    assert set(np.unique(y_train)) == set(range(10))
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]  # MNIST's original order


@pytest.mark.slow
def test_cifar10_has_keras_shapes_and_dtypes(data_dir):
    (x_train, y_train), (x_test, y_test) = datasets.load_cifar10(data_dir)
    assert x_train.shape == (50000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)
    assert y_train.shape == (50000, 1) and y_test.shape == (10000, 1)  # Keras's (N, 1), not the file's (N,)
    assert x_train.dtype == y_train.dtype == np.uint8
    assert np.bincount(y_train[:, 0]).tolist() == [5000] * 10


def test_environment_variable_is_searched(data_dir, isolated_caches, monkeypatch):
    monkeypatch.setenv(datasets.ENV_DIR, str(data_dir))
    (x_train, _), _ = datasets.load_mnist(download=False)
    assert len(x_train) == 60000


def test_data_dir_argument_comes_first(data_dir, isolated_caches, monkeypatch, tmp_path):
    monkeypatch.setenv(datasets.ENV_DIR, str(tmp_path / "nowhere"))
    small = tmp_path / "small"
    small.mkdir()
    np.savez(small / "mnist.npz", x_train=np.zeros((3, 28, 28), np.uint8), y_train=np.arange(3),
             x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.arange(2))
    (x_train, y_train), _ = datasets.load_mnist(small, download=False)
    assert x_train.shape == (3, 28, 28) and y_train.dtype == np.uint8


def test_keras_cache_is_searched(isolated_caches, data_dir):
    cache = isolated_caches / "keras" / "datasets"
    cache.mkdir(parents=True)
    (cache / "mnist.npz").symlink_to(data_dir / "mnist.npz")
    (x_train, _), _ = datasets.load_mnist(download=False)
    assert len(x_train) == 60000


def test_missing_data_names_every_place_searched(isolated_caches, monkeypatch, tmp_path):
    monkeypatch.setenv(datasets.ENV_DIR, str(tmp_path / "course"))
    with pytest.raises(datasets.DatasetNotFoundError) as err:
        datasets.load_cifar10(tmp_path / "given", download=False)
    message = str(err.value)
    for place in ("given", "course", "keras/datasets/cifar10.npz", "cifar-10-batches-py", "download skipped"):
        assert place in message
    with pytest.raises(datasets.DatasetNotFoundError, match="train.zip"):
        datasets.cats_and_dogs_small(tmp_path / "given")


def test_offline_variable_blocks_downloads(isolated_caches, monkeypatch):
    monkeypatch.setenv(datasets.ENV_OFFLINE, "1")
    with pytest.raises(datasets.DatasetNotFoundError, match="download skipped"):
        datasets.load_mnist(download=True)


def test_cats_and_dogs_layout(data_dir):
    root = datasets.cats_and_dogs_small(data_dir)
    counts = {(s, c): len(list((root / s / c).glob("*.jpg"))) for s in datasets.SPLITS for c in datasets.CLASSES}
    assert counts == {
        ("train", "cats"): 1000, ("train", "dogs"): 1000,
        ("validation", "cats"): 500, ("validation", "dogs"): 500,
        ("test", "cats"): 500, ("test", "dogs"): 500,
    }


def test_incomplete_cats_and_dogs_is_an_error(tmp_path):
    (tmp_path / datasets.CATS_AND_DOGS / "train" / "cats").mkdir(parents=True)
    with pytest.raises(datasets.DatasetNotFoundError, match="incomplete"):
        datasets.cats_and_dogs_small(tmp_path)


def test_build_cats_and_dogs_from_kaggle_archive(data_dir, tmp_path):
    """Kaggle's train.zip holds train/cat.N.jpg; the build reproduces the course's split exactly."""
    archive = tmp_path / "train.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for jpg in sorted((data_dir / datasets.CATS_AND_DOGS).rglob("*.jpg"), reverse=True):
            zf.write(jpg, f"train/{jpg.name}")
        zf.writestr("train/cat.12000.jpg", b"not in the small set")
    out = datasets.build_cats_and_dogs_small(archive, tmp_path / "built")
    expected = dict(
        line.split()[::-1] for line in (data_dir / "cats_and_dogs_small.sha256").read_text().splitlines()
    )
    assert datasets.sha256_manifest(out) == expected


def test_build_from_wrong_archive_says_what_is_missing(tmp_path):
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("train/cat.0.jpg", b"x")
    with pytest.raises(datasets.DatasetNotFoundError, match="lacks 3999 of the 4000"):
        datasets.build_cats_and_dogs_small(archive, tmp_path / "out")


def test_stratified_indices_are_balanced_sorted_and_deterministic():
    labels = np.repeat(np.arange(10), [50, 60, 70, 80, 90, 100, 110, 120, 130, 3])
    idx = datasets.stratified_indices(labels, 95, seed=1)
    assert len(idx) == len(set(idx.tolist())) == 95
    assert np.all(np.diff(idx) > 0)
    counts = np.bincount(labels[idx], minlength=10)
    assert counts[9] == 3 and counts[:9].min() >= 9  # the rare class gives all it has
    assert np.array_equal(idx, datasets.stratified_indices(labels, 95, seed=1))
    assert not np.array_equal(idx, datasets.stratified_indices(labels, 95, seed=2))
    with pytest.raises(ValueError):
        datasets.stratified_indices(labels, 10_000)


def test_subset_is_cached_and_shaped_like_the_full_loader(data_dir, isolated_caches):
    first = datasets.load_subset("mnist", 200, 50, seed=3, data_dir=data_dir)
    (x_train, y_train), (x_test, y_test) = first
    assert x_train.shape == (200, 28, 28) and y_test.shape == (50,)
    assert np.bincount(y_train).tolist() == [20] * 10
    cached = list((isolated_caches / "cache").rglob("*.npz"))
    assert len(cached) == 1
    again = datasets.load_subset("mnist", 200, 50, seed=3, data_dir=isolated_caches / "empty", download=False)
    assert all(np.array_equal(a, b) for a, b in zip(first[0] + first[1], again[0] + again[1]))


def test_cats_and_dogs_subset(data_dir, isolated_caches):
    root = datasets.cats_and_dogs_subset({"train": 10, "validation": 4}, seed=0, data_dir=data_dir)
    assert len(list((root / "train" / "dogs").glob("*.jpg"))) == 10
    assert len(list((root / "validation" / "cats").glob("*.jpg"))) == 4
    assert not (root / "test").exists()
    assert datasets.cats_and_dogs_subset({"train": 10, "validation": 4}, seed=0, data_dir=data_dir) == root
