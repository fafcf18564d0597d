"""Training: one generic engine (``engine.Trainer``) and recipes per model."""

from .engine import Callback, Trainer, TrainerConfig

__all__ = ["Callback", "Trainer", "TrainerConfig"]
