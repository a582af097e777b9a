"""Pretrained weights through Keras's cache, with a clear error where the network is closed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from coursework.datasets import keras_home, offline
from coursework.errors import CourseError

VGG16_NOTOP = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


class WeightsNotFoundError(CourseError, FileNotFoundError):
    """Pretrained weights are neither in Keras's cache nor downloadable."""


def keras_models_dir() -> Path:
    """Where ``keras.applications`` keeps downloaded weights."""
    return keras_home() / "models"


def vgg16_base(weights: Any = "imagenet", input_shape: Sequence[int] = (64, 64, 3), download: bool = True) -> Any:
    """``keras.applications.VGG16(include_top=False)``; ImageNet weights come from Keras's cache.

    Without the cached file and without a network (or with ``CNN_COURSE_OFFLINE`` set), the error
    names the exact file and folder, and how to fill the cache elsewhere.
    """
    import keras

    if weights == "imagenet":
        path = keras_models_dir() / VGG16_NOTOP
        how = (f"VGG16's ImageNet weights are not in Keras's cache: place {VGG16_NOTOP} (about 59 MB) in "
               f"{path.parent}/. On a machine with a network, `make data` downloads it into ~/.keras/models/; "
               "copy that file here.")
        if not path.exists() and offline(download):
            raise WeightsNotFoundError(how)
        if not path.exists():
            try:
                return keras.applications.VGG16(include_top=False, weights=weights, input_shape=tuple(input_shape))
            except Exception as exc:
                raise WeightsNotFoundError(f"{how} (download failed: {exc})") from exc
    return keras.applications.VGG16(include_top=False, weights=weights, input_shape=tuple(input_shape))
