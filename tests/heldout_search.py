"""A hostile notebook's search for the grader's evaluation images: this file's text becomes a notebook cell.

It walks every folder it can see (``/``, ``/proc/self/root``, its home, ``/tmp``; a folder reached twice
is walked once), loads every ``.npz``, ``.npy``, ``.jpg`` and ``.csv(.gz)`` file, and compares each image
in them with the digests the test computed outside the sandbox: SHA-256 (first 16 hex digits) of a
uint8 28x28, 32x32x3 or 8x8 image's bytes, or of a JPEG file's bytes.
"""

import gzip
import hashlib
import os

import numpy as np

IMAGE_SHAPES = ((28, 28), (32, 32, 3), (8, 8))
SKIPPED = {"/proc", "/sys", "/dev"}


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def holds_an_image(array, digests) -> bool:
    """Whether ``array`` (any stack of images, or 64-value rows) holds an image among ``digests``."""
    array = np.asarray(array)
    if array.size == 0 or array.dtype.kind not in "uif":
        return False
    if array.dtype.kind == "f":
        if not (np.all(array >= 0) and np.all(array <= 255) and np.all(array == np.round(array))):
            return False
    elif array.min() < 0 or array.max() > 255:
        return False
    array = array.astype(np.uint8)
    if array.ndim == 2 and array.shape[1] in (64, 65):  # scikit-learn's digits: 64 pixels and a label per row
        array = array[:, :64].reshape(-1, 8, 8)
    for shape in IMAGE_SHAPES:
        if array.ndim >= len(shape) and tuple(array.shape[-len(shape):]) == shape:
            stack = array.reshape(-1, *shape)
            return any(digest(np.ascontiguousarray(image).tobytes()) in digests for image in stack)
    return False


def file_holds_an_image(path: str, digests) -> bool:
    lower = path.lower()
    if lower.endswith((".jpg", ".jpeg")):
        with open(path, "rb") as fh:
            return digest(fh.read()) in digests
    if lower.endswith(".npy"):
        return holds_an_image(np.load(path, allow_pickle=False), digests)
    if lower.endswith(".npz"):
        with np.load(path, allow_pickle=False) as data:
            return any(holds_an_image(data[key], digests) for key in data.files)
    if lower.endswith((".csv", ".csv.gz")):
        with (gzip.open if lower.endswith(".gz") else open)(path, "rt") as fh:
            rows = [line.split(",") for line in fh.read(5_000_000).splitlines()]
        rows = [[float(v) for v in row] for row in rows if len(row) in (64, 65)]
        return bool(rows) and holds_an_image(np.array(rows), digests)
    return False


def search(digests, roots=("/", "/proc/self/root", os.path.expanduser("~"), "/tmp")):
    """(paths of files holding an evaluation image, how many candidate files were read)."""
    found, seen, read = [], set(), 0
    for root in roots:
        for top, dirs, names in os.walk(root):
            try:
                status = os.stat(top)
            except OSError:
                dirs[:] = []
                continue
            if (status.st_dev, status.st_ino) in seen:
                dirs[:] = []
                continue
            seen.add((status.st_dev, status.st_ino))
            dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(top, d)) not in SKIPPED]
            for name in names:
                path = os.path.join(top, name)
                if not name.lower().endswith((".jpg", ".jpeg", ".npy", ".npz", ".csv", ".csv.gz")):
                    continue
                try:
                    if os.path.islink(path) or os.path.getsize(path) > 400_000_000:
                        continue
                    read += 1
                    if file_holds_an_image(path, digests):
                        found.append(path)
                except Exception:
                    continue
    return found, read
