"""Before any notebook runs: the data sets the chosen assignments need are found and intact (and the pretrained
weights their retraining starts from), the sandbox starts, the rubrics load. Every route calls
:func:`preflight` (``grade``, ``batch``, ``autograde``, the pytest plugin); a failure is one
:class:`PreflightError` naming what is missing and how to set it, and nothing is graded.

Which data sets an assignment needs is read from its rubric (the ``dataset`` argument of its checks).
A data set is intact when its files have the layout the course's loaders read: the ``.npz`` members and array
shapes (read from the headers, without loading the arrays), and for dogs-vs-cats small every split and class,
checked against ``cats_and_dogs_small.sha256`` where that manifest lies beside it.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

from autograder.errors import AutograderError
from autograder.grading import GradingSettings
from autograder.rubric import CheckSpec, Rubric
from coursework import datasets

BUNDLED = {"digits"}  # ships with scikit-learn: nothing to find
NPZ = {  # data set -> (file, {member: trailing shape})
    "mnist": ("mnist.npz", {"x_train": (28, 28), "y_train": (), "x_test": (28, 28), "y_test": ()}),
    "cifar10": ("cifar10.npz", {"x_train": (32, 32, 3), "y_train": None, "x_test": (32, 32, 3), "y_test": None}),
}
HOW = ("Point the grader at the course's data folder with {flag} DIR or ${env}=DIR (`python -m autograder data "
       "locate --data-dir DIR` says what it finds there; `{fetch}`, on a machine with a "
       "network, fills Keras's cache with MNIST and CIFAR-10).")
HOW_HERE = ("Run `{fetch}` here, on a machine with a network, to fetch the data sets, or set ${env}=DIR to the "
            "course's data folder.")  # where $CNN_COURSE_FETCH names the command (the student repository)


def data_how(flag: str) -> str:
    """How to give the grader its data, in the words of where it runs ($CNN_COURSE_FETCH set: that command)."""
    if datasets.fetch_command() != datasets.FETCH:
        return HOW_HERE.format(fetch=datasets.fetch_command(), env=datasets.ENV_DIR)
    return HOW.format(flag=flag, env=datasets.ENV_DIR, fetch=datasets.FETCH)


class PreflightError(AutograderError):
    """The grader cannot grade these assignments here: nothing was run."""


def _users(rubrics: Sequence[Rubric], names: Callable[[CheckSpec], Iterable[Any]]) -> dict[str, list[str]]:
    """{name: the assignments with a check for which ``names`` gives it}, in rubric order, each once."""
    needed: dict[str, list[str]] = {}
    for rubric in rubrics:
        for spec in rubric.checks:
            for name in names(spec):
                if isinstance(name, str) and rubric.name not in needed.get(name, []):
                    needed.setdefault(name, []).append(rubric.name)
    return needed


def needed_datasets(rubrics: Sequence[Rubric]) -> dict[str, list[str]]:
    """{data set: the assignments that need it}, from the rubrics' check arguments."""
    return _users(rubrics, lambda spec: [args.get("dataset") for args in (spec.args, *spec.profile_args.values())
                                         if args.get("dataset") not in BUNDLED])


def needed_pretrained(rubrics: Sequence[Rubric], profile: str) -> dict[str, list[str]]:
    """{pretrained network: the assignments whose retraining in ``profile`` starts from it}."""
    return _users(rubrics, lambda spec: [(spec.args_for(profile).get("retrain") or {}).get("pretrained")])


def dataset_problem(name: str, data_dir: Optional[str]) -> Optional[str]:
    """Why data set ``name`` cannot be used (not found, incomplete, corrupt), or None when it is there intact."""
    if name == "cats_and_dogs":
        try:
            root = datasets.cats_and_dogs_small(data_dir, check=True)
        except datasets.DatasetNotFoundError as exc:
            return str(exc).splitlines()[0]
        return manifest_problem(root)
    if name not in NPZ:
        return f"no known data set {name!r}"
    filename, members = NPZ[name]
    found = next((d / filename for _, d in datasets.search_dirs(data_dir) if (d / filename).is_file()), None)
    if found is None:
        if name == "cifar10" and (datasets.keras_cache_dir() / "cifar-10-batches-py" / "test_batch").is_file():
            return None  # Keras's own cache, read by Keras
        looked = ", ".join(str(d / filename) for _, d in datasets.search_dirs(data_dir))
        return f"{name} not found (looked for {looked})"
    return npz_problem(found, members)


def npz_problem(path: Path, members: dict[str, Optional[tuple[int, ...]]]) -> Optional[str]:
    """Whether ``path`` holds every member with its trailing shape (headers only: nothing large is read)."""
    import numpy as np

    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            for member, shape in members.items():
                if f"{member}.npy" not in names:
                    return f"{path} has no {member} array: not the course's file"
                with archive.open(f"{member}.npy") as fh:
                    version = np.lib.format.read_magic(fh)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    found = read(fh)[0]
                if shape is not None and tuple(found[1:]) != shape:
                    return f"{path}: {member} has shape {found}, expected (N, {', '.join(map(str, shape))})"
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
        return f"{path} is damaged: {exc}"
    return None


def manifest_problem(root: Path) -> Optional[str]:
    """Every image listed in the sha256 manifest beside ``root`` is there with its digest (no manifest: None)."""
    manifest = root.with_name(root.name + ".sha256")
    if not manifest.is_file():
        return None
    bad = []
    for line in manifest.read_text().splitlines():
        digest, _, name = line.partition("  ")
        path = root / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            bad.append(name)
    if bad:
        return f"{root}: {len(bad)} image(s) missing or changed against {manifest.name} (first: {bad[0]})"
    return None


def preflight(rubrics: Sequence[Rubric], settings: GradingSettings, flag: str = "--data-dir") -> GradingSettings:
    """Check what grading ``rubrics`` needs; the settings with the sandbox mode settled (see
    :meth:`GradingSettings.resolved`). Raises :class:`PreflightError` naming every problem at once, and the
    option (``flag``) or variable that sets the data folder."""
    from autograder import checks
    from autograder.scoring import retraining

    problems = []
    for rubric in rubrics:  # each check's function and arguments against its signature
        problems += [f"rubric {problem}" for problem in checks.rubric_problems(rubric)]
    for name, users in sorted(needed_datasets(rubrics).items()):
        problem = dataset_problem(name, settings.data_dir)
        if problem:
            problems.append(f"data set {name} (needed by {', '.join(users)}): {problem}")
    for name, users in sorted(needed_pretrained(rubrics, settings.profile).items()):
        problem = retraining.pretrained_problem(name)
        if problem:
            problems.append(f"pretrained weights {name} (the grader retrains {', '.join(users)} from them in the "
                            f"{settings.profile} profile): {problem}")
    data_problem = any(p.startswith("data set") for p in problems)
    try:
        settings = settings.resolved()
    except AutograderError as exc:
        problems.append(f"sandbox: {exc}")
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise PreflightError(f"nothing was graded; the preflight found:\n{lines}" + (
            "\n" + data_how(flag) if data_problem else ""))
    return settings
