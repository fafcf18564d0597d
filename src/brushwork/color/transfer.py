"""Colour transfer: histogram matching and luminance-only transfer."""

from __future__ import annotations

import numpy as np

from ..errors import BrushworkError
from .spaces import rgb_to_yiq, yiq_to_rgb

__all__ = ["match_histograms", "transfer_luminance"]


def _channel_map(source: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact quantile mapping (the same definition scikit-image uses): ``(mapped, index)``: each of the
    source's unique values goes to the reference value at the same quantile, interpolated between the
    reference's unique values; ``mapped[index]`` is the source's match (``index`` int32 where it fits, to
    hold a large photo's channel in half the memory)."""
    src_values, src_idx, src_counts = np.unique(source.ravel(), return_inverse=True, return_counts=True)
    return _quantile_map(src_counts, reference), src_idx.astype(np.int32 if len(src_values) < 2**31 else np.int64)


def _quantile_map(counts: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The reference's value at each sorted source value's quantile, from how many pixels hold each (whole numbers),
    interpolated between the reference's unique values."""
    ref_values, ref_counts = np.unique(reference.ravel(), return_counts=True)
    return np.interp(np.cumsum(counts) / int(counts.sum()), np.cumsum(ref_counts) / reference.size, ref_values)


def _weighted_channel_map(values: np.ndarray, weights: np.ndarray,
                          reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_channel_map` of a channel given as distinct colours' ``values`` and how many pixels each has
    (``weights``, whole numbers): the same mapping, from a few hundred thousand colours instead of tens of millions
    of pixels; ``mapped[index]`` is each colour's match."""
    src_values, idx = np.unique(values, return_inverse=True)
    counts = np.bincount(idx, weights=weights, minlength=len(src_values)).astype(np.int64)  # (exact: whole numbers)
    return _quantile_map(counts, reference), idx


def _match_channel(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    mapped, index = _channel_map(source, reference)
    return mapped[index].reshape(source.shape)


def match_histograms(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Match each channel's histogram of ``image`` to ``reference``'s.

    Args:
        image: ``(H, W, C)``.
        reference: ``(H', W', C)``; any size. Where either is uint8 (0-255), both are taken as
            :func:`~brushwork.imaging.read_image` takes arrays: the result is in [0, 1] (it was in the reference's
            units, 0-255 floats for two uint8 pictures).

    Returns:
        ``(H, W, C)`` float array with the reference's per-channel value distribution.
    """
    image, reference = np.asarray(image), np.asarray(reference)
    if image.ndim != 3 or reference.ndim != 3 or image.shape[2] != reference.shape[2]:
        raise BrushworkError(
            f"match_histograms needs (H, W, C) arrays with equal C, got {image.shape} and {reference.shape}"
        )
    if not (image.size and reference.size):
        raise BrushworkError(f"match_histograms needs pictures with pixels, got shapes {image.shape} and "
                             f"{reference.shape}")
    if image.dtype == np.uint8 or reference.dtype == np.uint8:  # as floats in [0, 1], as read_image takes arrays
        from ..imaging.io import unit_floats  # (both uint8 gave 0-255 floats; one of each, the reference's units)

        image, reference = unit_floats(image), unit_floats(reference, "reference")
    out = np.empty(image.shape, dtype=np.float64)
    for c in range(image.shape[2]):
        out[..., c] = _match_channel(image[..., c], reference[..., c])
    return out.astype(image.dtype if image.dtype.kind == "f" else np.float64)


def transfer_luminance(stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Keep the content's colours and the stylization's luminance (Gatys et al. 2016, YIQ).

    Args:
        stylized: ``(H, W, 3)`` sRGB in [0, 1].
        content: ``(H, W, 3)`` sRGB in [0, 1], the same size.

    Returns:
        ``(H, W, 3)``: Y from ``stylized``, I and Q from ``content``, clipped to [0, 1].
    """
    from ..imaging.io import unit_floats

    stylized = unit_floats(stylized, "stylized", shape="rgb")  # (uint8 arrays: 0-255)
    content = unit_floats(content, "content", shape="rgb")
    if stylized.shape != content.shape:
        raise BrushworkError(f"transfer_luminance needs equal shapes, got {stylized.shape} and {content.shape}")
    y = rgb_to_yiq(stylized)[..., :1]
    iq = rgb_to_yiq(content)[..., 1:]
    return np.clip(yiq_to_rgb(np.concatenate([y, iq], axis=-1)), 0.0, 1.0).astype(stylized.dtype)
