"""Colour maths without torch: colour spaces, histogram matching, colour preservation.

Arrays are float ``(H, W, 3)`` sRGB in [0, 1] unless stated otherwise. The palette and recolouring
tools build on this module.
"""

from .spaces import linear_to_srgb, oklab_to_rgb, rgb_to_oklab, rgb_to_yiq, srgb_to_linear, yiq_to_rgb
from .transfer import match_histograms, transfer_luminance

__all__ = [
    "linear_to_srgb",
    "match_histograms",
    "oklab_to_rgb",
    "rgb_to_oklab",
    "rgb_to_yiq",
    "srgb_to_linear",
    "transfer_luminance",
    "yiq_to_rgb",
]
