"""The GPU kit (`make gpu-kit`): parts that each fit one command's carry, joined and checked on the far side, and
its one script grading from the kit alone, offline, in a fresh environment with no TensorFlow.

As far as a CPU allows: the kit is built for this Python instead of the GPU machine's 3.12, with MNIST only, and
its environment takes PyTorch from `.venv-torch` (`--site`), where a GPU machine has its own CUDA build.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.errors import AutograderError
from autograder.gpukit import build, run
from autograder.paths import ROOT

TORCH_SITE = next((ROOT / ".venv-torch" / "lib").glob("python3*/site-packages"), None) \
    if (ROOT / ".venv-torch" / "lib").is_dir() else None


def files(tmp_path: Path, sizes: dict[str, int]) -> list[build.Item]:
    items = []
    for i, (name, size) in enumerate(sizes.items()):
        source = tmp_path / "src" / name.replace("/", "_")
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(os.urandom(size) if size else b"")
        items.append(build.Item(name, source))
    return items


def test_parts_fit_their_limit_and_join_into_the_same_files(tmp_path):
    limit = 400_000
    items = files(tmp_path, {"wheels/a.whl": 5_000, "data/big.npz": 1_000_000, "empty.txt": 0, "course.tar.gz": 90})
    parts = build.pack(items, tmp_path / "kit-parts", limit)
    assert len(parts) == 4  # 1,095,090 bytes and part-01's reserve, in parts of 400,000
    for part in parts:
        assert sum(f.stat().st_size for f in part.iterdir()) <= limit, part
    run.assemble(tmp_path / "kit-parts", tmp_path / "kit")
    for item in items:
        assert (tmp_path / "kit" / item.name).read_bytes() == item.source.read_bytes(), item.name


def test_a_file_that_ends_on_a_part_boundary_opens_no_empty_part(tmp_path):
    limit = 400_000
    first = limit - (Path(build.__file__).with_name("run.py").stat().st_size + build.MANIFEST_BYTES)
    items = files(tmp_path, {"data/exact.npz": first + limit})  # fills part-01's room, then all of part-02
    parts = build.pack(items, tmp_path / "kit-parts", limit)
    on_disk = sorted(p.name for p in (tmp_path / "kit-parts").iterdir())
    assert [p.name for p in parts] == ["part-01", "part-02"] == on_disk
    run.assemble(tmp_path / "kit-parts", tmp_path / "kit")
    assert (tmp_path / "kit" / "data" / "exact.npz").read_bytes() == items[0].source.read_bytes()


def test_a_missing_or_damaged_part_is_named(tmp_path):
    items = files(tmp_path, {"data/big.npz": 1_000_000})
    parts = build.pack(items, tmp_path / "kit-parts", 400_000)
    moved = shutil.move(parts[2], tmp_path / "elsewhere")
    with pytest.raises(run.KitError, match=r"data/big.npz: part-03 of 4 parts not here"):
        run.assemble(tmp_path / "kit-parts", tmp_path / "kit")
    shutil.move(moved, parts[2])
    chunk = next(parts[1].iterdir())
    chunk.write_bytes(b"x" + chunk.read_bytes()[1:])
    with pytest.raises(run.KitError, match="SHA-256 differs"):
        run.assemble(tmp_path / "kit-parts", tmp_path / "kit")
    assert not (tmp_path / "kit" / "data" / "big.npz").exists()


@pytest.fixture(scope="module")
def kit(tmp_path_factory, data_dir):
    """The kit, built for real (pip download, apt-get download), in parts of 8 MiB."""
    out = tmp_path_factory.mktemp("gpu-kit") / "parts"
    done = subprocess.run([sys.executable, "-m", "autograder", "gpu-kit", "--out", str(out), "--python-version",
                           "native", "--datasets", "mnist", "--part-mib", "8", "--data-dir", str(data_dir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_the_kit_holds_the_grader_and_never_tensorflow_or_a_solution_outside_the_course(kit):
    parts = sorted(kit.glob("part-*"))
    assert all(sum(f.stat().st_size for f in p.iterdir()) <= 8 * build.MIB for p in parts)
    names = [f["name"] for f in json.loads((parts[0] / "manifest.json").read_text())["files"]]
    wheels = {n.split("/")[1].split("-")[0].lower() for n in names if n.startswith("wheels/")}
    assert {"keras", "papermill", "nbconvert", "ipykernel", "matplotlib"} <= wheels
    assert not wheels & {"tensorflow", "tensorflow_cpu", "torch", "jax", "jaxlib", "nbgrader"}
    assert any(n.startswith("debs/bubblewrap_") for n in names)
    assert {"course.tar.gz", "data/mnist.npz"} <= set(names)


def test_bubblewrap_comes_from_the_kit_where_the_machine_has_none(kit, tmp_path, monkeypatch):
    run.assemble(kit, tmp_path)
    monkeypatch.setattr(run.shutil, "which", lambda name: None)
    bin_dir = run.unpack(tmp_path)
    version = subprocess.run([str(bin_dir / "bwrap"), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("bubblewrap"), version.stderr


@pytest.mark.notebooks
@pytest.mark.skipif(TORCH_SITE is None, reason="no .venv-torch: `make setup BACKEND=torch` builds it")
def test_the_kit_grades_offline_in_a_fresh_environment(kit, tmp_path, data_dir):
    """run.py from part-01 with this machine's base Python: no pip index, no course data but the kit's. One seed
    (the merge of seeds run side by side: tests/test_calibrate.py)."""
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    env = {k: v for k, v in os.environ.items() if k not in ("CNN_COURSE_DATA", "VIRTUAL_ENV", "PYTHONPATH",
                                                           "KERAS_BACKEND") and not k.startswith("PIP_")}
    env["PATH"] = "/usr/bin:/bin"
    out = tmp_path / "results"
    done = subprocess.run([str(base_python), str(kit / "part-01" / "run.py"), "--kit", str(tmp_path / "kit"),
                           "--site", str(TORCH_SITE), "--profile", "smoke", "--seeds", "1",
                           "--assignment", "00", "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    graded = out / "run-1" / "seed-1" / "00"
    results = json.loads((graded / "results.json").read_text())
    lost = [(r["id"], r["message"]) for r in results["results"] if r["points"] < r["max_points"]]
    assert results["results"] and not lost, lost
    assert "torch backend" in (graded / "00_warmup.ipynb").read_text()
    merged = json.loads((out / "calibration.json").read_text())
    assert merged["seeds"] == [1] and len(merged["values"]["00/accuracy"]) == 1
    assert merged["machine"]["backend"] == "torch" and "tensorflow" not in merged["machine"]
    assert "00 accuracy" in (out / "calibration.txt").read_text()
    python = tmp_path / "kit" / "venv" / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('tensorflow'))"],
                           capture_output=True, text=True, env=env)
    assert probe.stdout.strip() == "None", probe.stderr


def test_a_data_set_the_kit_cannot_carry_is_refused_by_name(tmp_path):
    with pytest.raises(AutograderError, match="unknown data set 'imagenet'"):
        build.data_items(tmp_path, ["imagenet"], tmp_path)
    with pytest.raises(AutograderError, match=r"mnist.npz is missing"):
        build.data_items(tmp_path, ["mnist"], tmp_path)
    with pytest.raises(AutograderError, match=r"cats_and_dogs_small is missing"):
        build.data_items(tmp_path, ["cats_and_dogs_small"], tmp_path)


def test_no_bwrap_and_no_usable_package_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(run.shutil, "which", lambda name: None)
    with pytest.raises(run.KitError, match="no bwrap and the kit no bubblewrap package"):
        run.unpack(tmp_path)
    (tmp_path / "debs").mkdir()
    (tmp_path / "debs" / "bubblewrap_0.0_amd64.deb").write_text("not an archive")
    with pytest.raises(run.KitError, match="is not a Debian package"):
        run.unpack(tmp_path)
    (tmp_path / "debs" / "bubblewrap_0.0_amd64.deb").write_bytes(b"!<arch>\n")
    with pytest.raises(run.KitError, match="has no data.tar member"):
        run.unpack(tmp_path)
