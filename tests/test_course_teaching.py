"""The notebooks teach: each opens with its own primer, links the course's one train / validation / test
section instead of repeating it, never prints the answer to a hand count, and draws its figures, with alt
text, in the smoke profile a student runs (checked on the executed references the test run grades once)."""

import re

import nbformat
import pytest

from autograder.paths import ROOT
from tests.modelzoo import LENET5_COUNTS

TAUGHT = ["01_data_generators", "02_augmentation", "03_lenet5", "04_depth_residual", "05_vgg16_transfer",
          "06_separable_cifar10"]
ALL = ["00_warmup", *TAUGHT]
MIN_WORDS = 800  # each notebook's own markdown, without the paragraph that links the shared section
MIN_FIGURES = {"01": 3, "02": 3, "03": 4, "04": 3, "05": 3, "06": 3}  # images with alt text, smoke profile
# words that name, in its alt text, a figure issue 31 asks for by name
NAMED_FIGURES = {"05": ("layer block1_conv2", "layer block5_conv3"),
                 "06": ("receptive fields of two output pixels",)}
SHARED = "training-validation-and-test-data"
READ_BY_STUDENTS = ("assignments", ".released")


def _notebook(folder, name):
    return nbformat.read(ROOT / folder / name / f"{name}.ipynb", as_version=4)


def _markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _forms(value) -> set[str]:
    """How a notebook could print ``value``: an integer of three digits or more plain and with thousands
    separators (smaller ones, a 5 or a 14, are everywhere), a fraction to three and four significant digits."""
    if isinstance(value, int):
        return {str(value), f"{value:,}"} if value >= 100 else set()
    return {f"{value:.3g}", f"{value:.4g}"}


def _why_answers(assignment: str) -> set[str]:
    """The answers to a notebook's "why" questions, as the grader computes them from its rubric."""
    from autograder.checks.why_numbers import expected_answers
    from autograder.rubric import find

    return {form for spec in find(assignment).checks if spec.function == "answers_numbers"
            for value in expected_answers(spec.args["asked"]).values() for form in _forms(value)}


def _hand_count_answers(assignment: str = "03") -> list[str]:
    """The numbers a notebook asks for by hand (03's counts too), longest first."""
    counts = {form for n in LENET5_COUNTS.values() for form in _forms(n)} if assignment == "03" else set()
    return sorted(counts | _why_answers(assignment), key=len, reverse=True)


def _printed(text: str, answers: list[str]) -> list[str]:
    return [a for a in answers if re.search(rf"(?<![\d,.]){re.escape(a)}(?![\d,])", text)]


@pytest.mark.parametrize("name", ["03_lenet5", "04_depth_residual"])
@pytest.mark.parametrize("folder", READ_BY_STUDENTS)
def test_no_hand_count_answer_is_printed_where_the_student_reads(folder, name):
    """Not in the released notebook (markdown, locked cells, grade cells' comments), nor in the rubric's
    check descriptions that grade cells and feedback show, nor in the students' guide."""
    from autograder.rubric import find

    assignment = name[:2]
    answers = _hand_count_answers(assignment)
    nb = _notebook(folder, name)
    found = {i: _printed(c.source, answers) for i, c in enumerate(nb.cells) if _printed(c.source, answers)}
    assert found == {}, f"{folder}/{name}: answers printed in cells {found}"
    described = {s.id: _printed(s.description, answers) for s in find(assignment).checks}
    assert not any(described.values()), f"{name}: the rubric's descriptions give answers away: {described}"
    students = (ROOT / "docs" / "students.md").read_text()
    assert not [a for a in answers if len(a) > 4 and a in students]


def _outputs(cell) -> str:
    """Everything a code cell showed: streams, text results, errors and the alt text of its images."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts += [str(v) for k, v in output.get("data", {}).items() if k.startswith("text/")]
        parts.append(str((output.get("metadata", {}).get("image/png", {}) or {}).get("alt", "")))
        parts += output.get("evalue", "").splitlines()
    return "\n".join(parts)


@pytest.mark.parametrize("assignment", ["03"])  # the parameter lets `-k 03` select this test
def test_the_run_and_its_feedback_print_no_hand_count_answer(reference_run, assignment):
    """03 run as its reference runs: the locked cells' outputs (the training cell shows the layers' shapes, not
    their counts) and the grader's messages name no count and no answer the student is asked to work out."""
    out, results = reference_run(assignment)
    answers = _hand_count_answers(assignment)
    executed = nbformat.read(out / "03_lenet5.ipynb", as_version=4)
    locked = [c for c in executed.cells if c.cell_type == "code"
              and not c.metadata.get("nbgrader", {}).get("solution")]
    assert any("output shape" in _outputs(c) for c in locked), "the training cell shows no layer shapes"
    shown = {c.metadata.get("nbgrader", {}).get("grade_id"): _printed(_outputs(c), answers) for c in locked}
    assert not any(shown.values()), f"03's locked cells print answers: {shown}"
    told = {r["id"]: _printed(r["message"] + r["description"], answers) for r in results["results"]
            if r["assignment"] == assignment}
    assert told and not any(told.values()), f"03's feedback gives answers away: {told}"


@pytest.mark.parametrize("name", TAUGHT)
def test_each_notebook_teaches_before_its_task(name):
    nb = _notebook("assignments", name)
    text = _markdown(nb)
    own = re.sub(r"\*\*Training, validation and test data\.\*\*.*?(\n\n|$)", "", text, flags=re.S)
    words = len(own.split())
    assert words >= MIN_WORDS, f"{name}: {words} words of markdown, fewer than {MIN_WORDS}"
    assert "## Before you start" in text, f"{name}: no primer"
    primer = next(c.source for c in nb.cells if c.cell_type == "markdown" and "## Before you start" in c.source)
    assert "Reading:" in primer and "](http" in primer, f"{name}: the primer links no reading"
    first_task = next(i for i, c in enumerate(nb.cells)
                      if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution"))
    assert nb.cells.index(next(c for c in nb.cells if c.source == primer)) < first_task


@pytest.mark.parametrize("name", ALL)
def test_the_train_validation_test_section_lives_once_and_is_linked(name):
    text = _markdown(_notebook("assignments", name))
    assert f"docs/students.md#{SHARED}" in text
    assert "slightly optimistic" not in text  # the shared paragraph itself is not pasted in
    students = (ROOT / "docs" / "students.md").read_text()
    assert students.count("## Training, validation and test data") == 1 and "slightly optimistic" in students


def _figures(nb) -> list[str]:
    """The alt text of every image an executed notebook drew ('' where it has none)."""
    return [(o.get("metadata", {}).get("image/png", {}) or {}).get("alt", "")
            for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})]


@pytest.mark.parametrize("assignment", sorted(MIN_FIGURES))
def test_executed_references_draw_their_figures_with_alt_text(reference_run, assignment):
    out, _ = reference_run(assignment)
    name = next(n for n in TAUGHT if n.startswith(assignment))
    executed = nbformat.read(out / f"{name}.ipynb", as_version=4)
    alts = _figures(executed)
    assert len(alts) >= MIN_FIGURES[assignment], f"{name}: {len(alts)} figures drawn"
    assert all(len(alt.split()) >= 8 for alt in alts), f"{name}: a figure without a real alt text: {alts}"
    assert not [line for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
                for line in o.get("text", "").splitlines() if line.startswith("(figure not drawn")]
    assert any(alt.startswith("Learning curves") for alt in alts), f"{name}: no learning curves"
    missing = [words for words in NAMED_FIGURES.get(assignment, ()) if not any(words in alt for alt in alts)]
    assert not missing, f"{name}: no figure whose alt text says {missing}"
