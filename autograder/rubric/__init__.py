"""Rubrics: one TOML file per assignment, read into plain data.

A rubric names the notebook, the profiles (epochs, timeouts, output limit) and
the checks: which check function, how many points, and its arguments, shared
or per profile. Keys that start with ``reference_`` record the reference
solution's result a threshold was calibrated from; they are documentation for
people and for ``make calibrate``, never passed to a check.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUBRIC_DIR = Path(__file__).resolve().parent
PROFILES = ("smoke", "full")


class RubricError(ValueError):
    """A rubric file is malformed."""


@dataclass(frozen=True)
class Profile:
    name: str
    epochs: int
    cell_timeout: float
    notebook_timeout: float
    output_limit: int  # bytes of cell output kept per notebook
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

    @property
    def max_points(self) -> float:
        return sum(c.points for c in self.checks)

    def check(self, check_id: str) -> CheckSpec:
        for spec in self.checks:
            if spec.id == check_id:
                return spec
        raise KeyError(f"assignment {self.id} has no check {check_id!r}")


def load(path: Path) -> Rubric:
    """Read and validate one rubric file."""
    from autograder.checks import CHECKS

    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RubricError(f"{path}: {exc}") from exc
    where = path.name
    try:
        profiles = {
            name: Profile(
                name=name,
                epochs=int(p["epochs"]),
                cell_timeout=float(p["cell_timeout"]),
                notebook_timeout=float(p["notebook_timeout"]),
                output_limit=int(p.get("output_limit", 1_000_000)),
                parameters=dict(p.get("parameters", {})),
            )
            for name, p in data["profiles"].items()
        }
        checks = []
        for c in data["checks"]:
            if c["function"] not in CHECKS:
                raise RubricError(f"{where}: check {c['id']!r} names unknown function {c['function']!r}")
            checks.append(
                CheckSpec(
                    id=c["id"],
                    function=c["function"],
                    points=float(c["points"]),
                    description=c["description"],
                    needs_execution=bool(c.get("needs_execution", True)),
                    args=dict(c.get("args", {})),
                    profile_args={p: dict(c.get(p, {})) for p in PROFILES if p in c},
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
        )
    except KeyError as missing:
        raise RubricError(f"{where}: missing key {missing}") from None
    if set(rubric.profiles) != set(PROFILES):
        raise RubricError(f"{where}: profiles must be exactly {PROFILES}, got {sorted(rubric.profiles)}")
    ids = [c.id for c in rubric.checks]
    if len(set(ids)) != len(ids):
        raise RubricError(f"{where}: duplicate check ids in {ids}")
    if any(c.points < 0 for c in rubric.checks):
        raise RubricError(f"{where}: negative points")
    return rubric


def all_rubrics(directory: Path = RUBRIC_DIR) -> dict[str, Rubric]:
    """Every rubric, by assignment id ("00", "01", ...)."""
    rubrics = [load(p) for p in sorted(directory.glob("*.toml"))]
    return {r.id: r for r in rubrics}


def find(assignment: str, directory: Path = RUBRIC_DIR) -> Rubric:
    """A rubric by id ("03") or name ("03_lenet5")."""
    for rubric in all_rubrics(directory).values():
        if assignment in (rubric.id, rubric.name):
            return rubric
    raise RubricError(f"no rubric for assignment {assignment!r} in {directory}")
