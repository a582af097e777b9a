"""Check functions: each takes a scoring context and its rubric arguments and
returns an :class:`Outcome`. Checks never run student code; they read the
artifacts a notebook wrote and recompute every fact they grade.

A check is registered by name with :func:`check` when its module is imported (every module of this package
is, with the package); rubrics refer to that name. A check reads a notebook only through its
:class:`~autograder.scoring.context.ScoringContext`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any, Callable, Mapping

from autograder.errors import ArtifactError, CheckTimeout, MissingArtifact, RubricError
from autograder.results import Outcome
from autograder.rubric import Rubric

__all__ = ["CHECKS", "ArtifactError", "CheckTimeout", "MissingArtifact", "Outcome", "argument_problems", "check",
           "rubric_problems", "validated"]


CheckFunction = Callable[..., Outcome]
CHECKS: dict[str, CheckFunction] = {}


def check(name: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function under ``name``."""

    def register(function: CheckFunction) -> CheckFunction:
        if name in CHECKS:
            raise ValueError(f"check {name!r} registered twice")
        CHECKS[name] = function
        return function

    return register


def argument_problems(function: CheckFunction, args: Mapping[str, Any]) -> list[str]:
    """What is wrong with calling check ``function(ctx, **args)``: each unknown and each missing argument."""
    params = list(inspect.signature(function).parameters.values())[1:]  # the first is the scoring context
    named = [p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    takes = ", ".join(p.name for p in named) or "none"
    problems = []
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        problems += [f"unknown argument {name!r} (it takes: {takes})"
                     for name in sorted(set(args) - {p.name for p in named})]
    problems += [f"missing required argument {p.name!r}" for p in named if p.default is p.empty and p.name not in args]
    return problems


def rubric_problems(rubric: Rubric) -> list[str]:
    """Each problem of ``rubric`` against the registered checks, naming its file, check id and argument: an
    unknown function, or arguments (shared ``args`` merged with a profile's table, as scoring passes them) that
    its signature does not take. A problem common to every profile is named once, without a profile."""
    problems = []
    for spec in rubric.checks:
        where = f"{rubric.path.name}: check {spec.id!r}"
        if spec.function not in CHECKS:
            problems.append(f"{where} names unknown function {spec.function!r}")
            continue
        found = {profile: argument_problems(CHECKS[spec.function], spec.args_for(profile))
                 for profile in rubric.profiles}
        common = [p for p in next(iter(found.values()), []) if all(p in each for each in found.values())]
        problems += [f"{where} ({spec.function}): {p}" for p in common]
        problems += [f"{where} ({spec.function}), [{profile}] profile: {p}"
                     for profile, each in found.items() for p in each if p not in common]
    return problems


def validated(rubric: Rubric) -> Rubric:
    """``rubric``, once every check it names is a registered function whose signature takes its arguments."""
    problems = rubric_problems(rubric)
    if problems:
        raise RubricError("; ".join(problems))
    return rubric


def _register_every_module() -> None:
    """Import each module of this package: its :func:`check` decorators register its checks (a new check touches
    its own module and its rubric, nothing here)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


_register_every_module()
