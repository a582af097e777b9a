"""``make gpu-kit``: gather what a GPU machine needs beyond Python, CUDA, PyTorch and JAX, and cut it into parts.

The kit holds the grader's wheels (``requirements/kit.txt`` at ``cpu.lock``'s versions, for the target Python),
bubblewrap's ``.deb``, the course's data sets and the course itself (its tracked and untracked, not ignored,
files). Each part folder ``part-NN`` is at most ``part_bytes``, so that it travels with one command to a machine
that takes at most 64 MiB per command; a file that crosses a part's end (``cifar10.npz`` crosses two) is cut
into chunks that ``run.py`` joins again and checks against ``manifest.json``'s SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

from autograder.errors import AutograderError
from autograder.paths import ROOT

MIB = 1024 * 1024
PART_BYTES = 60 * MIB  # under the 64 MiB one command carries, with room for the command's own files
MANIFEST_BYTES = 256 * 1024  # room kept in part-01 for manifest.json
DATASETS = ("mnist", "cifar10", "cats_and_dogs_small")
# Linux x86_64 wheel tags a GPU machine's pip accepts (pip needs them spelled out for another Python), the oldest
# glibc first so that pip prefers the wheels that run on the most machines.
PLATFORMS = ("manylinux1_x86_64", "manylinux2010_x86_64", "manylinux_2_12_x86_64", "manylinux2014_x86_64",
             *(f"manylinux_2_{minor}_x86_64" for minor in range(17, 35)))


@dataclass(frozen=True)
class Item:
    """One file of the kit: where it goes in the kit, and where it is now."""

    name: str
    source: Path


def download_wheels(dest: Path, python_version: Optional[str]) -> list[Path]:
    """The wheels of requirements/kit.txt and their dependencies, at cpu.lock's versions, for ``python_version``
    (None: this Python) on Linux x86_64."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "-r", str(ROOT / "requirements" / "kit.txt"), "-c", str(ROOT / "requirements" / "cpu.lock"),
               "--only-binary=:all:", "--dest", str(dest)]
    if python_version:
        command += ["--python-version", python_version, "--implementation", "cp"]
        command += [arg for tag in PLATFORMS for arg in ("--platform", tag)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise AutograderError(f"pip could not download the kit's wheels:\n{done.stderr.strip()[-2000:]}")
    return sorted(dest.glob("*.whl"))


def download_bubblewrap(dest: Path) -> Path:
    """Debian's bubblewrap package (``apt-get download``: no root needed)."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(["apt-get", "download", "bubblewrap"], cwd=dest, capture_output=True, text=True)
    except FileNotFoundError:
        raise AutograderError("apt-get is missing: the kit needs Debian's bubblewrap package (or --no-bubblewrap "
                              "where the GPU machine has bwrap)") from None
    debs = sorted(dest.glob("bubblewrap_*.deb"))
    if done.returncode or not debs:
        raise AutograderError(f"apt-get could not download bubblewrap: {done.stderr.strip()[-500:]}")
    return debs[-1]


def course_files(root: Path = ROOT) -> list[str]:
    """The course's files as the checkout has them: tracked and untracked, less what git ignores."""
    done = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                          capture_output=True, check=True)
    names = done.stdout.decode().split("\0")
    return sorted({n for n in names if n and ((root / n).is_file() or (root / n).is_symlink())})


def course_archive(dest: Path, root: Path = ROOT) -> Path:
    archive = dest / "course.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in course_files(root):
            tar.add(root / name, arcname=name, recursive=False)
    return archive


def data_items(data_dir: Path, names: Sequence[str], scratch: Path) -> list[Item]:
    """The data sets asked for; the cats-and-dogs folder as one tar (4,000 small files travel badly)."""
    items = []
    for name in names:
        if name not in DATASETS:
            raise AutograderError(f"unknown data set {name!r}: the kit carries {', '.join(DATASETS)}")
        if name == "cats_and_dogs_small":
            folder = data_dir / name
            if not folder.is_dir():
                raise AutograderError(f"{folder} is missing: the kit needs the course's data sets")
            archive = scratch / f"{name}.tar"
            with tarfile.open(archive, "w") as tar:
                tar.add(folder, arcname=name)
            items.append(Item(f"data/{name}.tar", archive))
            checksums = data_dir / f"{name}.sha256"
            if checksums.is_file():
                items.append(Item(f"data/{checksums.name}", checksums))
        else:
            path = data_dir / f"{name}.npz"
            if not path.is_file():
                raise AutograderError(f"{path} is missing: the kit needs the course's data sets")
            items.append(Item(f"data/{path.name}", path))
    return items


def pack(items: Iterable[Item], out: Path, part_bytes: int = PART_BYTES) -> list[Path]:
    """Write ``items`` into ``out/part-NN`` folders of at most ``part_bytes`` each, as one stream: a file that
    does not fit the rest of a part goes on in the next one. part-01 also holds run.py and manifest.json (every
    file's size, SHA-256 and chunks, in order)."""
    out.mkdir(parents=True, exist_ok=True)
    runner = Path(__file__).with_name("run.py")
    parts: list[Path] = []
    room = 0
    manifest = []
    for item in items:
        chunks: list[str] = []
        digest, size = hashlib.sha256(), 0  # of the bytes as they are written, so each file is read once
        with open(item.source, "rb") as f:
            while True:
                if room == 0:
                    if chunks and not f.peek(1):  # the file ended with the part: no empty part after it
                        break
                    parts.append(out / f"part-{len(parts) + 1:02d}")
                    parts[-1].mkdir()
                    room = part_bytes - (runner.stat().st_size + MANIFEST_BYTES if len(parts) == 1 else 0)
                block = f.read(room)
                if not block and chunks:
                    break
                chunk = parts[-1] / f"{item.name.replace('/', '__')}.{len(chunks):03d}"
                chunk.write_bytes(block)
                digest.update(block)
                size += len(block)
                chunks.append(f"{parts[-1].name}/{chunk.name}")
                room -= len(block)
        manifest.append({"name": item.name, "size": size, "sha256": digest.hexdigest(), "chunks": chunks})
    if not parts:
        parts.append(out / "part-01")
        parts[-1].mkdir()
    text = json.dumps({"parts": len(parts), "files": manifest}, indent=1)
    if len(text) > MANIFEST_BYTES:
        raise AutograderError(f"the kit's manifest ({len(text)} bytes) outgrew its room in part-01")
    shutil.copy2(runner, parts[0] / "run.py")
    (parts[0] / "manifest.json").write_text(text)
    return parts


def build(out: Path, data_dir: Path, python_version: Optional[str] = "3.12",
          datasets: Sequence[str] = DATASETS, part_bytes: int = PART_BYTES, bubblewrap: bool = True) -> list[Path]:
    """Build the kit into ``out`` (emptied first); the part folders, in order."""
    if out.exists():
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory(prefix="gpu-kit-") as tmp:
        scratch = Path(tmp)
        wheels = download_wheels(scratch / "wheels", python_version)
        items = [Item(f"wheels/{w.name}", w) for w in wheels]
        if bubblewrap:
            deb = download_bubblewrap(scratch / "debs")
            items.append(Item(f"debs/{deb.name}", deb))
        items.append(Item("course.tar.gz", course_archive(scratch)))
        items += data_items(data_dir, datasets, scratch)
        return pack(items, out, part_bytes)
