"""The pytorch/examples DCGAN (dcgan/main.py), rewritten here because its script imports torchvision,
which does not import beside brushwork's torch. Same networks, initialisation, loss, optimiser and
training step; the only change is the one the benchmark asks for, the image size: at 32 px the
generator starts at 4 x 4 with ``ngf * 4`` channels and the discriminator ends at 4 x 4 with ``ndf * 4``
(one layer fewer on each side than at 64 px, as DCGAN's own 32 px variants do). ``nc`` is 1 for
Fashion-MNIST, as the script's ``--dataset mnist`` sets it.

The script's defaults: nz 100, ngf = ndf = 64, batch 64, Adam(lr 2e-4, betas (0.5, 0.999)), BCELoss
on a sigmoid output, labels 1 (real) and 0 (fake), one discriminator step on a real and a fake batch,
then one generator step on the same fake batch with label 1; weights N(0, 0.02), batch-norm weights
N(1, 0.02). Its data: ``Resize(size)``, ``ToTensor()``, ``Normalize(0.5, 0.5)``: images in [-1, 1].
"""

from __future__ import annotations

import torch
from torch import nn


def weights_init(m: nn.Module) -> None:
    name = m.__class__.__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def _up(cin: int, cout: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]


def _down(cin: int, cout: int, bn: bool = True) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), *([nn.BatchNorm2d(cout)] if bn else []),
            nn.LeakyReLU(0.2, inplace=True)]


class NetG(nn.Module):
    def __init__(self, size: int = 64, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        mult = size // 8  # 8 at 64 px, 4 at 32 px
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, ngf * mult, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * mult),
                                   nn.ReLU(True)]
        while mult > 1:
            layers += _up(ngf * mult, ngf * mult // 2)
            mult //= 2
        layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class NetD(nn.Module):
    def __init__(self, size: int = 64, ndf: int = 64, nc: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = _down(nc, ndf, bn=False)
        mult = 1
        while mult < size // 8:
            layers += _down(ndf * mult, ndf * mult * 2)
            mult *= 2
        layers += [nn.Conv2d(ndf * mult, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1, 1).squeeze(1)


class DCGAN:
    """Both networks, their optimisers and the script's training step."""

    def __init__(self, size: int = 64, nc: int = 3, nz: int = 100, device: str = "cpu") -> None:
        self.nz, self.device = nz, torch.device(device)
        self.g, self.d = NetG(size, nz, nc=nc).to(device), NetD(size, nc=nc).to(device)
        self.g.apply(weights_init)
        self.d.apply(weights_init)
        self.crit = nn.BCELoss()
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def parameters(self) -> int:
        return sum(p.numel() for p in self.g.parameters()) + sum(p.numel() for p in self.d.parameters())

    def step(self, real: torch.Tensor) -> tuple[float, float]:
        b = real.shape[0]
        self.d.zero_grad()
        out = self.d(real)
        err_real = self.crit(out, torch.ones(b, device=self.device))
        err_real.backward()
        fake = self.g(torch.randn(b, self.nz, 1, 1, device=self.device))
        out = self.d(fake.detach())
        err_fake = self.crit(out, torch.zeros(b, device=self.device))
        err_fake.backward()
        self.opt_d.step()
        self.g.zero_grad()
        out = self.d(fake)
        err_g = self.crit(out, torch.ones(b, device=self.device))
        err_g.backward()
        self.opt_g.step()
        return float((err_real + err_fake).detach()), float(err_g.detach())

    @torch.no_grad()
    def sample(self, z: torch.Tensor) -> torch.Tensor:
        self.g.eval()
        try:
            return self.g(z[:, :, None, None])
        finally:
            self.g.train()
