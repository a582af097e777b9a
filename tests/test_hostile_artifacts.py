"""Hostile artifacts: zip bombs, symlinks, NaN and oversized JSON are errors with a reason, read by nothing."""

import os
import zipfile

import pytest

import coursework
from autograder import rubric as rubrics
from autograder.errors import ArtifactError, MissingArtifact
from autograder.pipeline.score import score
from autograder.scoring.context import ScoringContext
from tests.modelzoo import keras_lenet5

LIMITS = rubrics.default_limits()["smoke"]


def context(artifacts, **limits):
    return ScoringContext(artifacts, None, "smoke", LIMITS.replace(limits))


def write_zip(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_config_bomb_is_rejected_before_it_is_expanded(tmp_path):
    # 100 MB of spaces around "{}" is valid JSON: without the check, Keras and keras_config read all of it
    write_zip(tmp_path / "model.keras", {"config.json": b" " * 100_000_000 + b"{}", "metadata.json": b"{}"})
    assert (tmp_path / "model.keras").stat().st_size < 1_000_000
    ctx = context(tmp_path)
    for read in (ctx.keras_config, ctx.model):
        with pytest.raises(ArtifactError, match=r"config.json expands to 100,000,002 bytes; the limit is 20,000,000 bytes \(json_bytes\)"):
            read("model")


def test_a_weights_bomb_is_rejected_by_the_total_cap(tmp_path):
    write_zip(tmp_path / "model.keras", {"config.json": b"{}", "model.weights.h5": b"\0" * 30_000_000})
    with pytest.raises(ArtifactError, match=r"expands to 30,000,002 bytes; the limit is 10,000,000 .*model_expanded_bytes"):
        context(tmp_path, model_expanded_bytes=10_000_000).model("model")


def test_a_zip_with_too_many_members_is_rejected(tmp_path):
    write_zip(tmp_path / "model.keras", {f"m{i}": b"" for i in range(LIMITS.model_members + 1)})
    with pytest.raises(ArtifactError, match=f"more than {LIMITS.model_members:,} members"):
        context(tmp_path).keras_config("model")


def test_a_real_model_passes_the_zip_checks(tmp_path):
    coursework.submit(tmp_path, model=keras_lenet5())
    ctx = context(tmp_path)
    assert ctx.keras_config("model")["class_name"] == "Sequential"
    assert ctx.model("model").count_params() == 61_706


@pytest.mark.parametrize("name, target", [("model.keras", "/etc/passwd"), ("histories.json", "/proc/self/environ")])
def test_a_symlinked_artifact_is_never_followed(tmp_path, name, target):
    coursework.submit(tmp_path, model=keras_lenet5(), history={"val_accuracy": [0.5]})
    (tmp_path / name).unlink()
    (tmp_path / name).symlink_to(target)
    results = {r.id: (r.status, r.message) for r in score(rubrics.find("03"), "smoke", tmp_path, None)}
    check = "layers" if name == "model.keras" else "history"
    assert results[check] == ("error", f"{name} is not a regular file")


def test_a_symlinked_artifacts_folder_is_never_followed(tmp_path):
    coursework.submit(tmp_path / "elsewhere", answers={"params": {}})
    (tmp_path / "artifacts").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ArtifactError, match="artifacts folder is a symlink"):
        context(tmp_path / "artifacts").answers()


def test_nan_and_infinity_in_histories_count_as_no_value(tmp_path):
    (tmp_path / "histories.json").write_text(
        '{"model": {"val_accuracy": [NaN, Infinity], "accuracy": [0.5, NaN, -Infinity]}}')
    ctx = context(tmp_path)
    assert ctx.history("model") == {"val_accuracy": [None, None], "accuracy": [0.5, None, None]}
    from autograder.checks import CHECKS

    with pytest.raises(MissingArtifact, match="has no 'val_accuracy'"):
        CHECKS["history_consistent"](ctx, dataset="digits", tolerance=0.1)
    assert CHECKS["epochs_within"](ctx, max_epochs=5).passed


@pytest.mark.parametrize("history", ['{"model": {"accuracy": ["0.9"]}}', '{"model": {"accuracy": 0.9}}'])
def test_a_history_that_is_not_lists_of_numbers_is_an_error(tmp_path, history):
    (tmp_path / "histories.json").write_text(history)
    with pytest.raises(ArtifactError, match="lists of numbers"):
        context(tmp_path).history("model")


def test_a_json_artifact_over_the_cap_is_never_read(tmp_path):
    path = tmp_path / "answers.json"
    with open(path, "wb") as fh:  # 100 MB, sparse: nothing is written, nothing may be read
        fh.truncate(100_000_000)
    with pytest.raises(ArtifactError, match=f"answers.json is larger than the {LIMITS.json_bytes:,} bytes allowed"):
        context(tmp_path).answers()
    assert LIMITS.json_bytes < 100_000_000
    assert os.path.getsize(path) == 100_000_000
