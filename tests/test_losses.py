import torch

from brushwork.functional import gram_matrix
from brushwork.losses import content_loss, gram_loss, mean_std_loss, total_variation


def test_gram_loss_zero_at_target_and_relative_scale_free():
    g = torch.Generator().manual_seed(0)
    f = torch.rand(1, 4, 8, 8, generator=g)
    s = torch.rand(1, 4, 8, 8, generator=g)
    assert float(gram_loss(f, gram_matrix(f))) == 0.0
    a = gram_loss(f, gram_matrix(s))
    b = gram_loss(f * 10, gram_matrix(s * 10))  # relative loss is invariant to a common feature scale
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    ref = ((gram_matrix(f) - gram_matrix(s)) ** 2).sum() / (gram_matrix(s) ** 2).sum()
    torch.testing.assert_close(a, ref)
    torch.testing.assert_close(gram_loss(f, gram_matrix(s), relative=False),
                               ((gram_matrix(f) - gram_matrix(s)) ** 2).mean())


def test_content_loss_values():
    x = torch.tensor([[[[1.0, 2.0]]]])
    y = torch.tensor([[[[1.0, 4.0]]]])
    assert float(content_loss(x, y, relative=False)) == 2.0  # ((0)^2 + (2)^2) / 2
    assert abs(float(content_loss(x, y)) - 4.0 / 17.0) < 1e-7


def test_mean_std_loss_zero_for_same_statistics():
    f = torch.rand(1, 3, 6, 6)
    m = f.mean(dim=(2, 3), keepdim=True)
    s = (f.var(dim=(2, 3), keepdim=True, correction=0) + 1e-5).sqrt()
    assert float(mean_std_loss(f, m, s)) < 1e-10
    assert float(mean_std_loss(f, m + 1, s)) > 0


def test_total_variation_known_values():
    assert float(total_variation(torch.ones(1, 3, 4, 4))) == 0.0
    x = torch.zeros(1, 1, 2, 2)
    x[..., 0, 0] = 1.0
    # vertical diffs: [-1, 0] -> mean 0.5; horizontal diffs: [-1, 0] -> mean 0.5
    assert float(total_variation(x)) == 1.0


def test_gram_loss_with_mask_uses_masked_region():
    g = torch.Generator().manual_seed(3)
    f = torch.rand(1, 4, 8, 8, generator=g)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :, :4] = 1
    target = gram_matrix(f[..., :, :4])
    assert float(gram_loss(f, target, mask=mask)) < 1e-10
    assert float(gram_loss(f, target)) > 1e-4
