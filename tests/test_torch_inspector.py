"""The model inspector on PyTorch modules, through torch.fx."""

import pytest
import torch
from torch import nn

from autograder.modelspec import DescriptionError, describe
from tests.modelzoo import keras_lenet5, torch_lenet5


def geometry(description):
    return [
        (i.kind, i.output_shape, i.params, i.rf, i.jump, i.padding)
        for i in description
        if i.kind in ("conv", "pool", "flatten", "dense")
    ]


def test_torch_lenet_matches_keras_lenet():
    torch_description = describe(torch_lenet5(), (1, 28, 28))
    keras_description = describe(keras_lenet5("same"))
    assert torch_description.params == keras_description.params == 61_706
    assert geometry(torch_description) == geometry(keras_description)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.body = nn.Sequential(
            nn.Conv2d(8, 8, 3, padding=1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1, groups=8),  # depthwise
            nn.Conv2d(8, 16, 1),
        )
        self.project = nn.Conv2d(8, 16, 1)
        self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

    def forward(self, x):
        x = self.stem(x)
        y = self.body(x) + self.project(x)
        y = torch.cat([y, y], dim=1)
        return self.head(self.pool(torch.relu(y)))


def test_torch_graph_with_skip_concat_and_depthwise():
    module = Residual()
    description = describe(module, (3, 15, 15))
    kinds = [i.kind for i in description]
    assert kinds.count("add") == 1 and kinds.count("concat") == 1
    assert description["body.3"].kind == "depthwise_conv"
    add = description.of_kind("add")[0]
    assert set(add.layer.inbound) == {"body.4", "project"}
    assert description["body.4"].rf == (7, 7) and add.rf == (7, 7)
    assert description["pool"].output_shape == (7, 7, 32)
    # parameters as torch counts them, plus BatchNorm's running statistics (as Keras counts them)
    assert description.trainable_params == sum(p.numel() for p in module.parameters())
    assert description["body.1"].non_trainable_params == 16
    for info in description:
        assert info.output_shape == info.layer.reported_shape, info.qualname
        assert info.params == info.layer.reported_params, info.qualname


def test_frozen_parameters_are_not_trainable():
    module = torch_lenet5()
    for p in module.conv1.parameters():
        p.requires_grad = False
    description = describe(module, (1, 28, 28))
    assert description["conv1"].trainable_params == 0
    assert description.non_trainable_params == 156


def test_torch_needs_an_input_shape_and_a_traceable_forward():
    with pytest.raises(DescriptionError, match="input shape"):
        describe(torch_lenet5())

    class Dynamic(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(DescriptionError, match="trace"):
        describe(Dynamic(), (1, 4, 4))
    with pytest.raises(DescriptionError, match="fails on an input"):
        describe(torch_lenet5(), (3, 28, 28))
