"""The notebooks teach: each opens with its own primer, links the course's one train / validation / test
section instead of repeating it, never prints the answer to a hand count, and draws its figures, with alt
text, in the smoke profile a student runs (checked on the executed references the session grades once)."""

import re

import nbformat
import pytest

from tests.conftest import ROOT
from tests.modelzoo import LENET5_COUNTS

TAUGHT = ["01_data_generators", "02_augmentation", "03_lenet5", "04_depth_residual", "05_vgg16_transfer",
          "06_separable_cifar10"]
ALL = ["00_warmup", *TAUGHT]
MIN_WORDS = 800  # each notebook's own markdown, without the paragraph that links the shared section
MIN_FIGURES = {"01": 3, "02": 3, "03": 4, "04": 2, "05": 3, "06": 2}  # images with alt text, smoke profile
SHARED = "training-validation-and-test-data"
READ_BY_STUDENTS = ("assignments", ".released")


def _notebook(folder, name):
    return nbformat.read(ROOT / folder / name / f"{name}.ipynb", as_version=4)


def _markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _hand_count_answers() -> list[str]:
    """03's counts, each as digits alone and with thousands separators."""
    return sorted({form for n in LENET5_COUNTS.values() for form in (str(n), f"{n:,}")}, key=len, reverse=True)


@pytest.mark.parametrize("folder", READ_BY_STUDENTS)
def test_no_hand_count_answer_is_printed_where_the_student_reads(folder):
    nb = _notebook(folder, "03_lenet5")
    found = {answer: i for i, c in enumerate(nb.cells) for answer in _hand_count_answers()
             if re.search(rf"(?<![\d,.]){re.escape(answer)}(?![\d,])", c.source)}
    assert found == {}, f"{folder}: hand-count answers printed in cells {found}"
    students = (ROOT / "docs" / "students.md").read_text()
    assert not [a for a in _hand_count_answers() if len(a) > 4 and a in students]


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
    out, _ = reference_run
    name = next(n for n in TAUGHT if n.startswith(assignment))
    executed = nbformat.read(out / f"{name}.ipynb", as_version=4)
    alts = _figures(executed)
    assert len(alts) >= MIN_FIGURES[assignment], f"{name}: {len(alts)} figures drawn"
    assert all(len(alt.split()) >= 8 for alt in alts), f"{name}: a figure without a real alt text: {alts}"
    assert not [line for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
                for line in o.get("text", "").splitlines() if line.startswith("(figure not drawn")]
    assert any(alt.startswith("Learning curves") for alt in alts), f"{name}: no learning curves"
