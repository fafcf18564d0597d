import numpy as np
import pytest
import torch

from brushwork.functional import (adain, gram_matrix, laplacian, laplacian_energy, masked_gram_matrix, mean_cov, mean_std,
                                  opaque_positions, wct, wct_matrix)


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
    # a mask: the statistics of the positions it selects (all ones: the plain ones)
    t = torch.from_numpy(x)
    for a, b in zip(mean_std(t, mask=torch.ones(2, 1, 5, 4)), mean_std(t)):
        torch.testing.assert_close(a, b)
    left = torch.zeros(2, 1, 5, 4)
    left[..., :2] = 1
    mean, std = mean_std(t, eps=0.0, mask=left)
    np.testing.assert_allclose(mean.numpy()[..., 0, 0], x[..., :2].mean(axis=(2, 3)))
    np.testing.assert_allclose(std.numpy()[..., 0, 0], x[..., :2].std(axis=(2, 3)))


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


def test_mean_cov_against_numpy():
    x = np.random.default_rng(1).normal(size=(2, 4, 5, 3))
    mean, cov = mean_cov(torch.from_numpy(x))
    np.testing.assert_allclose(mean.numpy()[..., 0, 0], x.mean(axis=(2, 3)))
    for b in range(2):
        np.testing.assert_allclose(cov[b].numpy(), np.cov(x[b].reshape(4, -1), bias=True), atol=1e-12)
    torch.testing.assert_close(torch.diagonal(cov, dim1=1, dim2=2).sqrt(), mean_std(torch.from_numpy(x), eps=0)[1][..., 0, 0])
    # a mask: the statistics of the positions it selects (all ones: the plain ones)
    t = torch.from_numpy(x)
    for a, b in zip(mean_cov(t, mask=torch.ones(2, 1, 5, 3)), mean_cov(t)):
        torch.testing.assert_close(a, b)
    top = torch.zeros(2, 1, 5, 3)
    top[..., :2, :] = 1
    for a, b in zip(mean_cov(t, mask=top), mean_cov(t[..., :2, :])):
        torch.testing.assert_close(a, b)


def test_opaque_positions_select_what_an_alpha_shows():
    assert opaque_positions(None, (4, 4)) is None and opaque_positions(torch.ones(1, 1, 8, 8), (4, 4)) is None
    alpha = torch.zeros(1, 1, 8, 8)
    alpha[..., :, :4] = 1  # the left half opaque
    alpha[..., :, 4] = 0.9  # a column mostly shown at half resolution (0.45 after averaging with the next): not shown
    m = opaque_positions(alpha, (4, 4))
    assert m.shape == (1, 1, 4, 4) and torch.equal(m, (torch.arange(4) < 2).float().expand(1, 1, 4, 4))
    speck = torch.zeros(1, 1, 8, 8)
    speck[..., 0, 0] = 1  # too few positions shown for statistics: each weighted by its opacity
    torch.testing.assert_close(opaque_positions(speck, (4, 4)), torch.nn.functional.avg_pool2d(speck, 2))


def test_wct_output_has_style_mean_and_covariance():
    g = torch.Generator().manual_seed(3)
    mix = torch.randn(6, 6, generator=g) + 3 * torch.eye(6)  # correlated channels, unlike AdaIN's independent ones
    c = torch.einsum("ij,bjhw->bihw", mix, torch.randn(2, 6, 12, 10, generator=g)) + 1
    s = torch.einsum("ij,bjhw->bihw", mix.T, torch.randn(2, 6, 9, 7, generator=g)) * 0.5 - 2
    out = wct(c, s)
    (om, oc), (sm, sc) = mean_cov(out), mean_cov(s)
    torch.testing.assert_close(om, sm, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(oc, sc, atol=1e-3, rtol=1e-3)
    assert out.shape == c.shape
    # AdaIN gets the variances (the diagonal) but not how the channels vary together
    ac = mean_cov(adain(c, s))[1]
    torch.testing.assert_close(torch.diagonal(ac, dim1=1, dim2=2), torch.diagonal(sc, dim1=1, dim2=2), atol=1e-3, rtol=1e-3)
    assert float((ac - sc).abs().max()) > 0.1


def test_wct_matrix_against_numpy_and_dead_channels():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(5, 40)), rng.normal(size=(5, 30)) * 2
    ca, cb = np.cov(a, bias=True), np.cov(b, bias=True)
    ea, va = np.linalg.eigh(ca)
    eb, vb = np.linalg.eigh(cb)
    want = (vb * np.sqrt(eb)) @ vb.T @ (va / np.sqrt(ea + 1e-5)) @ va.T  # independent: numpy's eigh
    got = wct_matrix(torch.from_numpy(ca)[None], torch.from_numpy(cb)[None])[0].numpy()
    np.testing.assert_allclose(got, want, atol=1e-8)
    # A channel that never fires (a dead ReLU) has no variance: WCT must not blow it up by 1/sqrt(eps)
    x = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(5))
    x[:, 2] = 0.3
    out = wct(x, torch.randn(1, 4, 6, 6) * 2)
    assert torch.isfinite(out).all() and float(out.abs().max()) < 50
    # A nearly flat picture: its noise is damped as AdaIN damps it, not coloured up to the style's spread
    g = torch.Generator().manual_seed(6)
    flat = 0.5 + 1e-5 * torch.randn(1, 4, 16, 16, generator=g)
    style = torch.randn(1, 4, 16, 16, generator=g)
    assert float(wct(flat, style).std(dim=(2, 3)).max()) < 2 * float(adain(flat, style).std(dim=(2, 3)).max()) < 0.2
    # Blocks are whitened and coloured apart: the map is block-diagonal and each block is its own map
    c4, s4 = mean_cov(torch.randn(2, 5, 9, 9, generator=g))[1], mean_cov(torch.randn(2, 5, 7, 7, generator=g))[1]
    m = wct_matrix(c4, s4, blocks=[2, 3])
    assert not m[:, :2, 2:].any() and not m[:, 2:, :2].any()
    torch.testing.assert_close(m[:, 2:, 2:], wct_matrix(c4[:, 2:, 2:], s4[:, 2:, 2:]))


def test_ops_do_not_modify_inputs_and_follow_dtype():
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    before = x.clone()
    for fn in (gram_matrix, laplacian, laplacian_energy):
        y = fn(x)
        assert y.dtype == torch.float64
    adain(x, x.flip(-1))
    assert wct(x, x.flip(-1)).dtype == torch.float64 and mean_cov(x)[1].dtype == torch.float64
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
