"""How alike two notebooks' saved models are, from the fingerprints stored at scoring time.

The fingerprints (:mod:`autograder.pipeline.fingerprint`) hold each weight array's digest and a strided
sample of it, the architecture's digest, and the training curves. The same architecture is expected (the
reference architecture) and never evidence by itself. Evidence is identical weights, weights whose sampled
kernels point the same way (cosine; a copy fine-tuned for an epoch stays near 1, independent
initializations sit near 0), and identical training curves.
"""

from __future__ import annotations

import base64
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Mapping, Optional, Sequence


@dataclass(frozen=True)
class ModelEvidence:
    """What two notebooks' models have in common."""

    model: str  # the saved model's name ("model", "plain", ...)
    cosine: Optional[float]  # of the sampled kernels, None when the weight shapes differ
    identical: bool  # every weight array byte for byte (common arrays aside)
    same_architecture: bool

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "cosine": self.cosine, "identical": self.identical,
                "same_architecture": self.same_architecture}


def compare_models(fingerprints: Mapping[str, Mapping[str, Any]], common_share: float = 0.1
                   ) -> dict[tuple[str, str], list[ModelEvidence]]:
    """For every pair of students (sorted names) whose saved models share weight shapes: the evidence, per model.

    ``fingerprints``: student -> fingerprint (as :func:`fingerprint` wrote it). Kernels are compared; an array
    position that more than ``common_share`` of the class (and at least three notebooks) holds byte for byte
    (pretrained or frozen weights, zeros) is left out, as is every constant array.
    """
    import numpy as np

    groups: dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
    for student, fp in fingerprints.items():
        for name, model in (fp.get("models") or {}).items():
            signature = repr([a["shape"] for a in model["arrays"]])
            groups[name, signature].append((student, model))
    found: dict[tuple[str, str], list[ModelEvidence]] = defaultdict(list)
    common_count = max(3, math.ceil(common_share * len(fingerprints)))
    for (name, _), members in groups.items():
        if len(members) < 2:
            continue
        arrays = members[0][1]["arrays"]
        keep = []
        for i, array in enumerate(arrays):
            counts = Counter(m["arrays"][i]["digest"] for _, m in members)
            if len(array["shape"]) >= 2 and counts.most_common(1)[0][1] < common_count:
                keep.append(i)
        vectors = np.stack([_vector(m, keep) for _, m in members]) if keep else np.zeros((len(members), 0))
        norms = np.linalg.norm(vectors, axis=1)
        unit = vectors / np.where(norms > 0, norms, 1.0)[:, None]
        cosines = unit @ unit.T
        for (i, (a, ma)), (j, (b, mb)) in combinations(enumerate(members), 2):
            usable = [k for k in keep if not ma["arrays"][k]["constant"] and not mb["arrays"][k]["constant"]]
            identical = bool(usable) and all(ma["arrays"][k]["digest"] == mb["arrays"][k]["digest"] for k in usable)
            cosine = float(cosines[i, j]) if usable and norms[i] > 0 and norms[j] > 0 else None
            pair = (a, b) if a < b else (b, a)
            found[pair].append(ModelEvidence(name, None if cosine is None else round(cosine, 4), identical,
                                             ma["architecture"] == mb["architecture"]))
    return dict(found)


def _vector(model: Mapping[str, Any], keep: Sequence[int]) -> Any:
    import numpy as np

    return np.concatenate([np.frombuffer(base64.b64decode(model["arrays"][k]["sample"]), dtype=np.float32)
                           for k in keep]).astype(np.float64)


def identical_curves(fingerprints: Mapping[str, Mapping[str, Any]], digits: int = 7, min_epochs: int = 1
                     ) -> dict[tuple[str, str], list[str]]:
    """Pairs of students (sorted names) whose training curves are equal, with the models' names.

    A curve is every metric of every epoch of one saved history, each rounded to ``digits`` significant
    digits; a history of fewer than ``min_epochs`` epochs, or with no number in it, is never identical.
    """
    by_curve: dict[tuple[str, Any], list[str]] = defaultdict(list)
    for student, fp in fingerprints.items():
        for name, history in (fp.get("histories") or {}).items():
            key = _curve_key(history, digits)
            if key is not None and max(len(v) for _, v in key) >= min_epochs:
                by_curve[name, key].append(student)
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (name, _), students in by_curve.items():
        for a, b in combinations(sorted(set(students)), 2):
            found[a, b].append(name)
    return dict(found)


def _curve_key(history: Any, digits: int) -> Optional[tuple]:
    if not isinstance(history, dict) or not history:
        return None
    key = []
    for metric, values in sorted(history.items()):
        if not isinstance(values, list):
            return None
        key.append((metric, tuple(None if v is None else float(f"{v:.{digits - 1}e}") for v in values)))
    if all(v is None for _, values in key for v in values):
        return None
    return tuple(key)
