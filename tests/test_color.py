import numpy as np
import pytest
from skimage.exposure import match_histograms as sk_match

from brushwork.color import match_histograms, oklab_to_rgb, rgb_to_oklab, rgb_to_yiq, transfer_luminance


def test_match_histograms_matches_scikit_image(rng):
    img = rng.random((20, 30, 3)).astype(np.float32) ** 2
    ref = rng.random((15, 11, 3)).astype(np.float32)
    ours = match_histograms(img, ref)
    theirs = sk_match(img, ref, channel_axis=-1)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_match_histograms_rejects_mismatched_channels(rng):
    with pytest.raises(ValueError, match="equal C"):
        match_histograms(rng.random((4, 4, 3)), rng.random((4, 4, 1)))


def test_transfer_luminance_keeps_content_chroma_and_stylized_luma(rng):
    content = 0.25 + 0.5 * rng.random((8, 8, 3))
    stylized = 0.25 + 0.5 * rng.random((8, 8, 3))
    out = transfer_luminance(stylized, content)
    yo, ys, yc = rgb_to_yiq(out), rgb_to_yiq(stylized), rgb_to_yiq(content)
    np.testing.assert_allclose(yo[..., 0], ys[..., 0], atol=1e-6)
    np.testing.assert_allclose(yo[..., 1:], yc[..., 1:], atol=1e-6)


def test_oklab_reference_values_and_round_trip(rng):
    np.testing.assert_allclose(rgb_to_oklab(np.array([1.0, 1.0, 1.0])), [1.0, 0.0, 0.0], atol=1e-4)
    # Ottosson's published value for sRGB red: L=0.62796, a=0.22486, b=0.12585
    np.testing.assert_allclose(rgb_to_oklab(np.array([1.0, 0.0, 0.0])), [0.62796, 0.22486, 0.12585], atol=1e-4)
    x = rng.random((10, 3))
    np.testing.assert_allclose(oklab_to_rgb(rgb_to_oklab(x)), x, atol=1e-6)


def test_a_grey_has_no_hue():
    """A grey's OKLCH hue was whatever rounding left (#bfbfbf: 89.9 degrees) in tables, JSON and CSS."""
    from brushwork.color.spaces import oklab_to_oklch, rgb_to_oklab

    lch = oklab_to_oklch(rgb_to_oklab(np.array([[0.75, 0.75, 0.75], [1.0, 0.0, 0.0]])))
    assert lch[0, 2] == 0.0 and abs(lch[1, 2] - 29.23) < 0.01


def test_match_histograms_of_uint8_and_floats_gives_floats_in_0_1():
    """match_histograms(floats, uint8_reference) gave values up to 237 (the reference's units)."""
    from brushwork.color.transfer import match_histograms
    from brushwork.errors import BrushworkError

    rng = np.random.default_rng(0)
    img, ref = rng.random((16, 16, 3)), (rng.random((20, 20, 3)) * 255).astype(np.uint8)
    out = match_histograms(img, ref)
    assert out.max() <= 1.0 and np.allclose(np.sort(out[..., 0].ravel())[[0, -1]],
                                            np.sort(ref[..., 0].ravel() / 255.0)[[0, -1]], atol=0.01)
    assert match_histograms(ref, img).max() <= 1.0
    with pytest.raises(BrushworkError, match="equal C"):
        match_histograms(img, ref[..., :2])
