"""Originality and provenance: every output's recipe (written into the file), exact reproduction."""

from .recipe import environment, file_sha256, read_recipe

__all__ = ["environment", "file_sha256", "read_recipe"]
