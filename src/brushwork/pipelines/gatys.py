"""Optimisation-based style transfer (Gatys, Ecker & Bethge, CVPR 2016), tuned for small encoders.

The image is optimised so that its encoder features keep the content's structure while their
statistics match the style's. Departures from the paper, each measured (see docs/style-transfer.md):

* **Relative losses.** Each style layer's loss is ``||G(x) - G(s)||^2 / ||G(s)||^2`` and the content
  loss ``||F(x) - F(c)||^2 / ||F(c)||^2``. The paper's absolute losses need per-encoder weights spanning
  orders of magnitude; relative losses make one set of weights work across layers and encoders.
* **Taps inside the blocks** for EfficientNet-Lite: the ReLU6 activations after the 1x1 expansions
  rather than the linear block outputs (see ``models/efficientnet_lite.py``).
* **Coarse-to-fine**: solve at a fraction of the size, upsample, refine. Most iterations run on few
  pixels, and structure settles at the coarse scale, which suppresses high-frequency speckle.
* **Total variation** regularisation, as in Johnson et al. 2016 and Mahendran & Vedaldi 2015.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F

from ..errors import BrushworkError
from ..functional import gram_matrix, masked_gram_matrix, mean_std, opaque_positions
from ..imaging.resampling import fit_long_side, resize
from ..losses import content_loss, gram_loss, mean_std_loss, total_variation
from ..models.encoders import FeatureEncoder

__all__ = ["GatysConfig", "GATYS_PRESETS", "gatys_config_for", "optimize"]


@dataclass(frozen=True)
class GatysConfig:
    """Everything that defines a Gatys run besides the images.

    Attributes:
        style_taps: encoder taps whose Gram matrices (and/or mean/std) are matched.
        style_tap_weights: one weight per style tap (normalised to sum to 1).
        content_taps: taps whose features are kept close to the content's.
        style_loss: ``"gram"``, ``"meanstd"`` or ``"gram+meanstd"``.
        relative: relative (scale-free) losses; ``False`` gives the textbook absolute ones.
        content_weight / style_weight: base weights; ``strength`` a in [0, 1] scales them (see
            :func:`strength_weights`): from 0.5 up as ``(1 - a) * content_weight`` and ``a * style_weight``.
        tv_weight: total-variation weight (on the unclamped image, so that it also pulls pixels that
            overshoot [0, 1] back: through the clamp they get no gradient from the encoder).
        range_weight: weight of a squared penalty on values outside [0, 1]; without it, channels
            that overshoot stay stuck and show as saturated single-pixel specks.
        optimizer: ``"lbfgs"`` or ``"adam"``.
        steps: function evaluations at the finest scale (L-BFGS) or Adam steps.
        coarse_steps: evaluations at each coarser scale.
        scales: number of scales (1 = single scale); each coarser one is half the size.
        lr: step size (Adam) or initial step (L-BFGS); None takes 1.0 for L-BFGS (with the strong-Wolfe
            line search) and 0.02 for Adam.
        history_size: L-BFGS memory (the most); each entry holds two image-sized vectors, so for
            large images it is lowered to keep them within ``history_bytes`` (at least 5).
        history_bytes: memory budget of the L-BFGS history.
    """

    style_taps: tuple[str, ...]
    style_tap_weights: tuple[float, ...]
    content_taps: tuple[str, ...]
    style_loss: str = "gram"
    relative: bool = True
    content_weight: float = 1.0
    style_weight: float = 50.0
    tv_weight: float = 3.0
    range_weight: float = 100.0
    optimizer: str = "lbfgs"
    steps: int = 40
    coarse_steps: int = 80
    scales: int = 3
    lr: float | None = None
    history_size: int = 20
    history_bytes: int = 256 * 2**20

    def __post_init__(self) -> None:
        if len(self.style_taps) != len(self.style_tap_weights):
            raise ValueError("style_taps and style_tap_weights need the same length")
        if self.style_loss not in ("gram", "meanstd", "gram+meanstd"):
            raise ValueError(f"style_loss must be gram, meanstd or gram+meanstd, got {self.style_loss!r}")
        if self.optimizer not in ("lbfgs", "adam"):
            raise ValueError(f"optimizer must be lbfgs or adam, got {self.optimizer!r}")


#: Taps per encoder. The loss weights and schedule are GatysConfig's defaults, tuned on Lite0 (how:
#: docs/style-transfer.md). Encoders without a preset (VGG, ResNet: no weights offline to tune with)
#: use their registry taps with equal weights and the same defaults, which the relative losses make a
#: reasonable start.
GATYS_PRESETS: dict[str, GatysConfig] = {
    "efficientnet-lite0": GatysConfig(
        style_taps=("stem", "block1.expand", "block3.expand", "block5.expand", "block8.expand"),
        style_tap_weights=(1.0, 1.0, 1.0, 1.0, 1.0),
        content_taps=("block8.expand",),
    ),
}


def gatys_config_for(encoder_name: str, spec_style_taps: Sequence[str], spec_content_taps: Sequence[str]) -> GatysConfig:
    """The preset for ``encoder_name``, or a generic one built from the encoder's registry taps."""
    if encoder_name in GATYS_PRESETS:
        return GATYS_PRESETS[encoder_name]
    return GatysConfig(
        style_taps=tuple(spec_style_taps),
        style_tap_weights=tuple(1.0 for _ in spec_style_taps),
        content_taps=tuple(spec_content_taps),
    )


@dataclass
class _StyleTarget:
    grams: dict[str, torch.Tensor]
    means: dict[str, torch.Tensor]
    stds: dict[str, torch.Tensor]
    weight: float
    mask: torch.Tensor | None  # (1, 1, H, W) at the current scale, or None for everywhere


class Interrupted(Exception):
    """Raised inside the optimiser loop to stop early (e.g. on Ctrl-C); the best image is kept."""


class _BudgetSpent(Exception):
    """Raised by the closure once a scale's evaluations are spent: L-BFGS checks ``max_eval`` only between
    its iterations, so a line search could otherwise run a few evaluations past it."""


def _style_targets(
    encoder: FeatureEncoder, style: torch.Tensor, taps: Sequence[str], alpha: torch.Tensor | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Each tap's Gram matrix, mean and std of a style: where it is opaque, if it has an ``alpha (1, 1, H, W)``."""
    with torch.no_grad():
        feats = encoder(style, taps)
    masks = {t: opaque_positions(alpha, f.shape[-2:]) for t, f in feats.items()}
    grams = {t: gram_matrix(f) if masks[t] is None else masked_gram_matrix(f, masks[t]) for t, f in feats.items()}
    stats = {t: mean_std(f, mask=masks[t]) for t, f in feats.items()}
    return grams, {t: m for t, (m, _) in stats.items()}, {t: sd for t, (_, sd) in stats.items()}


def _scale_sizes(width: int, height: int, scales: int, min_side: int = 64) -> list[tuple[int, int]]:
    sizes = []
    for k in range(scales - 1, -1, -1):
        w, h = max(1, round(width / 2**k)), max(1, round(height / 2**k))
        if min(w, h) >= min_side or k == 0:
            sizes.append((w, h))
    return sizes


def optimize(
    encoder: FeatureEncoder,
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    *,
    config: GatysConfig,
    strength: float = 0.5,
    style_weights: Sequence[float] | None = None,
    masks: Sequence[torch.Tensor | None] | None = None,
    style_alphas: Sequence[torch.Tensor | None] | None = None,
    init: str | torch.Tensor = "content",
    generator: torch.Generator | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[torch.Tensor, dict]:
    """Optimise an image. Pure tensor function: no file I/O, inputs are not modified.

    Args:
        encoder: a frozen feature encoder in eval mode.
        content: ``(1, 3, H, W)`` in [0, 1] at the output size.
        styles: ``(1, 3, H_i, W_i)`` in [0, 1] each, already at the scale to match (their long side
            is usually the content's).
        config: the losses, taps and schedule.
        strength: a in [0, 1]; 0 reproduces the content, 1 is style only.
        style_weights: one per style, normalised to sum to 1 (default equal).
        masks: one per style, ``(1, 1, H, W)`` in [0, 1] or None (= everywhere).
        style_alphas: one per style, its alpha ``(1, 1, H_i, W_i)`` or None (opaque): a style's Grams and
            statistics are those of where it is opaque, not of the backdrop around a drawing.
        init: ``"content"``, ``"noise"`` (uniform noise from ``generator``), or a starting image
            ``(1, 3, H, W)`` in [0, 1] (e.g. a feed-forward stylization), resized for the coarse scales.
        on_step: called as ``on_step(evaluations_done, total_evaluations, loss)``.
        should_stop: polled every evaluation; returning True stops early.

    Returns:
        ``(image, info)``: the image with the lowest loss seen at the finest scale ``(1, 3, H, W)``,
        and a dict with ``losses`` (per evaluation), ``evaluations``, ``interrupted``, ``seconds``.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    n = len(styles)
    weights = list(style_weights) if style_weights is not None else [1.0] * n
    if len(weights) != n:
        raise ValueError(f"{n} styles but {len(weights)} style weights")
    total_w = sum(weights)
    if total_w <= 0 or any(w < 0 for w in weights):
        raise ValueError("style weights must be non-negative with a positive sum")
    weights = [w / total_w for w in weights]
    masks = list(masks) if masks is not None else [None] * n
    style_alphas = list(style_alphas) if style_alphas is not None else [None] * n
    if len(style_alphas) != n:
        raise ValueError(f"{n} styles but {len(style_alphas)} style alphas")
    tap_w = torch.tensor(config.style_tap_weights, dtype=torch.float64)
    tap_w = (tap_w / tap_w.sum()).tolist()
    tap_weight = dict(zip(config.style_taps, tap_w))
    all_taps = list(dict.fromkeys([*config.style_taps, *config.content_taps]))

    if strength == 0.0:  # "keep the content": nothing to optimise
        info = {"losses": [], "evaluations": 0, "interrupted": False, "seconds": 0.0, "scales": [],
                "config": asdict(config)}
        return content.detach().clone(), info
    cw, sw = strength_weights(strength, config)
    # TV smooths the style's grain; below the default strength it fades with the style, or near 0 it would blur the
    # photo that the vanishing style no longer changes (strength 0.0001 came out further from it than 0.01)
    tv = config.tv_weight * min(1.0, strength / 0.5)
    height, width = content.shape[-2:]
    sizes = _scale_sizes(width, height, config.scales)
    steps_per_scale = [config.coarse_steps] * (len(sizes) - 1) + [config.steps]
    total_evals = sum(steps_per_scale)
    losses: list[float] = []
    done = 0
    interrupted = False
    t0 = time.perf_counter()
    x = None

    for (w, h), steps in zip(sizes, steps_per_scale):
        try:  # a Ctrl-C while the next scale is prepared keeps the finished scales' picture
            c = resize(content, (w, h))
            scale = w / width
            targets = []
            for s, sw_i, m, sa in zip(styles, weights, masks, style_alphas):
                s_w, s_h = fit_long_side(s.shape[-1], s.shape[-2], max(2, round(max(s.shape[-2:]) * scale)))
                grams, means, stds = _style_targets(encoder, resize(s, (s_w, s_h)), config.style_taps,
                                                    None if sa is None else resize(sa, (s_w, s_h)).clamp(0, 1))
                mm = None if m is None else F.interpolate(m, size=(h, w), mode="area")
                targets.append(_StyleTarget(grams, means, stds, sw_i, mm))
            with torch.no_grad():
                c_feats = encoder(c, config.content_taps)
            if x is None:
                if isinstance(init, torch.Tensor):
                    if init.shape[-2:] != content.shape[-2:] or init.shape[:2] != (1, 3):
                        raise ValueError(f"an init image must be (1, 3, {height}, {width}), got {tuple(init.shape)}")
                    start = resize(init.to(c), (w, h))
                elif init == "noise":
                    start = torch.rand(c.shape, generator=generator, device="cpu").to(c)
                elif init == "content":
                    start = c
                else:
                    raise ValueError(f"init must be 'content', 'noise' or an image tensor, got {init!r}")
            else:
                start = resize(x.detach(), (w, h))
            x = start.detach().clone().requires_grad_(True)
            best_loss = math.inf
            best = x.detach().clone()
        except KeyboardInterrupt:
            if not losses:  # nothing painted yet
                raise
            interrupted = True
            break

        def loss_fn() -> torch.Tensor:
            xc = x.clamp(0.0, 1.0)
            feats = encoder(xc, all_taps)
            loss = xc.new_zeros(())
            if cw > 0:
                for t in config.content_taps:
                    loss = loss + cw / len(config.content_taps) * content_loss(
                        feats[t], c_feats[t], relative=config.relative)
            if sw > 0:
                for tgt in targets:
                    for t in config.style_taps:
                        f = feats[t]
                        lw = sw * tgt.weight * tap_weight[t]
                        if "gram" in config.style_loss:
                            loss = loss + lw * gram_loss(f, tgt.grams[t], relative=config.relative, mask=tgt.mask)
                        if "meanstd" in config.style_loss:
                            loss = loss + lw * mean_std_loss(f, tgt.means[t], tgt.stds[t], mask=tgt.mask)
            if tv > 0:
                loss = loss + tv * total_variation(x)
            if config.range_weight > 0:
                loss = loss + config.range_weight * (x - xc).pow(2).mean()
            return loss

        evals = 0

        def closure() -> torch.Tensor:
            nonlocal evals, done, best_loss, best
            if should_stop is not None and should_stop():
                raise Interrupted
            if evals >= steps:
                raise _BudgetSpent
            opt.zero_grad(set_to_none=True)
            loss = loss_fn()
            loss.backward()
            val = float(loss.detach())
            if not losses and not math.isfinite(val):  # (the optimiser would go on with nothing to follow)
                raise BrushworkError(
                    f"the loss is not finite from the start ({val}): the weights are too large (content "
                    f"{config.content_weight:g}, style {config.style_weight:g}, tv {config.tv_weight:g}); use values "
                    "near the preset's (--content-weight, --style-weight, --tv-weight)")
            if val < best_loss:
                best_loss = val
                best = x.detach().clamp(0.0, 1.0).clone()
            losses.append(val)
            evals += 1
            done += 1
            if on_step is not None:
                on_step(done, total_evals, val)
            return loss

        if config.optimizer == "lbfgs":
            # At 2048 px one history entry is ~67 MB; 20 of them were a quarter of the peak memory.
            history = min(config.history_size, max(5, config.history_bytes // (2 * x.numel() * x.element_size())))
            opt = torch.optim.LBFGS(
                [x], lr=1.0 if config.lr is None else config.lr, max_iter=steps, max_eval=steps, history_size=history,
                tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="strong_wolfe",
            )
        else:
            opt = torch.optim.Adam([x], lr=0.02 if config.lr is None else config.lr)
        try:
            if config.optimizer == "lbfgs":
                # One call runs up to `steps` evaluations; repeat if the line search ended it early.
                while evals < steps:
                    before = evals
                    opt.step(closure)
                    if evals == before:
                        break
            else:
                for _ in range(steps):
                    opt.step(closure)
        except _BudgetSpent:
            pass
        except (Interrupted, KeyboardInterrupt):
            interrupted = True
        x = best
        if interrupted:
            break
        # Skip the remaining evaluations' share in the progress count if the optimiser converged.
        done += steps - evals

    out = resize(best, (width, height))
    info = {
        "losses": losses,
        "evaluations": len(losses),
        "interrupted": interrupted,
        "seconds": time.perf_counter() - t0,
        "scales": [list(s) for s in sizes],
        "config": asdict(config),
    }
    return out.detach(), info


#: Starting from the AdaIN picture (``init="adain"``), one scale and 20 evaluations reach the preset's style
#: (200 evaluations over three scales from the content) with a closer content: docs/style-transfer.md.
ADAIN_INIT_OVERRIDES = {"scales": 1, "steps": 20}


#: Below strength 0.5, the style weight as a fraction of strength 0.5's: log-linear between these knots
#: (strength, fraction). The optimum saturates with the ratio of the weights (see :func:`strength_weights`), so
#: the fraction moves fast where the picture hardly changes and slowly where it changes most.
STRENGTH_KNOTS = ((0.0, 1e-3), (0.1, 6e-3), (0.4, 0.15), (0.5, 1.0))


def strength_weights(strength: float, config: GatysConfig) -> tuple[float, float]:
    """The content and style weights at ``strength`` a.

    From 0.5 up, ``(1 - a) * content_weight`` and ``a * style_weight``. Below 0.5 the content weight stays at
    strength 0.5's and the style weight is strength 0.5's times a fraction log-linear between
    ``STRENGTH_KNOTS``. The optimum saturates with the ratio of the weights: measured on the bundled cat and
    painting at 192 px, the picture's mean difference from the photo was 12 levels at a ratio of 0.01 of the
    default, 31 at 0.03, 39 at 0.1 and 44 at 1. Scaled linearly (up to 0.2.5), strength 0.1 gave a ratio of
    0.11, and 0.1 to 1 all came out fully painted.
    """
    import math

    if not 0.0 <= strength <= 1.0:  # (NaN too)
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    if strength >= 0.5:
        return (1.0 - strength) * config.content_weight, strength * config.style_weight
    for (x0, f0), (x1, f1) in zip(STRENGTH_KNOTS, STRENGTH_KNOTS[1:]):
        if x0 <= strength <= x1:
            t = (strength - x0) / (x1 - x0)
            fraction = 10 ** ((1 - t) * math.log10(f0) + t * math.log10(f1))
            break
    return 0.5 * config.content_weight, 0.5 * config.style_weight * fraction


def adain_init_alpha(strength: float) -> float:
    """The AdaIN strength of the starting picture for a Gatys run at ``strength``: twice it, at most 1.

    Measured at strength 0.5: a full-strength start reaches the preset's style in 20 evaluations, a
    half-strength one (the same strength) needs more than 40.
    """
    return min(1.0, 2.0 * strength)


def with_overrides(config: GatysConfig, **overrides) -> GatysConfig:
    """``config`` with the non-None ``overrides`` applied."""
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})
