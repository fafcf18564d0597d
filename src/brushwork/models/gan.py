"""DCGAN-family generator and discriminator for square images of 32 to 256 px.

The generator maps ``z ~ N(0, I)`` to an image in [-1, 1]: a linear layer to a 4 x 4 feature map,
then one "upsample x2 (nearest) + 3x3 conv + batch norm + ReLU" block per doubling (nearest
upsampling + conv avoids the checkerboard artefacts of transposed convolutions, Odena et al. 2016),
and a 3x3 conv to RGB with tanh. The discriminator mirrors it with strided 4x4 convs and leaky
ReLUs, optionally spectrally normalised (Miyato et al. 2018), ending in one logit per image.
Channel widths scale with the size: ``min(max_width, width * 2 ** (levels - i))`` at level ``i`` (``i = 0``
is the 4 x 4 map), and ``base_width`` may widen the 4 x 4 level alone.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .layers import UpsampleConv2d

__all__ = ["GANConfig", "Generator", "Discriminator", "GAN", "VAE", "build_model"]


@dataclass(frozen=True)
class GANConfig:
    """Rebuilds a GAN; saved in ``config.json`` beside the weights."""

    size: int = 64
    z_dim: int = 128
    channels: int = 3
    width: int = 32  # channels at the last (full-resolution) level
    max_width: int = 256
    spectral_norm: bool = True
    model: str = "gan"  # gan | vae
    base_width: int | None = None  # channels at the 4 x 4 level (None: the doubling rule)

    def __post_init__(self) -> None:
        if self.size not in (32, 64, 128, 256):
            raise ValueError(f"size must be 32, 64, 128 or 256, got {self.size}")
        if self.base_width is not None and self.base_width < 1:
            raise ValueError(f"base_width must be a positive number of channels, got {self.base_width}")
        if self.model not in ("gan", "vae"):
            raise ValueError(f"model must be 'gan' or 'vae', got {self.model!r}")

    @property
    def levels(self) -> int:
        return int(math.log2(self.size // 4))

    def widths(self) -> list[int]:
        """Channels from the 4 x 4 map (index 0) to full resolution (index ``levels``); ``base_width``
        replaces the first. Parameters at 4 x 4 are the cheapest there are: a 4 x 4 map has 16 positions
        (the generator's first layer is a linear map from z), a 32 x 32 map 1,024."""
        w = [min(self.max_width, self.width * 2 ** (self.levels - i)) for i in range(self.levels + 1)]
        return w if self.base_width is None else [self.base_width, *w[1:]]

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["base_width"] is None:  # (so that brushwork before base_width still loads the checkpoint)
            del d["base_width"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> GANConfig:
        return cls(**d)


class Generator(nn.Module):
    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        w = cfg.widths()
        self.cfg = cfg
        self.stem = nn.Sequential(nn.Linear(cfg.z_dim, w[0] * 16), nn.Unflatten(1, (w[0], 4, 4)),
                                  nn.BatchNorm2d(w[0]), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(*[
            # upsample x2 + 3x3 conv in one layer (models/layers.py: the same function, 2-3x faster); the
            # Identity keeps the checkpoints' parameter names (blocks.i.1.weight) from when they were two
            nn.Sequential(nn.Identity(), UpsampleConv2d(w[i], w[i + 1], bias=False),
                          nn.BatchNorm2d(w[i + 1]), nn.ReLU(inplace=True))
            for i in range(cfg.levels)
        ])
        self.to_rgb = nn.Conv2d(w[-1], cfg.channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z (B, z_dim)`` -> images ``(B, channels, size, size)`` in [-1, 1]."""
        return torch.tanh(self.to_rgb(self.blocks(self.stem(z))))


class Discriminator(nn.Module):
    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        w = cfg.widths()[::-1]  # full resolution first
        sn = nn.utils.parametrizations.spectral_norm if cfg.spectral_norm else (lambda m: m)
        self.from_rgb = nn.Sequential(sn(nn.Conv2d(cfg.channels, w[0], 3, padding=1)), nn.LeakyReLU(0.2, inplace=True))
        self.blocks = nn.Sequential(*[
            nn.Sequential(sn(nn.Conv2d(w[i], w[i + 1], 4, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True))
            for i in range(cfg.levels)
        ])
        self.head = sn(nn.Conv2d(w[-1], 1, 4))  # 4 x 4 -> 1 x 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] -> logits ``(B,)``."""
        return self.head(self.blocks(self.from_rgb(x))).flatten()


class GAN(nn.Module):
    """Generator, discriminator and the generator's exponential moving average, saved together.

    ``g_ema`` is what sampling uses: averaging the generator's weights over recent steps smooths out
    the oscillation of adversarial training (Karras et al. 2018; Yazici et al. 2019).
    """

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.g = Generator(cfg)
        self.d = Discriminator(cfg)
        self.g_ema = Generator(cfg)
        self.g_ema.load_state_dict(self.g.state_dict())
        self.g_ema.requires_grad_(False)
        self.ema_stale = False  # its batch-norm statistics belong to older weights (see refresh_ema)

    @torch.no_grad()
    def update_ema(self, decay: float) -> None:
        for p_ema, p in zip(self.g_ema.parameters(), self.g.parameters()):
            p_ema.lerp_(p, 1.0 - decay)
        self.ema_stale = True

    def refresh_ema(self) -> None:
        """:meth:`recalibrate_ema` if the averaged weights changed since it last ran: before ``g_ema``
        paints (sample grids, the collapse check) or is saved."""
        if self.ema_stale:
            self.recalibrate_ema()

    @torch.no_grad()
    def recalibrate_ema(self, batches: int = 16, batch: int = 64, seed: int = 0) -> None:
        """Re-estimate ``g_ema``'s batch-norm statistics for its averaged weights (the live generator's
        statistics belong to its own, newer weights): a cumulative average over ``batches`` batches of
        seeded latents, run in training mode without gradients."""
        bns = [m for m in self.g_ema.modules() if isinstance(m, nn.BatchNorm2d)]
        saved = [m.momentum for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average
        was_training = self.g_ema.training
        self.g_ema.train()
        gen = torch.Generator().manual_seed(seed)
        dev = next(self.g_ema.parameters()).device
        for _ in range(batches):
            self.g_ema(torch.randn(batch, self.cfg.z_dim, generator=gen).to(dev))
        for m, mom in zip(bns, saved):
            m.momentum = mom
        self.g_ema.train(was_training)
        self.ema_stale = False


class VAE(nn.Module):
    """A convolutional variational autoencoder (Kingma & Welling 2014) with the GAN's generator as
    its decoder: the encoder (the discriminator's layout, without spectral norm) gives the mean and
    log-variance of ``q(z | x)``. Its latent space is smooth, which makes interpolations gentle.

    ``g_ema`` is the decoder, so sampling and interpolation treat a VAE like a GAN.
    """

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.widths()[::-1]
        self.encoder = nn.Sequential(
            nn.Conv2d(cfg.channels, w[0], 3, padding=1), nn.LeakyReLU(0.2, inplace=True),
            *[m for i in range(cfg.levels) for m in (nn.Conv2d(w[i], w[i + 1], 4, stride=2, padding=1),
                                                      nn.BatchNorm2d(w[i + 1]), nn.LeakyReLU(0.2, inplace=True))],
            nn.Flatten(), nn.Linear(w[-1] * 16, 2 * cfg.z_dim),
        )
        self.decoder = Generator(cfg)

    @property
    def g_ema(self) -> Generator:
        return self.decoder

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    def forward(self, x: torch.Tensor, gen: torch.Generator | None = None):
        """``x`` in [-1, 1] -> (reconstruction, mu, logvar), sampling ``z = mu + sigma * eps``."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=gen, device="cpu").to(mu) if gen is not None else torch.randn_like(mu)
        return self.decoder(mu + torch.exp(0.5 * logvar) * eps), mu, logvar


def build_model(cfg: GANConfig) -> nn.Module:
    return VAE(cfg) if cfg.model == "vae" else GAN(cfg)
