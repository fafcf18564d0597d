"""Composition: saliency, thirds and golden-ratio alignment, balance, horizon tilt, crop suggestions."""

from .analysis import READ_SIDE, Composition, Crop, analyze, parse_ratio, saliency_map, suggest_crops, working_saliency

__all__ = ["READ_SIDE", "Composition", "Crop", "analyze", "parse_ratio", "saliency_map", "suggest_crops", "working_saliency"]
