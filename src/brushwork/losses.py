"""Pure loss functions for style transfer.

All take feature or image tensors ``(B, C, H, W)`` and return a scalar tensor on the input's device.
"""

from __future__ import annotations

import torch

from .functional import gram_matrix, masked_gram_matrix, mean_std

__all__ = ["content_loss", "gram_loss", "mean_std_loss", "total_variation"]


def content_loss(features: torch.Tensor, target: torch.Tensor, *, relative: bool = True) -> torch.Tensor:
    """Squared feature error.

    Args:
        relative: divide by ``||target||^2`` so that layers and encoders of any scale are
            comparable; with ``False`` it is the plain mean squared error of Gatys et al. 2016.
    """
    if relative:
        return (features - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12)
    return (features - target).pow(2).mean()


def gram_loss(
    features: torch.Tensor,
    target_gram: torch.Tensor,
    *,
    relative: bool = True,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Style loss on Gram matrices.

    Args:
        features: ``(B, C, H, W)`` features of the image being optimised.
        target_gram: ``(B, C, C)`` or ``(1, C, C)`` Gram matrix of the style.
        relative: ``||G(x) - G(s)||^2 / ||G(s)||^2`` (brushwork's default: it balances layers whose
            Gram norms differ by orders of magnitude, which the textbook loss does not); ``False``
            gives the textbook mean squared Gram error.
        mask: optional ``(B, 1, h, w)`` soft mask: the Gram matrix of ``features`` is taken over the
            masked positions only (guided Gram, Gatys et al. 2017).
    """
    g = gram_matrix(features) if mask is None else masked_gram_matrix(features, mask)
    if relative:
        return (g - target_gram).pow(2).sum() / target_gram.pow(2).sum().clamp_min(1e-12)
    return (g - target_gram).pow(2).mean()


def mean_std_loss(
    features: torch.Tensor, target_mean: torch.Tensor, target_std: torch.Tensor
) -> torch.Tensor:
    """AdaIN's style loss: squared error of per-channel mean and std, relative to the target's norm."""
    mean, std = mean_std(features)
    num = (mean - target_mean).pow(2).sum() + (std - target_std).pow(2).sum()
    return num / (target_mean.pow(2).sum() + target_std.pow(2).sum()).clamp_min(1e-12)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels (anisotropic, squared TV)."""
    dh = image[..., 1:, :] - image[..., :-1, :]
    dw = image[..., :, 1:] - image[..., :, :-1]
    return dh.pow(2).mean() + dw.pow(2).mean()
