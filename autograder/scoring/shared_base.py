"""Networks a locked cell defines, trained by the grader once per class instead of once per student.

06's base network is the course's own (built from the released notebook's locked cell, trained with the rubric's
recipe: :mod:`autograder.scoring.locked`), so it is the same for every student: a class run trains it once per
profile, seed, grader version and rubric (:func:`shared_key`), before any student's notebook is graded, stores the
figures ``beats_model`` compares with beside the class's results (:mod:`autograder.classrun.store`), and hands
them to every scoring process as numbers (never a file a notebook could reach). A regrade reuses them; a change of
rubric, grader, profile or seed trains the network again. Outside a class run (``grade``, ``calibrate``) each
scoring trains it as before.

The shared network is trained under the class run's seed (``--seed``, default 0), not each student's: every
student is compared with the same number.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from autograder.digests import json_sha256
from autograder.rubric import Rubric

SHARED_CHECKS = frozenset({"beats_model"})  # check functions whose baseline may be shared


def locked_baselines(rubric: Rubric, profile: str) -> dict[str, dict[str, Any]]:
    """{check id: its arguments} of every check of ``rubric`` that compares with a retrained network a locked cell
    defines (the same for every student)."""
    found = {}
    for spec in rubric.checks:
        args = spec.args_for(profile)
        baseline = args.get("baseline", "base")
        if spec.function in SHARED_CHECKS and args.get("retrain") and \
                "locked_cell" in rubric.models.get(baseline, {}):
            found[spec.id] = args
    return found


def baseline_words(args: dict[str, Any]) -> str:
    """What decides a shared baseline's figure, as a key: the network, the data, the evaluation and the recipe."""
    chosen = {"baseline": args.get("baseline", "base"), "dataset": args.get("dataset"), "size": args.get("size"),
              "scale": float(args.get("scale", 1.0)), "settle_batchnorm": bool(args.get("settle_batchnorm", False)),
              "retrain": args.get("retrain")}  # beats_model's defaults where the rubric leaves them out
    return json.dumps(chosen, sort_keys=True, default=str)


def shared_key(grader: str, profile: str, seed: int, data_dir: Optional[str], args: dict[str, Any]) -> str:
    """What a stored shared baseline must match to be reused (``grader``: the assignment's grader version)."""
    inputs = {"grader": grader, "profile": profile, "seed": seed, "data_dir": data_dir,
              "baseline": baseline_words(args)}
    return json_sha256(inputs, sort_keys=True)
