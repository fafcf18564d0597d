"""The folded upsample-conv equals nearest upsampling followed by a 3 x 3 convolution."""

import pytest
import torch
import torch.nn.functional as F

from brushwork.models.layers import UpsampleConv2d, upsample_conv3x3


@pytest.mark.parametrize("mode", ["zeros", "reflect"])
@pytest.mark.parametrize("shape", [(2, 5, 4, 4), (1, 3, 3, 7)])
def test_folded_upsample_conv_matches_upsample_then_conv(mode, shape):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, shape[1], 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(6, generator=gen, dtype=torch.float64, requires_grad=True)
    up = F.interpolate(x, scale_factor=2, mode="nearest")
    ref = F.conv2d(F.pad(up, (1, 1, 1, 1), mode="reflect") if mode == "reflect" else up, w, bias,
                   padding=0 if mode == "reflect" else 1)
    out = upsample_conv3x3(x, w, bias, padding_mode=mode)
    assert out.shape == ref.shape == (shape[0], 6, 2 * shape[2], 2 * shape[3])
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    g_ref = torch.autograd.grad((ref * ref.detach().sin()).sum(), [x, w, bias])
    g_out = torch.autograd.grad((out * ref.detach().sin()).sum(), [x, w, bias])
    for a, b in zip(g_out, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_layer_keeps_the_conv_parameters():
    layer = UpsampleConv2d(4, 3, bias=False)
    assert set(dict(layer.named_parameters())) == {"weight"} and layer.weight.shape == (3, 4, 3, 3)
    x = torch.randn(1, 4, 5, 5)
    torch.testing.assert_close(layer(x), F.conv2d(F.interpolate(x, scale_factor=2), layer.weight, padding=1))
    with pytest.raises(ValueError, match="padding_mode"):
        upsample_conv3x3(x, layer.weight, padding_mode="circular")
