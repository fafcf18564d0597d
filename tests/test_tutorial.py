"""Every number on docs/tutorial-digits.md, recomputed."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from brushwork.models.classifier import ClassifierConfig, build_classifier

DOC = (Path(__file__).resolve().parents[1] / "docs" / "tutorial-digits.md").read_text()


def _out(n, k=3, p=1, s=1):
    return (n + 2 * p - k) // s + 1


def test_convolution_arithmetic_and_parameter_counts():
    assert _out(28) == 28 and _out(4, p=0) == 2
    model = build_classifier(ClassifierConfig(arch="seed-cnn"))
    x = torch.zeros(1, 1, 28, 28)
    shapes = []
    for layer in model.features:
        x = layer(x)
        if isinstance(layer, torch.nn.MaxPool2d):
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [(32, 14, 14), (64, 7, 7), (128, 3, 3)]
    counts = [sum(p.numel() for p in m.parameters()) for m in model.modules()
              if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert counts == [320, 18_496, 73_856, 147_584, 1_290]
    assert sum(counts) == 241_546
    for n in ("18,496", "73,856", "147,584", "1,290", "241,546"):
        assert n in DOC


def test_the_worked_convolution():
    x = torch.tensor([[1., 2, 0, 1], [0, 1, 3, 1], [2, 1, 0, 0], [1, 0, 1, 2]])
    k = torch.tensor([[1., 0, -1]] * 3)
    out = F.conv2d(x[None, None], k[None, None])[0, 0]
    assert out.tolist() == [[0, 2], [-1, -1]]
    assert "     0  2\n    -1 -1" in DOC


def test_the_worked_loss_and_gradient_match_autograd():
    z = torch.tensor([2.0, 1.0, 0.1], requires_grad=True)
    loss = F.cross_entropy(z[None], torch.tensor([0]))
    loss.backward()
    p = torch.softmax(z.detach(), 0)
    np.testing.assert_allclose(p.numpy(), [0.6590, 0.2424, 0.0986], atol=5e-5)
    assert round(float(loss.detach()), 4) == 0.417
    torch.testing.assert_close(z.grad, p - torch.tensor([1.0, 0, 0]))
    np.testing.assert_allclose(z.grad.numpy(), [-0.3410, 0.2424, 0.0986], atol=5e-5)
    for s in ("0.6590, 0.2424, 0.0986", "0.4170", "-0.3410, 0.2424, 0.0986"):
        assert s in DOC


def test_label_smoothing_target_as_documented():
    z = torch.randn(1, 10)
    y = torch.tensor([3])
    target = torch.full((1, 10), 0.05 / 10)
    target[0, 3] += 0.95
    manual = -(target * torch.log_softmax(z, 1)).sum()
    assert float(F.cross_entropy(z, y, label_smoothing=0.05)) == pytest.approx(float(manual), rel=1e-5)
