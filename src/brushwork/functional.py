"""Stateless tensor ops shared by losses, models and pipelines.

Feature tensors are ``(B, C, H, W)``. Every op follows the input's device and dtype and never
modifies its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["gram_matrix", "masked_gram_matrix", "mean_std", "adain", "mean_cov", "wct_matrix", "wct", "laplacian",
           "laplacian_energy", "opaque_positions"]


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Channel correlations ``G = F F^T / (H W)``.

    Args:
        features: ``(B, C, H, W)``.

    Returns:
        ``(B, C, C)``. Normalised by the number of positions (not by ``C``), so layers of any size
        and images of any resolution give comparable values.
    """
    if features.dim() != 4:
        raise ValueError(f"gram_matrix expects (B, C, H, W), got shape {tuple(features.shape)}")
    b, c, h, w = features.shape
    return _Gram.apply(features.reshape(b, c, h * w)) / (h * w)


class _Gram(torch.autograd.Function):
    """``F F^T`` with a one-matmul backward.

    Autograd's generic backward of ``bmm(F, F^T)`` runs two matmuls (one per factor); since G is
    symmetric, ``dL/dF = (dG + dG^T) F`` needs one. The Gram matrices of wide, high-resolution layers
    are a large share of a style-transfer step, so this saves about a third of their cost.
    """

    @staticmethod
    def forward(ctx, flat: torch.Tensor) -> torch.Tensor:  # (B, C, N) -> (B, C, C)
        ctx.save_for_backward(flat)
        return torch.bmm(flat, flat.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (flat,) = ctx.saved_tensors
        return torch.bmm(grad + grad.transpose(1, 2), flat)


def masked_gram_matrix(features: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Gram matrix over the positions selected by a soft mask (Gatys et al. 2017, guided Gram).

    Args:
        features: ``(B, C, H, W)``.
        mask: ``(B, 1, h, w)`` in [0, 1]; resized (area) to ``(H, W)`` when needed.

    Returns:
        ``(B, C, C)``: ``sum_p m_p f_p f_p^T / sum_p m_p``.
    """
    b, c, h, w = features.shape
    if mask.shape[-2:] != (h, w):
        mask = F.interpolate(mask, size=(h, w), mode="area")
    m = mask.reshape(b, 1, h * w)
    flat = features.reshape(b, c, h * w)
    return torch.bmm(flat * m, flat.transpose(1, 2)) / (m.sum(dim=2, keepdim=True) + eps)


def mean_std(features: torch.Tensor, eps: float = 1e-5, mask: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation over space.

    Args:
        features: ``(B, C, H, W)``.
        mask: optional ``(B, 1, h, w)`` in [0, 1] (resized by area to ``(H, W)``): the statistics of the
            positions it selects, each weighted by its value (as :func:`masked_gram_matrix`).

    Returns:
        ``(mean, std)``, each ``(B, C, 1, 1)``; ``std = sqrt(var + eps)`` (population variance, as in
        AdaIN and instance norm).
    """
    if features.dim() != 4:
        raise ValueError(f"mean_std expects (B, C, H, W), got shape {tuple(features.shape)}")
    if mask is None:
        var, mean = torch.var_mean(features, dim=(2, 3), keepdim=True, correction=0)
        return mean, (var + eps).sqrt()
    if mask.shape[-2:] != features.shape[-2:]:
        mask = F.interpolate(mask, size=features.shape[-2:], mode="area")
    w = mask / mask.sum(dim=(2, 3), keepdim=True).clamp_min(1e-8)
    mean = (features * w).sum(dim=(2, 3), keepdim=True)
    var = ((features - mean).pow(2) * w).sum(dim=(2, 3), keepdim=True)
    return mean, (var + eps).sqrt()


def adain(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Adaptive instance normalisation (Huang & Belongie 2017).

    ``AdaIN(c, s) = std(s) * (c - mean(c)) / std(c) + mean(s)``, per sample and channel.

    Args:
        content: ``(B, C, H, W)``.
        style: ``(B, C, H', W')``; any spatial size.
    """
    c_mean, c_std = mean_std(content, eps)
    s_mean, s_std = mean_std(style, eps)
    return (content - c_mean) / c_std * s_std + s_mean


def _float64_ready(x: torch.Tensor) -> torch.Tensor:
    # MPS has neither float64 nor eigh: such sums and decompositions run on the CPU (C x C: cheap)
    return x.cpu() if x.device.type == "mps" else x


def opaque_positions(alpha: torch.Tensor | None, size: Sequence[int], least: int = 4) -> torch.Tensor | None:
    """Which positions of a ``size = (h, w)`` feature grid an image with transparency shows: a ``(B, 1, h, w)``
    mask of 0s and 1s, 1 where the ``alpha (B, 1, H, W)`` averaged over the position's area is at least half.

    A transparent backdrop is no part of a style (an artist's clip art is the drawing, not the white it is shown
    on), so a style's statistics are taken where it is opaque. Where fewer than ``least`` positions are (a small
    drawing on a deep layer), each position is weighted by its opacity instead. None (everywhere) for None or an
    alpha that covers every position.
    """
    if alpha is None:
        return None
    a = F.interpolate(alpha, size=tuple(size), mode="area") if tuple(alpha.shape[-2:]) != tuple(size) else alpha
    shown = (a >= 0.5).to(a.dtype)
    if bool((shown > 0).all()):
        return None
    return torch.where(shown.sum(dim=(2, 3), keepdim=True) >= least, shown, a)


def mean_cov(features: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and the channels' covariance over space.

    Args:
        features: ``(B, C, H, W)``.
        mask: optional ``(B, 1, h, w)`` in [0, 1] (resized by area to ``(H, W)``): the statistics of the
            positions it selects, each weighted by its value (as :func:`mean_std`).

    Returns:
        ``(mean, cov)``: ``(B, C, 1, 1)`` and ``(B, C, C)`` in the input's dtype and device
        (population covariance, as :func:`mean_std`'s variance; its diagonal is that variance).
        Summed in float64: in float32 the smallest directions of a few hundred channels drown in
        rounding.
    """
    if features.dim() != 4:
        raise ValueError(f"mean_cov expects (B, C, H, W), got shape {tuple(features.shape)}")
    b, c, h, w = features.shape
    flat = _float64_ready(features).reshape(b, c, h * w).double()
    if mask is None:
        mean = flat.mean(dim=2, keepdim=True)
        centred = flat - mean
        cov = torch.bmm(centred, centred.transpose(1, 2)) / (h * w)
    else:
        if mask.shape[-2:] != (h, w):
            mask = F.interpolate(mask, size=(h, w), mode="area")
        m = _float64_ready(mask).reshape(b, 1, h * w).double()
        m = m / m.sum(dim=2, keepdim=True).clamp_min(1e-12)
        mean = (flat * m).sum(dim=2, keepdim=True)
        centred = flat - mean
        cov = torch.bmm(centred * m, centred.transpose(1, 2))
    return mean[..., None].to(features.device, features.dtype), cov.to(features.device, features.dtype)


def wct_matrix(
    content_cov: torch.Tensor, style_cov: torch.Tensor, eps: float = 1e-5, blocks: Sequence[int] | None = None
) -> torch.Tensor:
    """The whitening-colouring map ``M = cov_s^(1/2) (cov_c + eps I)^(-1/2)`` (Li et al., NeurIPS 2017).

    ``M (c - mean_c) + mean_s`` has the style's covariance (and mean) where the content's covariance
    is full rank. ``eps`` damps the content's weak directions as AdaIN's ``sqrt(var + eps)`` does, so
    a nearly flat picture is not turned into amplified noise; directions with less than ``eps``
    times the largest variance are dropped (dead ReLU channels have none). Computed in float64 (on
    the CPU for MPS tensors).

    Args:
        content_cov, style_cov: ``(B, C, C)`` symmetric positive semi-definite.
        blocks: channel counts of independent groups (e.g. encoder taps): each group is whitened
            and coloured on its own; the map is then block-diagonal. None: one group.

    Returns:
        ``(B, C, C)`` in ``content_cov``'s dtype and device.
    """
    cc, sc = _float64_ready(content_cov).double(), _float64_ready(style_cov).double()
    if blocks is not None and sum(blocks) != cc.shape[-1]:
        raise ValueError(f"blocks {list(blocks)} do not add up to the {cc.shape[-1]} channels")
    if blocks is None or len(blocks) <= 1:
        m = _wct_block(cc, sc, eps)
    else:
        m = torch.zeros_like(cc)
        i = 0
        for n in blocks:
            m[:, i:i + n, i:i + n] = _wct_block(cc[:, i:i + n, i:i + n], sc[:, i:i + n, i:i + n], eps)
            i += n
    return m.to(content_cov.device, content_cov.dtype)


def _wct_block(cc: torch.Tensor, sc: torch.Tensor, eps: float) -> torch.Tensor:
    ec, vc = torch.linalg.eigh(cc)
    es, vs = torch.linalg.eigh(sc)
    keep = ec > eps * ec[..., -1:]  # eigh sorts ascending: the last is the largest
    inv_sqrt = torch.where(keep, (ec.clamp_min(0) + eps).rsqrt(), torch.zeros_like(ec))
    white = vc @ torch.diag_embed(inv_sqrt) @ vc.transpose(1, 2)
    colour = vs @ torch.diag_embed(es.clamp_min(0).sqrt()) @ vs.transpose(1, 2)
    return colour @ white


def wct(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Whitening and colouring transform (Li et al., "Universal Style Transfer via Feature
    Transforms", NeurIPS 2017): AdaIN's full-covariance sibling.

    AdaIN matches each channel's mean and std; WCT matches the mean and the whole channel
    covariance, i.e. also how channels vary together (the centred Gram matrix that Gatys' style
    loss compares), by whitening the content's features and colouring them with the style's.

    Args:
        content: ``(B, C, H, W)``.
        style: ``(B, C, H', W')``; any spatial size.
    """
    # In float32 with autocast off: under bf16/fp16 training the rounded covariances and map would make
    # the target several times noisier than AdaIN's (measured 2.6 % vs 0.4 % in bf16).
    with torch.autocast(content.device.type, enabled=False):
        c, s = content.float(), style.float()
        c_mean, c_cov = mean_cov(c)
        s_mean, s_cov = mean_cov(s)
        b, ch, h, w = c.shape
        m = wct_matrix(c_cov, s_cov, eps)
        out = (m @ (c - c_mean).reshape(b, ch, h * w)).reshape(b, ch, h, w) + s_mean
    return out.to(content.dtype)


_LAPLACE = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian(image: torch.Tensor) -> torch.Tensor:
    """4-neighbour discrete Laplacian per channel, replicate padding. ``(B, C, H, W)`` -> same shape."""
    c = image.shape[1]
    kernel = _LAPLACE.to(image).expand(c, 1, 3, 3)
    return F.conv2d(F.pad(image, (1, 1, 1, 1), mode="replicate"), kernel, groups=c)


def laplacian_energy(image: torch.Tensor) -> torch.Tensor:
    """Mean squared Laplacian: a measure of high-frequency energy (noise, speckle). ``(B,)``."""
    return laplacian(image).pow(2).mean(dim=(1, 2, 3))
