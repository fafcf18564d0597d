"""Pure loss functions for style transfer.

All take feature or image tensors ``(B, C, H, W)`` and return a scalar tensor on the input's device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .functional import gram_matrix, masked_gram_matrix, mean_std

__all__ = ["content_loss", "gram_loss", "mean_std_loss", "total_variation", "d_loss", "g_loss", "r1_penalty",
           "vae_loss"]


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
    features: torch.Tensor, target_mean: torch.Tensor, target_std: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """AdaIN's style loss: squared error of per-channel mean and std, relative to the target's norm
    (over the positions ``mask`` selects, if given: :func:`~brushwork.functional.mean_std`)."""
    mean, std = mean_std(features, mask=mask)
    num = (mean - target_mean).pow(2).sum() + (std - target_std).pow(2).sum()
    return num / (target_mean.pow(2).sum() + target_std.pow(2).sum()).clamp_min(1e-12)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels (anisotropic, squared TV)."""
    dh = image[..., 1:, :] - image[..., :-1, :]
    dw = image[..., :, 1:] - image[..., :, :-1]
    return dh.pow(2).mean() + dw.pow(2).mean()


# -- GAN losses -------------------------------------------------------------------------------------
# D(x) is a logit; sigma is the logistic sigmoid, so sigma(D(x)) is the probability that x is real.
#
# Non-saturating loss (Goodfellow et al. 2014, section 3):
#   discriminator  L_D = -E_x[ log sigma(D(x)) ] - E_z[ log(1 - sigma(D(G(z)))) ]
#   generator      L_G = -E_z[ log sigma(D(G(z))) ]
# (the generator maximises log D(G(z)) instead of minimising log(1 - D(G(z))), whose gradient
# vanishes while D rejects every sample). With -log sigma(t) = softplus(-t) and
# -log(1 - sigma(t)) = softplus(t) both are computed stably from the logits:
#   L_D = E[softplus(-D(x))] + E[softplus(D(G(z)))],   L_G = E[softplus(-D(G(z)))].
#
# Hinge loss (Lim & Ye 2017; Miyato et al. 2018):
#   L_D = E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))],   L_G = -E[D(G(z))].


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "ns") -> torch.Tensor:
    """Discriminator loss from logits on real and generated images (``kind``: ``ns`` or ``hinge``)."""
    if kind == "ns":
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    raise ValueError(f"unknown GAN loss {kind!r}: use 'ns' or 'hinge'")


def g_loss(fake_logits: torch.Tensor, kind: str = "ns") -> torch.Tensor:
    """Generator loss from the discriminator's logits on generated images."""
    if kind == "ns":
        return F.softplus(-fake_logits).mean()
    if kind == "hinge":
        return -fake_logits.mean()
    raise ValueError(f"unknown GAN loss {kind!r}: use 'ns' or 'hinge'")


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 regulariser (Mescheder et al. 2018): ``E[ ||grad_x D(x)||^2 ]`` on real images; ``real``
    must require grad. Multiply by ``gamma / 2`` in the loss."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def vae_loss(recon: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             beta: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The negative evidence lower bound per image, ``(total, reconstruction, kl)``.

    With a Gaussian decoder of fixed variance the reconstruction term is, up to constants, the
    squared error summed over pixels; the KL divergence of ``q(z|x) = N(mu, sigma^2)`` from the
    prior ``N(0, I)`` is ``-1/2 * sum(1 + log sigma^2 - mu^2 - sigma^2)`` over the latent dimensions.
    ``beta`` weighs the KL term (Higgins et al. 2017; 1 is the plain ELBO).
    """
    rec = (recon - x).pow(2).flatten(1).sum(1).mean()
    kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
    return rec + beta * kl, rec, kl
