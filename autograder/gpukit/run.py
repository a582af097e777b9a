"""Run the GPU kit on a machine with no network: ``python3 part-01/run.py --out RESULTS``.

Standard library only: it runs before the kit's environment exists. In order, each step skipped when done:
1. join the parts (``part-NN`` folders beside this one, or ``--parts DIR``) into ``--kit`` (default: ``kit``
   beside them) and check every file against ``manifest.json``;
2. unpack the course, the cats-and-dogs photos and, where ``bwrap`` is missing, bubblewrap's ``.deb``;
3. make a virtual environment that sees the machine's own PyTorch and JAX (``--system-site-packages``, or
   ``--site DIR`` for a site-packages elsewhere) and install the kit's wheels into it, offline;
4. grade the reference solutions with ``autograder calibrate`` for each seed, the seeds side by side, each
   seed's feedback pages and figures under ``--out`` as they finish; then one table of them all
   (``calibration.txt``) and the merged figures (``calibration.json``, for ``calibrate --merge ... --write``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Optional, Sequence


class KitError(Exception):
    """A step of the kit failed; the message says which and why."""


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def assemble(parts: Path, kit: Path) -> None:
    """Join each file's chunks into ``kit`` and check its SHA-256; a file already whole is left as it is."""
    manifest = json.loads((parts / "part-01" / "manifest.json").read_text())
    for entry in manifest["files"]:
        target = kit / entry["name"]
        if target.is_file() and target.stat().st_size == entry["size"] and _sha256(target) == entry["sha256"]:
            continue
        missing = [c for c in entry["chunks"] if not (parts / c).is_file()]
        if missing:
            raise KitError(f"{entry['name']}: {', '.join(sorted({c.split('/')[0] for c in missing}))} of "
                           f"{manifest['parts']} parts not here (in {parts}): bring every part first")
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            for chunk in entry["chunks"]:
                out.write((parts / chunk).read_bytes())
        if _sha256(target) != entry["sha256"]:
            target.unlink()
            raise KitError(f"{entry['name']}: its chunks do not add up to the file built (SHA-256 differs)")


def deb_data(deb: Path) -> tarfile.TarFile:
    """The file tree of a Debian package (an ar archive whose ``data.tar.*`` member holds it)."""
    blob = deb.read_bytes()
    if not blob.startswith(b"!<arch>\n"):
        raise KitError(f"{deb.name} is not a Debian package")
    offset = 8
    while offset + 60 <= len(blob):
        header = blob[offset:offset + 60]
        name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58].decode().strip())
        if name.startswith("data.tar"):
            return tarfile.open(fileobj=io.BytesIO(blob[offset + 60:offset + 60 + size]))
        offset += 60 + size + size % 2
    raise KitError(f"{deb.name} has no data.tar member")


def _extract(tar: tarfile.TarFile, into: Path, safety: str) -> None:
    """extractall with the named filter where this Python has filters (3.11.4 and later)."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(into, filter=safety)
    else:
        tar.extractall(into)


def unpack(kit: Path) -> Optional[Path]:
    """The course and the photos out of their archives; bubblewrap's ``bin`` folder where this machine has no
    bwrap (None where it has)."""
    for archive, into in ((kit / "course.tar.gz", kit / "course"), (kit / "data/cats_and_dogs_small.tar", kit / "data")):
        stamp = into / f".unpacked-{archive.name}"
        if archive.is_file() and not stamp.is_file():
            with tarfile.open(archive) as tar:
                _extract(tar, into, "data")
            stamp.touch()
    if shutil.which("bwrap"):
        return None
    debs = sorted((kit / "debs").glob("bubblewrap_*.deb"))
    if not debs:
        raise KitError("this machine has no bwrap and the kit no bubblewrap package: the grader needs one")
    root = kit / "bubblewrap"
    if not (root / "usr/bin/bwrap").is_file():
        with deb_data(debs[-1]) as tar:
            _extract(tar, root, "tar")
    return root / "usr/bin"


def setup(kit: Path, venv: Path, backend: str, sites: Sequence[Path]) -> Path:
    """A virtual environment with the kit's wheels, the course on its path and the backend set; its python."""
    python = venv / "bin" / "python"
    stamp = venv / ".kit-installed"
    if stamp.is_file():
        return python
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], "making the environment")
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-index", "--disable-pip-version-check",
          "--ignore-installed", "--find-links", str(kit / "wheels"),
          "-r", str(kit / "course/requirements/kit.txt"), "-c", str(kit / "course/requirements/cpu.lock")],
         "installing the kit's wheels (offline)", env=dict(os.environ, PIP_CONFIG_FILE=os.devnull))
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    lines = [str((kit / "course").resolve())] + [str(Path(s).resolve()) for s in sites]
    (Path(purelib) / "gpu-kit.pth").write_text("\n".join(lines) + "\n")
    (Path(purelib) / "keras-backend.pth").write_text(
        f'import os; os.environ.setdefault("KERAS_BACKEND", "{backend}")\n')
    stamp.touch()
    return python


def _run(command: Sequence[str], what: str, **kwargs: object) -> None:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode:
        raise KitError(f"{what} failed ({done.returncode}):\n{(done.stdout + done.stderr).strip()[-3000:]}")


def environment(kit: Path, python: Path, backend: str, bwrap_bin: Optional[Path]) -> dict[str, str]:
    # Spelled here, not read from coursework.environment: this script runs before the kit's environment exists.
    env = dict(os.environ, KERAS_BACKEND=backend, CNN_COURSE_DATA=str((kit / "data").resolve()),
               TF_CPP_MIN_LOG_LEVEL="2", XLA_PYTHON_CLIENT_PREALLOCATE="false", CNN_COURSE_OFFLINE="1")
    path = [str(python.parent)] + ([str(bwrap_bin.resolve())] if bwrap_bin else [])
    env["PATH"] = os.pathsep.join(path + [env.get("PATH", "")])
    env.pop("VIRTUAL_ENV", None)
    return env


def calibrate(python: Path, kit: Path, env: dict[str, str], out: Path, profile: str, seeds: Sequence[int],
              assignments: Sequence[str]) -> int:
    """Every seed's grading side by side, then the merged table; the number of seeds that failed."""
    course = kit / "course"
    running = []
    for seed in seeds:
        folder = out / f"run-{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        command = [str(python), "-m", "autograder", "calibrate", "--profile", profile, "--seeds", str(seed),
                   "--out", str(folder.resolve())] + (["--assignment", *assignments] if assignments else [])
        log = open(folder / "log.txt", "w")
        running.append((seed, folder, log, subprocess.Popen(command, cwd=course, env=env, stdout=log,
                                                             stderr=subprocess.STDOUT)))
    failed = 0
    for seed, folder, log, process in running:
        code = process.wait()
        log.close()
        print(f"seed {seed}: exit {code}; log in {folder / 'log.txt'}", flush=True)
        failed += code != 0
    results = [str((out / f"run-{s}" / "calibration.json").resolve()) for s in seeds
               if (out / f"run-{s}" / "calibration.json").is_file()]
    if results:
        merged = subprocess.run([str(python), "-m", "autograder", "calibrate", "--merge", *results, "--json",
                                 str((out / "calibration.json").resolve())],
                                cwd=course, env=env, capture_output=True, text=True)
        (out / "calibration.txt").write_text(merged.stdout + merged.stderr)
        print(merged.stdout + merged.stderr, flush=True)
    return failed


def gpu_test(python: Path, kit: Path, env: dict[str, str]) -> int:
    """The sandbox test that a kernel still sees the GPU (only where nvidia-smi says there is one)."""
    if not shutil.which("nvidia-smi"):
        print("no nvidia-smi: the GPU test is skipped", flush=True)
        return 0
    return subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_sandbox.py::test_the_kernel_still_sees_its_gpu"],
                          cwd=kit / "course", env=env).returncode


def main(argv: Optional[Sequence[str]] = None) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", type=Path, default=here.parent, help="the folder of the part-NN folders")
    parser.add_argument("--kit", type=Path, help="where the kit is joined and set up (default: PARTS/kit)")
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "torch"),
                        choices=["torch", "jax", "tensorflow"])
    parser.add_argument("--site", type=Path, nargs="*", default=[],
                        help="more site-packages for the environment (where PyTorch or JAX lie outside the system's)")
    parser.add_argument("--profile", default="full", choices=["smoke", "full"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--assignment", nargs="*", default=[])
    parser.add_argument("--out", type=Path, default=Path("kit-results"))
    parser.add_argument("--gpu-test", action="store_true", help="also run the sandbox's GPU test")
    args = parser.parse_args(argv)
    kit = (args.kit or args.parts / "kit").resolve()
    try:
        assemble(args.parts, kit)
        bwrap_bin = unpack(kit)
        python = setup(kit, kit / "venv", args.backend, args.site)
        env = environment(kit, python, args.backend, bwrap_bin)
        failed = gpu_test(python, kit, env) if args.gpu_test else 0
        return calibrate(python, kit, env, args.out, args.profile, args.seeds, args.assignment) + failed
    except KitError as error:
        print(f"gpu kit: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
