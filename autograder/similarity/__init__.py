"""Copied work across a class: similar code and identical models, shown to the instructor as evidence.

:func:`analyze` reads a class's grading folder (``grading/STUDENT/NN_name.ipynb``,
the executed notebooks, and ``NN_name.fingerprint.json``, written at scoring
time by :mod:`autograder.pipeline.fingerprint`) and compares every pair of students per assignment: their own code
(:mod:`.code`, copydetect) and their saved models (:mod:`.models`).
:func:`write` puts the result into ``similarity.{json,md,html}`` and the class
report. Similarity never changes a grade: it is evidence for a person to weigh.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder.similarity.seeds import student_seed

__all__ = ["analyze", "write", "student_seed", "Pair", "AssignmentSimilarity", "THRESHOLDS"]

THRESHOLDS = Path(__file__).with_name("thresholds.toml")
RESULT_SUFFIX = ".result.json"


def thresholds(path: Path = THRESHOLDS) -> dict[str, Any]:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


@dataclass
class Pair:
    """Two students' notebooks of one assignment, and what they have in common."""

    a: str
    b: str
    code: float = 0.0  # Dice of the code fingerprints
    matched_chars: int = 0
    left: list[str] = field(default_factory=list)  # a's copied fragments
    right: list[str] = field(default_factory=list)  # b's
    models: list[Any] = field(default_factory=list)  # models.ModelEvidence
    curves: list[str] = field(default_factory=list)  # models whose training curves are identical
    reasons: list[str] = field(default_factory=list)  # why it is shown; empty: not shown

    @property
    def cosine(self) -> Optional[float]:
        values = [m.cosine for m in self.models if m.cosine is not None]
        return max(values) if values else None

    @property
    def score(self) -> float:
        """What pairs are ranked by: the strongest single piece of evidence, in [0, 1]."""
        strongest = max(self.code, max(0.0, self.cosine or 0.0))
        if self.curves or any(m.identical for m in self.models):
            strongest = 1.0
        return round(strongest, 4)

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "score": self.score, "code": round(self.code, 4),
                "matched_chars": self.matched_chars, "left": self.left, "right": self.right,
                "models": [m.to_dict() for m in self.models], "curves": self.curves, "reasons": self.reasons}


@dataclass
class AssignmentSimilarity:
    assignment: str
    students: list[str]  # whose code was compared
    not_compared: dict[str, str]  # student -> why (no notebook, no code of their own, ...)
    pairs: list[Pair]  # shown, highest score first
    scores: list[float]  # every pair's score, for the histogram
    notes: list[str] = field(default_factory=list)  # per student: what of their notebook was not compared
    compared: list[str] = field(default_factory=list)  # compared by code or saved models: the pairs are theirs

    def to_dict(self) -> dict[str, Any]:
        return {"assignment": self.assignment, "students": self.students, "not_compared": self.not_compared,
                "pairs": [p.to_dict() for p in self.pairs], "pair_count": len(self.scores), "notes": self.notes,
                "compared": self.compared}


def _notebook_names(names: Sequence[str]) -> dict[str, str]:
    """Assignment folder name -> its notebook's file name, from the rubrics (NN_name.ipynb otherwise)."""
    from autograder import rubric as rubrics

    known = {r.name: r.notebook for r in rubrics.all_rubrics().values()}
    return {name: known.get(name, f"{name}.ipynb") for name in names}


def graded(grading: Path) -> dict[str, list[str]]:
    """Assignment -> the students with a stored result for it."""
    found: dict[str, list[str]] = {}
    for folder in sorted(grading.iterdir()):
        if folder.is_dir() and not folder.is_symlink() and not folder.name.startswith("."):
            for result in sorted(folder.glob(f"*{RESULT_SUFFIX}")):
                found.setdefault(result.name[: -len(RESULT_SUFFIX)], []).append(folder.name)
    return found


def analyze(grading: Path, released: Optional[Path] = None, assignments: Optional[Sequence[str]] = None,
            settings: Optional[dict[str, Any]] = None) -> list[AssignmentSimilarity]:
    """Compare every pair of students of each assignment graded in ``grading`` (or those named)."""
    from autograder.paths import RELEASED_DIR

    released = Path(released or RELEASED_DIR)
    settings = settings or thresholds()
    by_assignment = graded(Path(grading))
    names = _notebook_names(list(by_assignment))
    chosen = [a for a in by_assignment if not assignments or a in assignments or a[:2] in assignments]
    return [compare_assignment(Path(grading), a, names[a], by_assignment[a], released, settings) for a in chosen]


def compare_assignment(grading: Path, assignment: str, notebook: str, students: Sequence[str], released: Path,
                       settings: dict[str, Any]) -> AssignmentSimilarity:
    """Every pair of ``students`` on one assignment."""
    from autograder.similarity import code as codes, models

    import numpy as np

    cs, ms, cv = settings["code"], settings["models"], settings["curves"]
    try:
        starter = codes.released_cells(released / assignment / notebook)
    except codes.CodeUnavailable:
        starter = []
    removed = codes.boilerplate("\n\n".join(starter), cs["noise"])
    fingerprinted, not_compared, notes, prints = _read_students(grading, assignment, notebook, students, cs,
                                                                removed, starter)
    dice = codes.dice_matrix(fingerprinted) if fingerprinted else np.zeros((0, 0))
    position = {c.student: i for i, c in enumerate(fingerprinted)}
    model_pairs = models.compare_models(prints, ms["common_share"])
    curve_pairs = models.identical_curves(prints, cv["digits"], cv["min_epochs"])
    everyone = sorted(set(position) | set(prints))
    pairs, scores = [], []
    for i, a in enumerate(everyone):
        for b in everyone[i + 1:]:
            pair = Pair(a, b, models=model_pairs.get((a, b), []), curves=curve_pairs.get((a, b), []))
            if a in position and b in position:
                pair.code = float(dice[position[a], position[b]])
            scores.append(pair.score)
            pair.reasons = _reasons(pair, settings)
            if pair.reasons:
                pairs.append(pair)
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    report = settings["report"]
    for pair in pairs:
        if pair.a in position and pair.b in position and pair.code > 0:
            found = codes.fragments(fingerprinted[position[pair.a]], fingerprinted[position[pair.b]],
                                    report["max_fragments"], report["fragment_chars"])
            pair.matched_chars, pair.left, pair.right = found.matched_chars, found.left, found.right
            if found.matched_chars < cs["min_chars"]:  # a short common run is how everyone writes it
                pair.reasons = [r for r in pair.reasons if not r.startswith("code ")]
    pairs = [p for p in pairs if p.reasons]
    return AssignmentSimilarity(assignment, sorted(position), not_compared, pairs, scores, sorted(set(notes)),
                                everyone)


def _read_students(grading: Path, assignment: str, notebook: str, students: Sequence[str], cs: dict[str, Any],
                   removed: Any, starter: list[str]) -> tuple[list[Any], dict[str, str], list[str], dict[str, Any]]:
    """Each student's code fingerprint and model fingerprint, with why any is missing."""
    from autograder.pipeline.fingerprint import FINGERPRINT_SUFFIX
    from autograder.similarity import code as codes

    fingerprinted: list[Any] = []
    not_compared: dict[str, str] = {}
    notes: list[str] = []
    prints: dict[str, Any] = {}
    for student in students:
        folder = grading / student
        fp = _read_fingerprint(folder / f"{assignment}{FINGERPRINT_SUFFIX}")
        if fp is not None:
            prints[student] = fp
            notes += [f"{student}: {e}" for e in fp.get("errors", [])]
        try:
            cells = codes.read_code(folder / notebook)
        except codes.CodeUnavailable as exc:
            not_compared[student] = f"{exc}; its code is not compared"
            continue
        code = codes.fingerprint(student, cells, cs["noise"], cs["guarantee"], removed, starter)
        if not code.hashes:
            not_compared[student] = "no code of its own (empty, or only the released starter code)"
            continue
        fingerprinted.append(code)
    for student in students:
        if student not in prints:
            notes.append(f"{student}: no model fingerprint (no saved model, or graded before fingerprints were kept)")
        elif not prints[student].get("models") and student not in not_compared:
            notes.append(f"{student}: no saved model could be read")
    return fingerprinted, not_compared, notes, prints


def _reasons(pair: Pair, settings: dict[str, Any]) -> list[str]:
    reasons = []
    if pair.code >= settings["code"]["threshold"]:
        reasons.append(f"code {pair.code:.0%} alike")
    for m in pair.models:
        if m.identical:
            reasons.append(f"identical weights ({m.model})")
        elif m.cosine is not None and m.cosine >= settings["models"]["threshold"]:
            reasons.append(f"weights of {m.model} nearly identical (cosine {m.cosine:.3f})")
    reasons += [f"identical training curves ({name})" for name in pair.curves]
    return reasons


def _read_fingerprint(path: Path, max_bytes: int = 20_000_000) -> Optional[dict[str, Any]]:
    from autograder.errors import ArtifactError
    from autograder.pipeline.fingerprint import FINGERPRINT_VERSION
    from autograder.scoring.readers import read_bounded

    try:
        data = json.loads(read_bounded(path, max_bytes))
    except (ArtifactError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) and data.get("version") == FINGERPRINT_VERSION else None


def write(grading: Path, released: Optional[Path] = None, assignments: Optional[Sequence[str]] = None,
          settings: Optional[dict[str, Any]] = None) -> list[AssignmentSimilarity]:
    """Compare the class in ``grading`` and write ``similarity.{json,md,html}``, its histogram, and its section
    of the class report."""
    from autograder.similarity import report

    grading = Path(grading)
    settings = settings or thresholds()
    found = analyze(grading, released, assignments, settings)
    report.write(grading, found, settings)
    return found
