"""The textbook baseline: the PyTorch neural-style tutorial's algorithm with only the encoder swapped.

Re-implemented from the tutorial's description (pytorch.org/tutorials/advanced/neural_style_tutorial):
Gram matrix normalised by ``B*C*H*W``, MSE style and content losses on the encoder's registry taps
(style on every style tap, content on the content tap), style weight 1e6, content weight 1, input
initialised from the content, ``torch.optim.LBFGS`` with its defaults (lr 1, max_iter 20, history 100,
no line search) stepped until 300 closure evaluations, the image clamped to [0, 1] in place before
each evaluation. Only for benchmarks: not part of the package.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _gram(f: torch.Tensor) -> torch.Tensor:
    b, c, h, w = f.shape
    feats = f.reshape(b * c, h * w)
    return feats @ feats.t() / (b * c * h * w)


def textbook_gatys(encoder, content: torch.Tensor, style: torch.Tensor, style_taps, content_taps,
                   num_steps: int = 300, style_weight: float = 1e6, content_weight: float = 1.0):
    with torch.no_grad():
        s_grams = {t: _gram(f) for t, f in encoder(style, style_taps).items()}
        c_feats = encoder(content, content_taps)
    taps = list(dict.fromkeys([*style_taps, *content_taps]))
    img = content.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([img])
    run = [0]
    while run[0] <= num_steps:
        def closure():
            with torch.no_grad():
                img.clamp_(0, 1)
            opt.zero_grad()
            feats = encoder(img, taps)
            style_score = sum(F.mse_loss(_gram(feats[t]), s_grams[t]) for t in style_taps)
            content_score = sum(F.mse_loss(feats[t], c_feats[t]) for t in content_taps)
            loss = style_weight * style_score + content_weight * content_score
            loss.backward()
            run[0] += 1
            return loss
        opt.step(closure)
    with torch.no_grad():
        img.clamp_(0, 1)
    return img.detach()
