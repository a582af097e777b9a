"""Restoring locked cells through nbgrader's checksums (pure, no execution)."""

import copy

import nbformat

from autograder.paths import ROOT
from autograder.pipeline.stage import restore_locked_cells
from tests.notebooks import cell

RELEASED = nbformat.read(ROOT / "assignments" / "00_warmup" / "00_warmup.ipynb", as_version=4)
REFERENCE = nbformat.read(ROOT / "reference_solutions" / "00_warmup" / "00_warmup.ipynb", as_version=4)


def ids(nb):
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


def test_untouched_submission_has_nothing_to_restore():
    restored, notes = restore_locked_cells(copy.deepcopy(REFERENCE), RELEASED)
    assert notes == []
    assert [c.source for c in restored.cells] == [c.source for c in REFERENCE.cells]


def test_edited_locked_cell_is_restored():
    nb = copy.deepcopy(REFERENCE)
    cell(nb, "setup").source += "\nEPOCHS = 1"
    restored, notes = restore_locked_cells(nb, RELEASED)
    assert notes == ["cell 'setup' was edited; restored"]
    assert cell(restored, "setup").source == cell(RELEASED, "setup").source


def test_points_changed_in_metadata_count_as_tampering():
    nb = copy.deepcopy(REFERENCE)
    cell(nb, "test_accuracy").metadata.nbgrader.points = 200
    _, notes = restore_locked_cells(nb, RELEASED)
    assert notes == ["cell 'test_accuracy' was edited; restored"]


def test_deleted_cell_is_put_back_in_place():
    nb = copy.deepcopy(REFERENCE)
    nb.cells.remove(cell(nb, "train"))
    restored, notes = restore_locked_cells(nb, RELEASED)
    assert notes == ["cell 'train' was deleted; restored"]
    assert ids(restored) == ids(REFERENCE)


def test_stripped_metadata_is_restored_without_duplicating_the_cell():
    nb = copy.deepcopy(REFERENCE)
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("locked"):
            del c.metadata["nbgrader"]
    restored, notes = restore_locked_cells(nb, RELEASED)
    assert len(restored.cells) == len(REFERENCE.cells)
    assert ids(restored) == ids(REFERENCE)
    assert all("lost its nbgrader metadata" in n for n in notes) and notes


def test_only_the_released_parameters_cell_keeps_the_tag():
    nb = copy.deepcopy(REFERENCE)
    cell(nb, "answers").metadata["tags"] = ["parameters"]
    restored, notes = restore_locked_cells(nb, RELEASED)
    assert "parameters" not in cell(restored, "answers").metadata.get("tags", [])
    assert "parameters" in cell(restored, "parameters").metadata["tags"]
    assert notes == ["a second cell tagged 'parameters' lost its tag"]


def test_a_locked_cell_pasted_twice_with_its_grade_id_is_flagged_and_kept_once():
    nb = copy.deepcopy(REFERENCE)
    copy_of_train = copy.deepcopy(cell(nb, "train"))
    nb.cells.insert(nb.cells.index(cell(nb, "submit")), copy_of_train)
    restored, notes = restore_locked_cells(nb, RELEASED)
    assert notes == ["cell 'train' appeared 2 times; kept one released copy"]
    assert ids(restored) == ids(REFERENCE)


def test_a_locked_cells_text_pasted_into_another_cell_is_flagged_and_removed():
    nb = copy.deepcopy(REFERENCE)
    pasted = nbformat.v4.new_code_cell(cell(nb, "train").source)
    nb.cells.insert(nb.cells.index(cell(nb, "submit")), pasted)
    restored, notes = restore_locked_cells(nb, RELEASED)
    assert notes == ["a copy of locked cell 'train' was removed"]
    assert ids(restored) == ids(REFERENCE)
    assert [c.source for c in restored.cells] == [c.source for c in REFERENCE.cells]


def test_a_cell_tagged_injected_parameters_is_stripped():
    nb = copy.deepcopy(REFERENCE)
    injected = nbformat.v4.new_code_cell("EPOCHS = 1\nDATA_DIR = '/elsewhere'")
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(nb.cells.index(cell(nb, "setup")), injected)
    restored, notes = restore_locked_cells(nb, RELEASED)
    assert notes == ["a cell tagged 'injected-parameters' was removed (the grader injects the parameters)"]
    assert [c.source for c in restored.cells] == [c.source for c in REFERENCE.cells]
