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


def test_training_split_is_carved_from_training_images_and_cached(data_dir, isolated_caches):
    first = datasets.training_split("mnist", 50, 200, seed=3, data_dir=data_dir)
    (x_train, y_train), (x_val, y_val) = first
    assert x_train.shape == (200, 28, 28) and y_val.shape == (50,)
    assert np.bincount(y_train).tolist() == [20] * 10
    (full_x, _), (test_x, _) = datasets.load_mnist(data_dir)
    digests = lambda x: {image.tobytes() for image in x}  # noqa: E731
    assert digests(x_train) | digests(x_val) <= digests(full_x)
    assert not (digests(x_train) | digests(x_val)) & digests(test_x)  # nothing of the test split
    assert not digests(x_train) & digests(x_val)  # validation is set aside, not trained on
    cached = list((isolated_caches / "cache").rglob("*.npz"))
    assert len(cached) == 1 and set(np.load(cached[0]).files) == {"x_train", "y_train", "x_validation", "y_validation"}
    again = datasets.training_split("mnist", 50, 200, seed=3, data_dir=isolated_caches / "empty", download=False)
    assert all(np.array_equal(a, b) for a, b in zip(first[0] + first[1], again[0] + again[1]))


def test_test_split_is_the_held_out_split(data_dir, isolated_caches):
    x, y = datasets.test_split("mnist", 100, seed=0, data_dir=data_dir)
    (_, _), (test_x, test_y) = datasets.load_mnist(data_dir)
    assert x.shape == (100, 28, 28) and np.bincount(y).tolist() == [10] * 10
    assert {i.tobytes() for i in x} <= {i.tobytes() for i in test_x}


def test_a_training_only_copy_refuses_the_test_split_clearly(tmp_path, isolated_caches):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((30, 28, 28), np.uint8), y_train=np.arange(30) % 10)
    (x_train, _), (x_val, _) = datasets.training_split("mnist", 10, data_dir=tmp_path, download=False)
    assert len(x_train) == 20 and len(x_val) == 10
    for ask in (lambda: datasets.load_mnist(tmp_path, download=False),
                lambda: datasets.test_split("mnist", 10, data_dir=tmp_path, download=False)):
        with pytest.raises(datasets.HeldOutError, match="test split of mnist is held out.*training_split"):
            ask()


def test_digits_hold_360_apart(isolated_caches):
    (x_train, y_train), (x_val, _) = datasets.training_split("digits", 300)
    x_test, y_test = datasets.test_split("digits")
    assert len(x_train) + len(x_val) == 1437 and x_test.shape == (360, 8, 8)
    assert not {i.tobytes() for i in x_test} & {i.tobytes() for i in np.concatenate([x_train, x_val])}


def test_cats_and_dogs_without_test_is_a_training_copy(data_dir, tmp_path, isolated_caches):
    copy = tmp_path / datasets.CATS_AND_DOGS
    for split in ("train", "validation"):
        for cls in datasets.CLASSES:
            (copy / split / cls).mkdir(parents=True)
            jpg = next((data_dir / datasets.CATS_AND_DOGS / split / cls).glob("*.jpg"))
            (copy / split / cls / jpg.name).write_bytes(jpg.read_bytes())
    assert datasets.cats_and_dogs_small(tmp_path) == copy
    with pytest.raises(datasets.HeldOutError, match="dogs-vs-cats small is held out"):
        datasets.cats_and_dogs_subset({"test": 1}, data_dir=tmp_path)


def test_cats_and_dogs_subset(data_dir, isolated_caches):
    root = datasets.cats_and_dogs_subset({"train": 10, "validation": 4}, seed=0, data_dir=data_dir)
    assert len(list((root / "train" / "dogs").glob("*.jpg"))) == 10
    assert len(list((root / "validation" / "cats").glob("*.jpg"))) == 4
    assert not (root / "test").exists()
    assert datasets.cats_and_dogs_subset({"train": 10, "validation": 4}, seed=0, data_dir=data_dir) == root
