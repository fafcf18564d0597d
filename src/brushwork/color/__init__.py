"""Colour maths: colour spaces, histogram matching, colour preservation, palettes and recolouring.

Arrays are float ``(H, W, 3)`` sRGB in [0, 1] unless stated otherwise, and nothing here imports torch
except :mod:`brushwork.color.transport` (matching a stylized picture's colour and detail distributions to
a style's, on the picture's device), which is not imported with the package.
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
