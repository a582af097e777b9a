"""The course's data sets: MNIST, CIFAR-10, dogs-vs-cats small and scikit-learn's 8x8 digits.

Each has a training split and a test split. A notebook trains on the training
split and validates on a fixed part carved from it (:func:`training_split`;
dogs-vs-cats: ``train/`` and ``validation/``); the test split (:func:`test_split`,
dogs-vs-cats ``test/``) is what the grader scores on. In a graded run the
notebook is given a copy of the data without the test split, and asking for it
raises :class:`HeldOutError`.

Each loader looks, in order, in:

1. the ``data_dir`` argument,
2. the directory named by ``$CNN_COURSE_DATA``,
3. the ``data/`` folder of the student repository Jupyter was started in (the nearest folder above the working
   directory that holds a ``.cnn-course`` file), wherever the notebook runs from,
4. Keras's own cache (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``),
5. the network, through Keras's downloader (MNIST and CIFAR-10 only), unless
   ``download=False`` or ``$CNN_COURSE_OFFLINE`` is set.

When nothing is found, :class:`DatasetNotFoundError` names every place that was
searched and how to obtain the data. Arrays are loaded with
``allow_pickle=False``; nothing here unpickles.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from coursework.environment import ENV_DIR, ENV_FETCH, ENV_OFFLINE
from coursework.errors import CourseError

FETCH = "python -m autograder data fetch"
REPO_MARKER = ".cnn-course"  # at the root of a student repository; its data sets are in data/ beside it
CATS_AND_DOGS = "cats_and_dogs_small"
SPLITS = {"train": (0, 1000), "validation": (1000, 1500), "test": (1500, 2000)}  # Kaggle file numbers per class
CLASSES = ("cats", "dogs")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")  # what an image folder's readers take (keras.utils.load_img)

ArrayPair = tuple[np.ndarray, np.ndarray]


class DatasetNotFoundError(CourseError, FileNotFoundError):
    """A data set is in none of the places searched."""


class HeldOutError(DatasetNotFoundError):
    """The test split was asked for where only the training split is given (a graded run)."""


def _held_out(name: str, where: object) -> HeldOutError:
    return HeldOutError(
        f"The test split of {name} is held out: {where} holds only the training split. In a graded run the "
        "grader keeps the test images to itself and scores your saved model on them; train on the training "
        "split and validate on the part carved from it (coursework.datasets.training_split).")


def keras_home() -> Path:
    """Keras's own folder (``$KERAS_HOME`` or ``~/.keras``): data sets and weights are cached below it."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded data sets (``keras.utils.get_file``'s default)."""
    return keras_home() / "datasets"


def search_dirs(data_dir: Optional[os.PathLike | str] = None) -> list[tuple[str, Path]]:
    """The directories searched, in order, each with the reason it is searched."""
    dirs: list[tuple[str, Path]] = []
    if data_dir is not None:
        dirs.append(("data_dir argument", Path(data_dir)))
    if os.environ.get(ENV_DIR):
        dirs.append((f"${ENV_DIR}", Path(os.environ[ENV_DIR])))
    repository = student_repository()
    if repository is not None:
        dirs.append(("the repository's data folder", repository / "data"))
    dirs.append(("Keras cache", keras_cache_dir()))
    return dirs


def student_repository(start: Optional[Path] = None) -> Optional[Path]:
    """The student repository around ``start`` (default: the working directory), found by its marker file."""
    start = Path.cwd() if start is None else start
    return next((folder for folder in (start, *start.parents) if (folder / REPO_MARKER).is_file()), None)


def fetch_command() -> str:
    """The command that fetches the data sets here: ``$CNN_COURSE_FETCH`` where it is set, else the grader's own."""
    return os.environ.get(ENV_FETCH, "").strip() or FETCH


def offline(download: bool = True) -> bool:
    """Whether downloads are off: ``download=False``, or ``$CNN_COURSE_OFFLINE`` set."""
    return not download or os.environ.get(ENV_OFFLINE, "") not in ("", "0")


def _not_found(name: str, looked: list[str], how: str) -> DatasetNotFoundError:
    where = "\n".join(f"  - {place}" for place in looked)
    return DatasetNotFoundError(f"{name} not found. Looked in:\n{where}\n{how}")


def _find(filename: str, data_dir) -> tuple[Optional[Path], list[str]]:
    looked = []
    for why, directory in search_dirs(data_dir):
        path = directory / filename
        looked.append(f"{path} ({why})")
        if path.exists():
            return path, looked
    return None, looked


def _load_npz(path: Path, label_shape: Sequence[int] = (), splits: Sequence[str] = ("train", "test"),
              name: str = "") -> dict[str, ArrayPair]:
    """The ``splits`` of an ``.npz`` holding ``x_SPLIT``/``y_SPLIT``, as uint8; a missing test split is held out."""
    result = {}
    with np.load(path, allow_pickle=False) as data:
        for split in splits:
            if f"x_{split}" not in data.files:
                if split == "test":
                    raise _held_out(name or path.stem, path)
                raise DatasetNotFoundError(f"{path} holds no {split} split")
            x, y = data[f"x_{split}"], data[f"y_{split}"]
            result[split] = (x.astype(np.uint8), y.astype(np.uint8).reshape(-1, *label_shape))
    return result


LABEL_SHAPES = {"mnist": (), "cifar10": (1,), "digits": ()}


def load_split(name: str, split: str, data_dir=None, download: bool = True) -> ArrayPair:
    """One split, ``"train"`` or ``"test"``, of ``"mnist"``, ``"cifar10"`` or ``"digits"``, shaped as Keras
    returns it. The test split raises :class:`HeldOutError` where only the training split is given."""
    return _load(name, (split,), data_dir, download)[split]


def _load(name: str, splits: Sequence[str], data_dir, download: bool) -> dict[str, ArrayPair]:
    if name == "digits":
        return {split: _digits(split) for split in splits}
    if name not in ("mnist", "cifar10"):
        raise ValueError(f"unknown data set {name!r}; choose from {sorted(LABEL_SHAPES)}")
    path, looked = _find(f"{name}.npz", data_dir)
    if path is not None:
        return _load_npz(path, LABEL_SHAPES[name], splits, name)
    if name == "cifar10":
        cache = keras_cache_dir() / "cifar-10-batches-py"
        looked.append(f"{cache} (Keras's own CIFAR-10 cache)")
        if (cache / "test_batch").exists():
            import keras  # Keras reads its own cache without the network

            train, test = keras.datasets.cifar10.load_data()
            return {split: {"train": train, "test": test}[split] for split in splits}
    train, test = _download(name, looked, download)
    return {split: {"train": train, "test": test}[split] for split in splits}


def load_mnist(data_dir=None, download: bool = True) -> tuple[ArrayPair, ArrayPair]:
    """MNIST exactly as ``keras.datasets.mnist.load_data()`` returns it: (train, test).

    ``x`` is (N, 28, 28) uint8, ``y`` is (N,) uint8. In a graded run the test split is held out
    (:class:`HeldOutError`): notebooks use :func:`training_split`.
    """
    splits = _load("mnist", ("train", "test"), data_dir, download)
    return splits["train"], splits["test"]


def load_cifar10(data_dir=None, download: bool = True) -> tuple[ArrayPair, ArrayPair]:
    """CIFAR-10 exactly as ``keras.datasets.cifar10.load_data()`` returns it: (train, test).

    ``x`` is (N, 32, 32, 3) uint8, ``y`` is (N, 1) uint8. Reads ``cifar10.npz``
    (the course's single-file copy) or Keras's own ``cifar-10-batches-py`` cache.
    In a graded run the test split is held out (:class:`HeldOutError`).
    """
    splits = _load("cifar10", ("train", "test"), data_dir, download)
    return splits["train"], splits["test"]


def _download(name: str, looked: list[str], download: bool) -> tuple[ArrayPair, ArrayPair]:
    """Keras's own downloader, which fills Keras's cache; a clear error when it cannot."""
    how = (
        f"Set ${ENV_DIR} to a folder holding {name}.npz, or run `{fetch_command()}` "
        "on a machine with a network to fill Keras's cache, then copy that cache to this machine."
    )
    if offline(download):
        raise _not_found(name, [*looked, f"download skipped (download=False or ${ENV_OFFLINE} set)"], how)
    import keras

    try:
        return getattr(keras.datasets, name).load_data()
    except Exception as exc:
        raise _not_found(name, [*looked, f"download through Keras failed: {exc}"], how) from exc


def cats_and_dogs_small(data_dir=None, check: bool = True) -> Path:
    """The directory holding dogs-vs-cats small: ``train/``, ``validation/``, ``test/``,
    each with ``cats/`` and ``dogs/`` (1000, 500 and 500 JPEGs per class). A graded
    run's copy has no ``test/``: the grader holds it out.

    With ``check``, the layout is verified (training and validation splits with
    both classes, not empty; ``test/`` too where it exists); a partial copy is an
    error, not a silent half data set.
    """
    looked = []
    for why, directory in search_dirs(data_dir):
        path = directory / CATS_AND_DOGS
        looked.append(f"{path} ({why})")
        if path.is_dir():
            if check:
                _check_cats_and_dogs(path)
            return path
    raise _not_found(
        "dogs-vs-cats small",
        looked,
        "It is built from Kaggle's 'Dogs vs. Cats' training archive (train.zip, 25,000 JPEGs):\n"
        f"  python -m autograder data cats-and-dogs --archive train.zip --out DIR/{CATS_AND_DOGS}\n"
        f"then set {ENV_DIR}=DIR.",
    )


def _check_cats_and_dogs(path: Path) -> None:
    problems = []
    for split in [s for s in SPLITS if s != "test" or (path / s).exists()]:
        for cls in CLASSES:
            folder = path / split / cls
            if not folder.is_dir() or not any(folder.glob("*.jpg")):
                problems.append(f"{folder} is missing or holds no .jpg")
    if problems:
        raise DatasetNotFoundError(f"dogs-vs-cats small at {path} is incomplete:\n  " + "\n  ".join(problems))


def build_cats_and_dogs_small(source: os.PathLike | str, out: os.PathLike | str) -> Path:
    """Build the course's split from Kaggle's ``train.zip`` (or its extracted folder).

    Cats and dogs number 0-999 go to ``train/``, 1000-1499 to ``validation/``,
    1500-1999 to ``test/``, as in the course. Returns ``out``.
    """
    import zipfile

    source, out = Path(source), Path(out)
    members: dict[str, object] = {}
    if source.is_dir():
        for path in source.rglob("*.jpg"):
            members[path.name] = path
        archive = None
    else:
        archive = zipfile.ZipFile(source)
        for info in archive.infolist():
            members[Path(info.filename).name] = info
    missing = []
    for split, (lo, hi) in SPLITS.items():
        for cls in CLASSES:
            target = out / split / cls
            target.mkdir(parents=True, exist_ok=True)
            for number in range(lo, hi):
                name = f"{cls[:-1]}.{number}.jpg"
                member = members.get(name)
                if member is None:
                    missing.append(name)
                    continue
                if archive is None:
                    shutil.copyfile(member, target / name)  # type: ignore[arg-type]
                else:
                    with archive.open(member) as src, open(target / name, "wb") as dst:  # type: ignore[arg-type]
                        shutil.copyfileobj(src, dst)
    if missing:
        raise DatasetNotFoundError(
            f"{source} lacks {len(missing)} of the 4000 images needed (first: {missing[:3]}); "
            "is it Kaggle's Dogs vs. Cats train.zip?"
        )
    return out


def sha256_manifest(root: os.PathLike | str) -> dict[str, str]:
    """``{"./train/cats/cat.0.jpg": sha256, ...}`` for every JPEG below ``root``."""
    root = Path(root)
    return {
        f"./{p.relative_to(root).as_posix()}": hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.jpg"))
    }


DIGITS_IMAGES, DIGITS_TEST = 1797, 360  # scikit-learn's digits; the test split: a fixed, stratified 360


def digits_test_mask(labels: np.ndarray) -> np.ndarray:
    """Which of scikit-learn's 1797 digits (by their labels, in the file's order) form the test split."""
    mask = np.zeros(len(labels), bool)
    mask[stratified_indices(labels, DIGITS_TEST, seed=0)] = True
    return mask


def _digits(split: str) -> ArrayPair:
    """scikit-learn's bundled 8x8 digits (no download): ``x`` (N, 8, 8) uint8 in 0..16. In a graded run
    scikit-learn's file holds the training split only (the grader puts a copy without the test digits over it)."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    x, y = digits.images.astype(np.uint8), digits.target.astype(np.uint8)
    if len(y) == DIGITS_IMAGES:
        test = digits_test_mask(y)
        return (x[test], y[test]) if split == "test" else (x[~test], y[~test])
    if len(y) == DIGITS_IMAGES - DIGITS_TEST:
        if split == "test":
            raise _held_out("the digits", "scikit-learn's digits.csv.gz")
        return x, y
    raise DatasetNotFoundError(f"scikit-learn's digits hold {len(y)} images, not {DIGITS_IMAGES}")


def load_image_split(directory: os.PathLike | str, image_size: tuple[int, int] = (150, 150)) -> ArrayPair:
    """Every image of ``directory/CLASS/*`` as (N, H, W, 3) float32 in 0..255 and (N,) uint8 labels.

    Classes in alphabetical order, files in name order, each image read as the course's pipelines read
    it: ``keras.utils.load_img(path, target_size=image_size, interpolation="bilinear")`` (any backend).
    """
    import keras

    root = Path(directory)
    classes = sorted(path.name for path in root.iterdir() if path.is_dir())
    files = [(path, label) for label, name in enumerate(classes) for path in sorted((root / name).iterdir())
             if path.suffix.lower() in IMAGE_SUFFIXES]
    x = np.stack([keras.utils.img_to_array(keras.utils.load_img(path, target_size=tuple(image_size),
                                                                interpolation="bilinear"), dtype="float32")
                  for path, _ in files])
    return x, np.array([label for _, label in files], dtype=np.uint8)


# --- Small, stratified, deterministic subsets (the smoke profile) -----------------


def stratified_indices(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` examples with every class as equally represented as ``n`` allows.

    Deterministic for a given ``seed``; sorted, so the subset keeps the
    original order. ``n`` larger than the data set is an error.
    """
    labels = np.asarray(labels).reshape(-1)
    if n > len(labels):
        raise ValueError(f"asked for {n} examples from {len(labels)}")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    pools = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    base, extra = divmod(n, len(classes))
    extra_classes = set(rng.permutation(len(classes))[:extra].tolist())
    wanted = [base + (1 if i in extra_classes else 0) for i in range(len(classes))]
    taken = [pool[:w] for pool, w in zip(pools, wanted)]
    short = sum(w - len(t) for w, t in zip(wanted, taken))
    if short:  # a rare class ran out: top up from the others, still deterministically
        rest = rng.permutation(np.concatenate([pool[w:] for pool, w in zip(pools, wanted)]))
        taken.append(rest[:short])
    return np.sort(np.concatenate(taken))


def subset_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cnn-course" / "subsets"


def training_split(name: str, n_validation: int, n_train: Optional[int] = None, seed: int = 0,
                   data_dir=None, download: bool = True, cache: bool = True) -> tuple[ArrayPair, ArrayPair]:
    """The training split of ``"mnist"``, ``"cifar10"`` or ``"digits"`` as (train, validation): a fixed,
    stratified ``n_validation`` images carved from it to validate on, and the rest (or a stratified
    ``n_train`` of the rest) to train on. Shaped like Keras's loaders. Never touches the test split.

    Cached as uncompressed ``.npz`` (keyed by data set, sizes and seed), so a smoke run does not
    decompress all of CIFAR-10 every time; a cached file is used only when it matches the checksum
    recorded beside it, and a cache that cannot be written is simply not written.
    """
    path = subset_cache_dir() / f"{name}-train{n_train or 'all'}-validation{n_validation}-seed{seed}.npz"
    if cache and name != "digits" and _intact(path):
        kept = _load_npz(path, LABEL_SHAPES[name], ("train", "validation"))
        return kept["train"], kept["validation"]
    x, y = load_split(name, "train", data_dir, download)
    validation = stratified_indices(y, n_validation, seed)
    rest = np.setdiff1d(np.arange(len(y)), validation)
    train = rest if n_train is None else rest[stratified_indices(y[rest], n_train, seed)]
    result = (x[train], y[train]), (x[validation], y[validation])
    if cache and name != "digits":
        _keep(path, x_train=result[0][0], y_train=result[0][1], x_validation=result[1][0], y_validation=result[1][1])
    return result


def test_split(name: str, size: Optional[int] = None, seed: int = 0, data_dir=None, download: bool = True,
               cache: bool = True) -> ArrayPair:
    """The test split of ``"mnist"``, ``"cifar10"`` or ``"digits"`` (a stratified ``size`` of it, cached
    like :func:`training_split`): what the grader scores on. Held out in a graded run (:class:`HeldOutError`)."""
    if size is None:
        return load_split(name, "test", data_dir, download)
    path = subset_cache_dir() / f"{name}-test{size}-seed{seed}.npz"
    if cache and name != "digits" and _intact(path):
        return _load_npz(path, LABEL_SHAPES[name], ("test",))["test"]
    x, y = load_split(name, "test", data_dir, download)
    chosen = stratified_indices(y, size, seed)
    if cache and name != "digits":
        _keep(path, x_test=x[chosen], y_test=y[chosen])
    return x[chosen], y[chosen]


def _keep(path: Path, **arrays: np.ndarray) -> None:
    """Write ``arrays`` to ``path`` with its checksum beside it; nothing when the cache is read-only or full."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **arrays)
        _checksum_file(path).write_text(_sha256(tmp))
        os.replace(tmp, path)
    except OSError:
        pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksum_file(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _intact(path: Path) -> bool:
    """Whether a cached file exists and matches the checksum recorded when it was written."""
    recorded = _checksum_file(path)
    try:
        return path.is_file() and not path.is_symlink() and recorded.read_text().strip() == _sha256(path)
    except OSError:
        return False


def cats_and_dogs_subset(per_class: dict[str, int], seed: int = 0, data_dir=None, out=None) -> Path:
    """A smaller dogs-vs-cats directory with ``per_class[split]`` images per class.

    Files are hard-linked where possible (copied otherwise) into ``out``
    (default: a cache folder keyed by sizes and seed, or a fresh temporary
    folder where the cache cannot be written), in the same layout as the full
    set. Selection is a seeded sample of each class folder. A cached folder is
    used only when every file matches the checksums recorded in it.
    """
    source = cats_and_dogs_small(data_dir)
    key = "-".join(f"{s}{per_class[s]}" for s in sorted(per_class))
    out = Path(out) if out is not None else subset_cache_dir() / f"{CATS_AND_DOGS}-{key}-seed{seed}"
    done = out / ".complete"
    if done.exists() and done.read_text() == _manifest_text(out):
        return out
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / ".probe").touch()
        (out / ".probe").unlink()
    except OSError:
        out = Path(tempfile.mkdtemp(prefix=f"{CATS_AND_DOGS}-"))
        done = out / ".complete"
    for split in sorted(per_class):
        if not (source / split).is_dir():
            raise _held_out("dogs-vs-cats small", source) if split == "test" else DatasetNotFoundError(
                f"{source} has no {split}/ folder")
        for c, cls in enumerate(CLASSES):
            rng = np.random.default_rng([seed, list(SPLITS).index(split), c])  # independent of the other splits
            files = sorted((source / split / cls).glob("*.jpg"))
            if per_class[split] > len(files):
                raise ValueError(f"asked for {per_class[split]} {cls} in {split}, only {len(files)} there")
            chosen = [files[i] for i in sorted(rng.permutation(len(files))[: per_class[split]])]
            target = out / split / cls
            target.mkdir(parents=True, exist_ok=True)
            for f in chosen:
                dst = target / f.name
                if not dst.exists():
                    try:
                        os.link(f, dst)
                    except OSError:
                        shutil.copyfile(f, dst)
    done.write_text(_manifest_text(out))
    return out


def _manifest_text(root: Path) -> str:
    """One ``sha256  path`` line per image below ``root``."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(sha256_manifest(root).items()))
