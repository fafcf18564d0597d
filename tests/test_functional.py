import numpy as np
import pytest
import torch

from brushwork.functional import adain, gram_matrix, laplacian, laplacian_energy, masked_gram_matrix, mean_std


def test_gram_matches_einsum():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(2, 5, 7, 3, generator=g)
    ref = torch.einsum("bchw,bdhw->bcd", f, f) / (7 * 3)
    torch.testing.assert_close(gram_matrix(f), ref)


def test_gram_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        gram_matrix(torch.zeros(3, 4, 4))


def test_masked_gram_with_full_mask_is_gram_and_selects_region():
    g = torch.Generator().manual_seed(1)
    f = torch.randn(1, 4, 6, 6, generator=g)
    torch.testing.assert_close(masked_gram_matrix(f, torch.ones(1, 1, 6, 6)), gram_matrix(f), atol=1e-5, rtol=1e-5)
    m = torch.zeros(1, 1, 6, 6)
    m[..., :3, :] = 1
    torch.testing.assert_close(masked_gram_matrix(f, m), gram_matrix(f[..., :3, :]), atol=1e-5, rtol=1e-5)


def test_mean_std_against_numpy():
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 4))
    mean, std = mean_std(torch.from_numpy(x), eps=0.0)
    np.testing.assert_allclose(mean.numpy()[..., 0, 0], x.mean(axis=(2, 3)))
    np.testing.assert_allclose(std.numpy()[..., 0, 0], x.std(axis=(2, 3)))


def test_adain_output_has_style_statistics():
    g = torch.Generator().manual_seed(2)
    c = torch.randn(2, 8, 10, 12, generator=g) * 3 + 1
    s = torch.randn(2, 8, 5, 7, generator=g) * 0.5 - 2
    out = adain(c, s)
    om, os_ = mean_std(out)
    sm, ss = mean_std(s)
    torch.testing.assert_close(om, sm, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(os_, ss, atol=1e-3, rtol=1e-3)
    assert c.shape == out.shape


def test_ops_do_not_modify_inputs_and_follow_dtype():
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    before = x.clone()
    for fn in (gram_matrix, laplacian, laplacian_energy):
        y = fn(x)
        assert y.dtype == torch.float64
    adain(x, x.flip(-1))
    assert torch.equal(x, before)


def test_gradcheck_float64():
    x = torch.rand(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    s = torch.rand(1, 2, 3, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(gram_matrix, (x,))
    assert torch.autograd.gradcheck(lambda a: adain(a, s), (x,))


def test_laplacian_known_values():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0
    lap = laplacian(x)[0, 0]
    assert lap[2, 2] == -4.0 and lap[1, 2] == 1.0 and lap[2, 1] == 1.0 and lap[0, 0] == 0.0
    assert float(laplacian_energy(torch.ones(1, 3, 6, 6))[0]) == 0.0
