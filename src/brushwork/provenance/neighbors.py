"""Nearest neighbours in an image-embedding space: "which training image is this sample closest to?"

Embeddings are EfficientNet-Lite0's pooled last-block features at 224 px (the same features as the
GAN's FID and KID), L2-normalised, compared by cosine similarity. Measured on 8 of scikit-image's sample
pictures at 256 px: an exact copy scores 1.0; saved as JPEG quality 75, 0.84-1.00 (median 0.98);
halved and enlarged again, 0.90-1.00; a 10% crop, 0.93-0.99; rotated 5 degrees, 0.81-0.98; and
different pictures 0.02-0.37 (median 0.04). Hence the copy threshold of 0.90 (the originality index of
issue P6 will tune its thresholds on constructed cases). The GAN's memorisation check uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EmbeddingIndex", "embed", "normalise", "memorisation", "COPY_SIMILARITY"]

COPY_SIMILARITY = 0.90  # at or above: the sample is (nearly) a copy of that training image


def normalise(f: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32)."""
    f = np.asarray(f, dtype=np.float32)
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def embed(images: np.ndarray, encoder=None) -> np.ndarray:
    """L2-normalised embeddings ``(N, 320)`` of ``uint8 (N, H, W, 3)`` images."""
    from ..pipelines.gan import features

    return normalise(features(images, encoder))


@dataclass
class EmbeddingIndex:
    """Normalised embeddings with a name per row; exact (brute-force) search, fine to ~10^5 rows."""

    vectors: np.ndarray  # (N, d), unit rows
    names: list[str]

    def query(self, q: np.ndarray, k: int = 1, *, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarities and indices of the ``k`` nearest rows for each query row ``(M, d)``,
        best first. ``exclude_self``: the queries are this index's own rows (leave-one-out)."""
        k = min(k, len(self.vectors) - int(exclude_self))
        out_s, out_i = [], []
        for start in range(0, len(q), 1024):  # in chunks: 60,000 x 60,000 similarities would not fit
            sims = q[start:start + 1024] @ self.vectors.T
            if exclude_self:
                rows = np.arange(len(sims))
                sims[rows, rows + start] = -np.inf
            part = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else np.tile(
                np.arange(sims.shape[1]), (len(sims), 1))
            top = np.take_along_axis(sims, part, axis=1)
            order = np.argsort(-top, axis=1, kind="stable")
            out_i.append(np.take_along_axis(part, order, axis=1))
            out_s.append(np.take_along_axis(top, order, axis=1))
        return np.concatenate(out_s), np.concatenate(out_i)


def memorisation(samples: np.ndarray, index: EmbeddingIndex, *, threshold: float = COPY_SIMILARITY) -> dict:
    """How close generated images (their embeddings, ``(M, d)``) come to the training images.

    Returns the nearest training image of each sample with its similarity, the number of samples at
    or above ``threshold`` (copies), and for scale the same nearest-neighbour similarity among the
    training images themselves (each against the others): a generator that memorises sits near 1.0,
    above the training set's own level (measured on up to 5,000 of its images, each against the others);
    one that generalises sits at or below it.
    """
    sims, idx = index.query(samples, 1)
    if len(index.vectors) > 1:  # the training set's own level, from (at most) 5,000 of its images
        pick = np.linspace(0, len(index.vectors) - 1, min(5000, len(index.vectors))).astype(int)
        sub = EmbeddingIndex(index.vectors[pick], [index.names[i] for i in pick])
        own = sub.query(sub.vectors, 1, exclude_self=True)[0][:, 0]
    else:
        own = np.ones(1)
    return {
        "nearest": [{"training_image": index.names[int(i)], "similarity": float(s)} for s, i in zip(sims[:, 0], idx[:, 0])],
        "median_similarity": float(np.median(sims[:, 0])),
        "max_similarity": float(sims[:, 0].max()),
        "copies": int((sims[:, 0] >= threshold).sum()),
        "threshold": threshold,
        "training_median_similarity": float(np.median(own)),
    }
