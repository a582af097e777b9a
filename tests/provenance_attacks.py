"""The provenance attacks of tests/test_provenance.py and tests/test_provenance_routes.py: the warm-up's
reference with weights this run did not train (from a file beside the notebook, from base64 in a cell, after a
no-op ``fit`` with a forged history, set after training), or trained past the rubric's epochs."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

from tests.notebooks import cell

LAZY = 'keras.optimizers.SGD(learning_rate=1e-6)'  # a recipe that learns nothing in 10 epochs


def warmup_model():
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(16, 3, padding="same", activation="relu"),
                              layers.MaxPooling2D(), layers.Flatten(), layers.Dense(32, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def trained_elsewhere():
    """The warm-up's network trained outside any graded run (20 epochs of Adam): the weights attacks smuggle."""
    import keras
    from coursework.datasets import training_split

    keras.utils.set_random_seed(1)
    (x, y), _ = training_split("digits", 300)
    model = warmup_model()
    model.fit(x[..., None] / 16, y, epochs=20, batch_size=32, verbose=0)
    return model


def lazy_recipe(nb) -> None:
    cell(nb, "build_model").source = cell(nb, "build_model").source.replace('optimizer="adam"', f"optimizer={LAZY}")


def train_then(code: str):
    """The reference, with the lazy recipe, and ``code`` run after its training cell."""
    def edit(nb) -> None:
        lazy_recipe(nb)
        cell(nb, "answers").source += "\n" + code
    return edit


FLAT = """
import numpy as np

def unflatten(flat, model):
    out, at = [], 0
    for w in model.get_weights():
        out.append(flat[at:at + w.size].reshape(w.shape)); at += w.size
    return out
"""
FORGED = """
import types
model.fit = lambda *a, **k: types.SimpleNamespace(history={"loss": [0.1] * EPOCHS, "accuracy": [0.99] * EPOCHS,
    "val_loss": [0.1] * EPOCHS, "val_accuracy": [0.97] * EPOCHS})
"""


def attacks(trained) -> dict[str, tuple]:
    """student -> (edit of the notebook, {file name beside the notebook: bytes})."""
    weights = trained.get_weights()
    flat = np.concatenate([w.ravel() for w in weights]).astype("float32")
    npz, npy = io.BytesIO(), io.BytesIO()
    np.savez(npz, *weights)
    np.save(npy, flat)
    b64 = base64.b64encode(npy.getvalue()).decode()
    from_b64 = FLAT + ("import base64, io\n"
                       f"model.set_weights(unflatten(np.load(io.BytesIO(base64.b64decode({b64!r}))), model))\n")
    return {
        "npz": (train_then("import numpy as np\nw = np.load('weights.npz')\n"
                           "model.set_weights([w[f'arr_{i}'] for i in range(len(w.files))])"),
                {"weights.npz": npz.getvalue()}),
        "npy": (train_then(FLAT + "model.set_weights(unflatten(np.load('weights.npy'), model))"),
                {"weights.npy": npy.getvalue()}),
        "pt": (train_then(FLAT + "model.set_weights(unflatten(np.load(open('weights.pt', 'rb')), model))"),
               {"weights.pt": npy.getvalue()}),
        "h5": (train_then(tried("model.load_weights('weights.weights.h5')")),
               {"weights.weights.h5": h5_bytes(trained)}),
        "keras": (train_then(tried("model.set_weights(keras.models.load_model('pretrained.keras').get_weights())")),
                  {"pretrained.keras": keras_bytes(trained)}),
        "base64": (train_then(from_b64), {}),
        "noop_fit": (noop_fit(from_b64), {}),
        "set_after_training": (train_then(SHADOW), {}),
        "epoch_loop": (epoch_loop, {}),
    }


def tried(code: str) -> str:
    """``code`` that may fail (staging drops .h5 and .keras files) without stopping the notebook."""
    return f"try:\n    {code}\nexcept Exception as exc:\n    print('no smuggled weights:', exc)"


SHADOW = """
shadow = keras.models.clone_model(model)
shadow.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
shadow.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, verbose=0)
model.set_weights(shadow.get_weights())  # trained in this run, but not by the recipe the model was saved with
"""


def wrapped_build(body: str, optimizer: str = LAZY):
    """The reference with ``optimizer``, and ``build_model`` (a solution cell, run before the locked training
    cell) wrapped so that ``body`` acts on the model it returns."""
    def edit(nb) -> None:
        build = cell(nb, "build_model")
        build.source = build.source.replace('optimizer="adam"', f"optimizer={optimizer}")
        build.source += "\n_build = build_model\n\ndef build_model():\n    model = _build()\n"
        build.source += "".join(f"    {line}\n" for line in body.strip().splitlines()) + "    return model\n"
    return edit


def noop_fit(from_b64: str):
    """Weights from base64, and ``fit`` a no-op returning a forged history of the expected epochs."""
    return wrapped_build(from_b64 + FORGED)


def epoch_loop(nb) -> None:
    """A recipe that needs 40 epochs, run for 40 in a hand-written loop inside ``fit`` where the profile allows
    10; the history shows the last 10."""
    wrapped_build("""
_fit = model.fit
def fit(*args, **kwargs):
    for _ in range(3):
        _fit(*args, **kwargs)
    return _fit(*args, **kwargs)
model.fit = fit
""", optimizer="keras.optimizers.SGD(learning_rate=0.01)")(nb)


def h5_bytes(model) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        model.save_weights(Path(tmp) / "w.weights.h5")
        return (Path(tmp) / "w.weights.h5").read_bytes()


def keras_bytes(model) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / "m.keras")
        return (Path(tmp) / "m.keras").read_bytes()


def after_submit(rewrite: str):
    """The honest reference, with ``submit`` wrapped so that ``rewrite(path)`` (defined in ``rewrite``'s code)
    edits the saved ``model.keras``'s ``config.json`` once it is written: what the grader reads is then a config
    no Keras model of this run ever had."""
    def edit(nb) -> None:
        cell(nb, "answers").source += "\n" + rewrite + REWRAP
    return edit


REWRAP = """
import json as _json, zipfile as _zipfile
_submit = coursework.submit

def _rewritten_submit(output_dir, **kwargs):
    written = _submit(output_dir, **kwargs)
    path = Path(output_dir) / "model.keras"
    with _zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = _json.loads(members["config.json"])
    rewrite(config)
    members["config.json"] = _json.dumps(config).encode()
    with _zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return written

coursework.submit = _rewritten_submit
"""

# Every layer's weights (trained elsewhere, read from weights.npz beside the notebook) written into Constant
# initializers as numpy arrays of *strings* (a deny-list counting numbers sees none), every layer frozen so that
# the grader's retraining keeps them.
CONSTANTS = """
from pathlib import Path
import numpy as np

def rewrite(config):
    stored = np.load("weights.npz")
    arrays = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    for layer in config["config"]["layers"]:
        arguments = layer["config"]
        if "kernel_initializer" in arguments:
            for key in ("kernel_initializer", "bias_initializer"):
                array = arrays.pop(0)
                arguments[key] = {"module": "keras.initializers", "class_name": "Constant", "registered_name": None,
                                  "config": {"value": {"class_name": "__numpy__", "config": {
                                      "value": array.astype(str).tolist(), "dtype": "float32"}}}}
            arguments["trainable"] = False
"""

# The first Dense's activation names a public Keras function that stores its argument in a module global
# (keras.config.set_epsilon): called while the grader predicts or trains, it would change every later model's
# epsilon in the same process.
POISON = """
from pathlib import Path

def rewrite(config):
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "Dense":
            layer["config"]["activation"] = {"module": "keras.config", "class_name": "function",
                                             "config": "set_epsilon", "registered_name": "function"}
            break
"""


def smuggled_constants(trained) -> tuple:
    """(edit, files) of the student who writes weights trained elsewhere into the config's initializers."""
    npz = io.BytesIO()
    np.savez(npz, *trained.get_weights())
    return after_submit(CONSTANTS), {"weights.npz": npz.getvalue()}


def config_attacks(trained) -> dict[str, tuple]:
    """student -> (edit, files) of the attacks carried in the saved config itself (issue 29)."""
    return {"constants": smuggled_constants(trained), "poison": (after_submit(POISON), {})}
