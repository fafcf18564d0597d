"""Inference pipelines: one call each, returning a dataclass result."""
