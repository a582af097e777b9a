"""Run a student's functions on the grader's hidden cases, and gather the facts outside their reach.

Some checks must call what the student wrote (a generator, a data pipeline)
on inputs the student never saw. The definitions lifted from the staged
notebook (:mod:`autograder.studentcode.lift`) and the small script
:mod:`autograder.studentcode.sandbox_script` go into a fresh folder; the script runs
in the sandbox with a timeout, calls the student's functions and writes their
raw results (JSON, arrays saved without pickle). Back in the grader, this
module reads those files, size-capped, and computes the facts the checks judge:
whatever the student's code does inside its process, it can only change what its
functions returned, never a fact or a verdict.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable, Optional

from autograder.errors import ArtifactError, CheckTimeout, MissingArtifact
from autograder.rubric import Limits
from autograder.sandbox import Sandbox, hand_over, kernel_environment
from autograder.studentcode import sandbox_script
from autograder.studentcode.lift import student_definitions

def make_image_tree(root: Path, counts: dict[str, int], seed: int = 0) -> Path:
    """train/ and validation/ with a dark class ``cats`` and a bright class ``dogs``, images of odd sizes."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    sizes = [(90, 120), (200, 160), (150, 150), (64, 300)]
    for split, count in counts.items():
        for label, (low, high) in (("cats", (0, 60)), ("dogs", (190, 256))):
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                h, w = sizes[i % len(sizes)]
                pixels = rng.integers(low, high, size=(h, w, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{label[:-1]}.{i}.jpg", quality=95)
    return root


def _arrays(path: Path, cap: int) -> list[tuple[Any, Any]]:
    """The (x, y) batches of one dumped pass, read without pickle after checking the archive's size
    (``cap`` bytes uncompressed)."""
    import numpy as np

    try:
        with zipfile.ZipFile(path) as archive:
            if sum(info.file_size for info in archive.infolist()) > cap:
                raise ArtifactError(f"your pipeline's batches exceed {cap:,} bytes")
        with np.load(path, allow_pickle=False) as data:
            count = len(data.files) // 2
            return [(data[f"x{i}"], data[f"y{i}"]) for i in range(count)]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"your pipeline's batches could not be read back: {exc}") from exc


def _pass_facts(batches: list[tuple[Any, Any]]) -> dict:
    """Shapes, ranges, labels and a digest of every image of one pass."""
    import numpy as np

    facts: dict[str, Any] = {"batches": [], "labels": [], "brightness": [], "images": []}
    digest = hashlib.sha256()
    for x, y in batches:
        if x.dtype.kind not in "fiub" or y.dtype.kind not in "fiub" or x.ndim < 1 or y.ndim < 1 or len(y) != len(x):
            raise ArtifactError(f"a batch of your pipeline is not images and labels (x {x.dtype} {x.shape}, "
                                f"y {y.dtype} {y.shape})")
        facts["batches"].append({"x_shape": list(x.shape), "x_dtype": str(x.dtype),
                                 "x_min": float(x.min()) if x.size else 0.0, "x_max": float(x.max()) if x.size else 0.0,
                                 "y_shape": list(y.shape), "y_dtype": str(y.dtype)})
        facts["labels"] += [float(v) for v in y.reshape(len(y), -1)[:, 0]] if y.size else []
        facts["brightness"] += [float(v) for v in x.reshape(len(x), -1).mean(axis=1)] if x.size else []
        digest.update(np.ascontiguousarray(x).tobytes())
        facts["images"] += [hashlib.sha256(np.round(img, 4).tobytes()).hexdigest()[:16] for img in x]
    facts["digest"] = digest.hexdigest()
    facts["images"].sort()
    return facts


def _generator_facts(result: dict, out: Path, cap: int) -> dict:
    return result


def _pipeline_facts(result: dict, out: Path, cap: int) -> dict:
    import numpy as np

    if any(key in result for key in ("error", "missing")):
        return result
    facts: dict[str, Any] = {key: result[key] for key in ("augmentation_layers", "augmentation_error") if key in result}
    for split in ("train", "validation"):
        facts[split] = [_pass_facts(_arrays(out / f"{split}-{n}.npz", cap)) for n in range(2)]
    if (out / "augmented.npz").exists() and "augmentation_error" not in result:
        with np.load(out / "augmented.npz", allow_pickle=False) as data:
            before, after = np.asarray(data["before"], dtype=np.float64), data["after"]
        facts["augmented"] = {"shape": list(after.shape), "dtype": str(after.dtype),
                              "min": float(after.min()), "max": float(after.max()),
                              "mean_abs_change": float(np.abs(after.astype(np.float64) - before).mean())
                              if after.shape == before.shape else 0.0,
                              "input_shape": list(before.shape)}
        for split in ("train", "validation"):
            facts[f"{split}_augmented"] = [_pass_facts(_arrays(out / f"{split}_augmented-0.npz", cap))]
    return facts


FACTS: dict[str, Callable[[dict, Path, int], dict]] = {"generator": _generator_facts, "pipeline": _pipeline_facts}


def run_harness(notebook: Optional[Path], harness: str, args: dict[str, Any], limits: Limits,
                sandbox: Optional[Sandbox] = None) -> dict[str, Any]:
    """Facts about the student's definitions on hidden inputs, within ``limits.harness_timeout`` and
    ``limits.harness_output_bytes``; raises on crash or timeout."""
    timeout, cap = limits.harness_timeout, limits.harness_output_bytes
    if notebook is None or not Path(notebook).is_file():
        raise MissingArtifact("the staged notebook is not available to this check")
    with tempfile.TemporaryDirectory(prefix="harness-") as tmp:
        work, out = Path(tmp) / "work", Path(tmp) / "out"
        work.mkdir()
        out.mkdir()
        (work / "student_definitions.py").write_text(student_definitions(Path(notebook)))
        shutil.copy(sandbox_script.__file__, work / "sandbox_script.py")
        call = dict(args)
        readable = [work]
        if harness == "pipeline":
            call["root"] = str(make_image_tree(Path(tmp) / "images", args["counts"]))
            readable.append(Path(call["root"]))
        (work / "args.json").write_text(json.dumps(call))
        command = [sys.executable, str(work / "sandbox_script.py"), harness, str(work / "student_definitions.py"),
                   str(work / "args.json"), str(out)]
        env = {**kernel_environment(), "TF_CPP_MIN_LOG_LEVEL": "3"}
        if sandbox is not None:
            hand_over(out, slot=sandbox.slot)
            box = dataclasses.replace(sandbox, writable=(out,), readable=(*sandbox.readable, *readable))
            command, env = box.command(command, work), box.environment(env)
        try:
            proc = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CheckTimeout(f"your code ran past the {timeout:.0f} s this check allows") from None
        result_file = out / "result.json"
        if proc.returncode != 0 or not result_file.is_file() or result_file.is_symlink():
            tail = [line for line in proc.stderr.splitlines() if line.strip()][-3:]
            raise ArtifactError("running your definitions failed: " + (" | ".join(tail) or f"exit code {proc.returncode}"))
        if sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) > cap:
            raise ArtifactError(f"your functions returned more than {cap:,} bytes")
        try:
            result = json.loads(result_file.read_text())
        except ValueError as exc:
            raise ArtifactError(f"running your definitions gave no readable result: {exc}") from exc
        if not isinstance(result, dict):
            raise ArtifactError("running your definitions gave no readable result")
        return FACTS[harness](result, out, cap)
