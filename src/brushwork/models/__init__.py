"""Neural network modules only: they never read files or download anything (see ``weights.py``)."""

from .encoders import ENCODERS, EncoderSpec, FeatureEncoder, build_encoder

__all__ = ["ENCODERS", "EncoderSpec", "FeatureEncoder", "build_encoder"]
