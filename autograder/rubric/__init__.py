"""Rubrics: one TOML file per assignment, read into plain, immutable data.

A rubric names the notebook, the profiles (epochs, extra notebook parameters,
limits) and the checks: which check function, how many points, and its
arguments, shared or per profile. Keys that start with ``reference_`` record
what the reference solution measured when a threshold was set (one figure per
seed); they are documentation for people and for ``make calibrate``, never
passed to a check, and a figure that was never measured is absent.
Default limits per profile live in ``limits.toml`` beside the rubrics.

``$AUTOGRADER_RUBRIC_DIR`` (``--rubric-dir``) names another folder laid out like this one (an edited copy):
its rubrics replace these for every route, and its ``limits.toml`` where it has one.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from autograder.errors import RubricError
from coursework.profile import PROFILES

RUBRIC_DIR = Path(__file__).resolve().parent
LIMITS_FILE = RUBRIC_DIR / "limits.toml"
RUBRIC_DIR_VARIABLE = "AUTOGRADER_RUBRIC_DIR"


def rubric_dir() -> Path:
    """The rubrics in use: ``$AUTOGRADER_RUBRIC_DIR`` where set (checked to be a folder), else the grader's own."""
    chosen = os.environ.get(RUBRIC_DIR_VARIABLE)
    if not chosen:
        return RUBRIC_DIR
    path = Path(chosen).resolve()
    if not path.is_dir():
        raise RubricError(f"${RUBRIC_DIR_VARIABLE} (--rubric-dir) names {chosen}, which is not a folder of rubrics")
    return path


@dataclass(frozen=True)
class Limits:
    cell_timeout: float
    notebook_timeout: float
    output_bytes: int
    copy_bytes: int
    copy_files: int
    notebook_cells: int
    harness_timeout: float
    harness_output_bytes: int
    scoring_timeout: float
    json_bytes: int
    model_bytes: int
    model_expanded_bytes: int
    model_members: int
    model_parameters: int
    retrain_work: float  # multiply-adds one grader retraining may cost (autograder.modelspec.cost)
    memory_bytes: int
    processes: int
    file_bytes: int
    tmp_bytes: int
    disk_bytes: int
    disk_files: int

    def replace(self, overrides: Mapping[str, Any]) -> "Limits":
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise RubricError(f"unknown limits: {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **overrides)


@dataclass(frozen=True)
class Profile:
    name: str
    epochs: int
    limits: Limits
    parameters: dict[str, Any] = field(default_factory=dict)  # extra notebook parameters


@dataclass(frozen=True)
class CheckSpec:
    id: str
    function: str
    points: float
    description: str
    needs_execution: bool
    args: dict[str, Any]
    profile_args: dict[str, dict[str, Any]]
    review_points: float = 0.0  # points a person awards on reading the answer (``review = { points = N }``)

    @property
    def max_points(self) -> float:
        """The points possible: the automatic ``points`` and those a person awards on review."""
        return self.points + self.review_points

    def args_for(self, profile: str) -> dict[str, Any]:
        merged = {**self.args, **self.profile_args.get(profile, {})}
        return {k: v for k, v in merged.items() if not k.startswith("reference_")}

    def references(self, profile: str) -> dict[str, Any]:
        return {k: v for k, v in self.profile_args.get(profile, {}).items() if k.startswith("reference_")}


@dataclass(frozen=True)
class Rubric:
    id: str
    name: str
    title: str
    notebook: str
    profiles: dict[str, Profile]
    checks: tuple[CheckSpec, ...]
    path: Path
    # What the course fixes about a saved model, by its name ([models.NAME]): "frozen" (layer-name prefixes the
    # grader freezes when it retrains it), "recipe" (the optimizer, learning rate and loss a locked cell gives it),
    # "locked_cell" and "build" (the released notebook's locked cell defining it, and its function): see
    # autograder.scoring
    models: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def max_points(self) -> float:
        from autograder.points import rounded

        return rounded(sum(c.max_points for c in self.checks))

    def check(self, check_id: str) -> CheckSpec:
        for spec in self.checks:
            if spec.id == check_id:
                return spec
        raise RubricError(f"assignment {self.id} has no check {check_id!r}")


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RubricError(f"{path}: {exc}") from exc


def default_limits(directory: Path | None = None) -> dict[str, Limits]:
    """The limits per profile: ``directory``'s ``limits.toml`` (default: the rubrics in use), else the grader's."""
    path = (directory or rubric_dir()) / LIMITS_FILE.name
    path = path if path.is_file() else LIMITS_FILE
    data = _read(path)
    try:
        return {name: Limits(**data[name]) for name in PROFILES}
    except (KeyError, TypeError) as exc:
        raise RubricError(f"{path}: {exc}") from exc


def load(path: Path, defaults: Mapping[str, Limits] | None = None) -> Rubric:
    """Read and validate one rubric file (the check functions it names: :func:`autograder.checks.validated`)."""
    data = _read(path)
    defaults = defaults or default_limits()
    where = path.name
    try:
        profiles = {
            name: Profile(
                name=name,
                epochs=int(p["epochs"]),
                limits=defaults[name].replace(p.get("limits", {})),
                parameters=dict(p.get("parameters", {})),
            )
            for name, p in data["profiles"].items()
        }
        checks = []
        for c in data["checks"]:
            checks.append(
                CheckSpec(
                    id=c["id"],
                    function=c["function"],
                    points=float(c["points"]),
                    description=c["description"],
                    needs_execution=bool(c.get("needs_execution", True)),
                    args=dict(c.get("args", {})),
                    profile_args={p: dict(c.get(p, {})) for p in PROFILES if p in c},
                    review_points=_review_points(c.get("review", {}), f"{where}: check {c['id']!r}"),
                )
            )
        rubric = Rubric(
            id=str(data["id"]),
            name=data["name"],
            title=data["title"],
            notebook=data["notebook"],
            profiles=profiles,
            checks=tuple(checks),
            path=path,
            models=_models(data.get("models", {}), where),
        )
    except KeyError as missing:
        raise RubricError(f"{where}: missing key {missing}") from None
    except RubricError:
        raise
    except (TypeError, ValueError) as exc:
        raise RubricError(f"{where}: {exc}") from exc
    if set(rubric.profiles) != set(PROFILES):
        raise RubricError(f"{where}: profiles must be exactly {PROFILES}, got {sorted(rubric.profiles)}")
    ids = [c.id for c in rubric.checks]
    if len(set(ids)) != len(ids):
        raise RubricError(f"{where}: duplicate check ids in {ids}")
    if any(c.points < 0 or c.review_points < 0 for c in rubric.checks):
        raise RubricError(f"{where}: negative points")
    for profile, table in data.get("calibration", {}).items():
        misplaced = sorted(key for key, value in table.items() if isinstance(value, dict) or key in PROFILES)
        if misplaced:  # a check's line written below the table that `calibrate --write` keeps at the end
            raise RubricError(f"{where}: [calibration.{profile}] holds {', '.join(misplaced)}; keep every check's "
                              "lines above the calibration tables")
    return rubric


def _review_points(table: Any, where: str) -> float:
    """A check's ``review = { points = N }``: the points a person awards on reading a written answer."""
    if not isinstance(table, dict) or set(table) - {"points"}:
        raise RubricError(f"{where}: review must be a table with only points, as review = {{ points = 1 }}")
    return float(table.get("points", 0.0))


MODEL_RULES = {"frozen", "recipe", "locked_cell", "build"}


def _models(table: Mapping[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """The rubric's ``[models.NAME]`` tables, their keys checked (their recipes are read by autograder.scoring)."""
    models = {}
    for model, rules in table.items():
        unknown = set(rules) - MODEL_RULES
        if unknown:
            raise RubricError(f"{where}: [models.{model}] has unknown keys {sorted(unknown)}; "
                              f"known: {sorted(MODEL_RULES)}")
        if "locked_cell" in rules and not {"build", "recipe"} <= set(rules):
            raise RubricError(f"{where}: [models.{model}] names a locked cell: it needs its build function and recipe")
        models[model] = dict(rules)
    return models


def all_rubrics(directory: Path | None = None) -> dict[str, Rubric]:
    """Every rubric of ``directory`` (default: :func:`rubric_dir`), by assignment id ("00", "01", ...)."""
    directory = directory or rubric_dir()
    defaults = default_limits(directory)
    rubrics = [load(p, defaults) for p in sorted(directory.glob("*.toml")) if p.name != LIMITS_FILE.name]
    if not rubrics:
        raise RubricError(f"no rubric (NN_name.toml) in {directory}")
    return {r.id: r for r in rubrics}


def find(assignment: str, directory: Path | None = None) -> Rubric:
    """A rubric by id ("03") or name ("03_lenet5")."""
    directory = directory or rubric_dir()
    for rubric in all_rubrics(directory).values():
        if assignment in (rubric.id, rubric.name):
            return rubric
    raise RubricError(f"no rubric for assignment {assignment!r} in {directory}")
