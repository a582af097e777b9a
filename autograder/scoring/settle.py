"""Settling BatchNormalization statistics before a short profile's evaluation.

A network trained for a hundred steps with Keras's default ``momentum=0.99``
still carries about a third of its initial moving statistics (mean 0,
variance 1): evaluated in inference mode it scores at chance although it has
learned. Re-estimating each layer's moving mean and variance on training
images (the "precise BN" of Wu and Johnson, 2021) judges the design, not the
momentum. The saved model is never changed: a copy is settled.
"""

from __future__ import annotations

from typing import Any, Iterator

BATCH = 250


def batchnorm_layers(model: Any) -> list[Any]:
    """Every BatchNormalization inside ``model``, nested models included."""
    from keras import layers

    found = []
    for layer in _walk(model):
        if isinstance(layer, layers.BatchNormalization):
            found.append(layer)
    return found


def settled(model: Any, x: Any) -> Any:
    """A copy of ``model`` whose BatchNormalization moving statistics are the mean, over batches of ``x``, of the
    batch statistics each layer sees (dropout off); ``model`` itself when it has no BatchNormalization."""
    import keras
    from keras import layers

    if not batchnorm_layers(model):
        return model
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    norms = batchnorm_layers(copy)
    dropouts = [layer for layer in _walk(copy) if isinstance(layer, layers.Dropout)]
    saved = [(layer.momentum) for layer in norms], [layer.rate for layer in dropouts]
    for layer in dropouts:
        layer.rate = 0.0
    for step, start in enumerate(range(0, len(x), BATCH)):
        for layer in norms:
            layer.momentum = step / (step + 1)  # a running mean of the batch statistics
        copy(x[start:start + BATCH], training=True)
    for layer, momentum in zip(norms, saved[0]):
        layer.momentum = momentum
    for layer, rate in zip(dropouts, saved[1]):
        layer.rate = rate
    return copy


def _walk(model: Any) -> Iterator[Any]:
    for layer in getattr(model, "layers", []):
        yield layer
        if hasattr(layer, "layers"):
            yield from _walk(layer)
