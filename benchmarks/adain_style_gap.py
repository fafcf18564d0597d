"""Where the feed-forward style gap lies: per-stage style distances of feed-forward variants, side by side.

P2's style target asks the shipped decoder's pictures to be as close to the style as the textbook Gatys
optimisation (EfficientNet-Lite1 judge, benchmarks/metrics.py). This script measures, in one run on the
Gatys benchmark's three pairs (384 px), the judge's style distance at each of Lite1's stage1..stage5 as
a ratio to the textbook Gatys, for the shipped transforms and for training-free variants tried to
close the gap, plus each variant's CPU time per 512 px image relative to one AdaIN pass:

* ``adain`` / ``wct``: brushwork's two transforms, the decoder's picture as it is (``adain_transfer``,
  ``--match none``);
* ``adain, matched`` / ``wct, matched``: the same pictures with their colours and the contrast of their detail
  matched to the style's (``match_styles``; ``--match full``, brushwork's default); ``adain, colours matched``:
  the colours only (``--match colors``);
* ``wct twice``: the WCT picture stylized again;
* ``wct coarse-to-fine``: a half-resolution pass, upsampled, then stylized at full resolution;
* ``wct + decoder renorm``: the decoder's own activations (after each level's last ReLU) re-normalised
  to the mean and std they have when the decoder paints the style image's features;
* ``wct + feature refinement``: the tap's features optimised (30 Adam steps) so that Lite0's stage4 and
  stage5 Gram matrices, computed from the tap onward, match the style's, then decoded;
* ``wct, style swap, wct``: WCT, then each 3x3 patch replaced by its most similar style patch (Chen &
  Schmidt 2016), then WCT again (the swap's averaging lowers the variance the second WCT restores);
* ``whitened style swap``: Avatar-Net's style decorator (Sheng et al. 2018): both features whitened,
  the swap done between whitened patches, then coloured with the style's covariance;
* ``style blocks pasted``: a collage at the tap: each 8 x 8 cell of the AdaIN target (64 px) replaced by the
  style's cell whose 3 x 3 neighbourhood of cells (average-pooled features) correlates best, then decoded and
  matched (``--match full``); ``style blocks, content layout``: the same, keeping the target's own cell
  averages (only what varies within a cell comes from the style); ``style blocks in the plainest 40 %``: cells
  pasted only where the photo's features vary least (40 % of the cells, edges softened), AdaIN's target elsewhere;
* ``adain supersampled 1.25x`` / ``1.5x``, ``wct supersampled 1.5x``: the photo enlarged by that factor, stylized,
  reduced back to its size (antialiased) and matched (``--match full``): the decoder's strokes come out finer.

The variants that call the decoder directly pad the content to the decoder's grid and crop the result,
as ``adain_transfer`` does.

Usage: ``python benchmarks/adain_style_gap.py`` (about 3 minutes on 2 cores); writes the
``adain-style-gap`` block of BENCHMARKS.md.

``--styles FILE...`` measures instead, on each given style with the benchmark's three photos, the shipped
transforms with and without the colour and detail match (``--match none`` / ``full``) and the collage in the
photo's plainest 40 % of cells against the textbook Gatys, and writes the ``adain-match-styles`` block: whether
the match (and the collage) help beyond the one painting of the benchmark. The block written with paintings from ``brushwork data fetch wesnoth-art`` and a texture from
``gimp-patterns`` (about 8 minutes):
``python benchmarks/adain_style_gap.py --styles $BRUSHWORK_DATA/wesnoth-art/images/00238_grim-altar.jpg
$BRUSHWORK_DATA/wesnoth-art/images/00244_landscape-coast.jpg
$BRUSHWORK_DATA/wesnoth-art/images/00250_landscape-mountains-04.jpg
$BRUSHWORK_DATA/gimp-patterns/images/00046_burlwood.png``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from adain_vs_original import quality_pairs  # noqa: E402
from common import update_benchmarks_md  # noqa: E402
from metrics import STYLE_TAPS, Judge  # noqa: E402
from textbook_gatys import textbook_gatys  # noqa: E402

from brushwork.functional import adain, gram_matrix, mean_cov, wct, wct_matrix  # noqa: E402
from brushwork.models.adain import AdaINNet  # noqa: E402
from brushwork.models.efficientnet_lite import _same_pad_conv2d  # noqa: E402
from brushwork.models.encoders import ENCODERS  # noqa: E402
from brushwork.pipelines.adain import _pad_to_multiple, adain_transfer, match_styles  # noqa: E402
from brushwork.weights import load_decoder, load_encoder  # noqa: E402


def _half(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True, align_corners=False)


def _tail(enc, z: torch.Tensor, last: int) -> dict[int, torch.Tensor]:
    """Lite0 from ``block5.expand`` (the shipped tap; block 5 has no skip) to block ``last``."""
    conv, blocks, out = _same_pad_conv2d, enc.net._blocks, {}
    b = blocks[5]
    h = b._bn2(conv(b._project_conv, F.relu6(b._bn1(conv(b._depthwise_conv, z)))))
    for i in range(6, last + 1):
        blk, inp, a = blocks[i], h, blocks[i]._block_args
        if a.expand_ratio != 1:
            h = F.relu6(blk._bn0(conv(blk._expand_conv, inp)))
        h = blk._bn2(conv(blk._project_conv, F.relu6(blk._bn1(conv(blk._depthwise_conv, h)))))
        if a.id_skip and a.stride == 1 and a.input_filters == a.output_filters:
            h = h + inp
        out[i] = h
    return out


def _style_swap(c: torch.Tensor, s: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Each k x k patch of ``c`` replaced by the style patch of highest normalised correlation."""
    patches = F.unfold(s, k).transpose(1, 2)[0]  # (N, C k k)
    filt = patches.view(-1, s.shape[1], k, k)
    score = F.conv2d(F.pad(c, (k // 2,) * 4, mode="reflect"), filt / patches.norm(dim=1).clamp_min(1e-8)[:, None, None, None])
    idx = score.argmax(1).flatten()
    out = F.fold(patches[idx].T[None], c.shape[-2:], k, padding=k // 2)
    return out / F.fold(torch.ones(1, k * k, idx.numel()), c.shape[-2:], k, padding=k // 2)


def _cell_means(f: torch.Tensor, cell: int) -> torch.Tensor:
    """Each ``cell`` x ``cell`` cell's average, spread back smoothly over the grid."""
    return F.interpolate(F.avg_pool2d(f, cell, ceil_mode=True), size=f.shape[-2:], mode="bilinear", align_corners=False)


def _paste_cells(t: torch.Tensor, fs: torch.Tensor, cell: int, k: int = 3) -> torch.Tensor:
    """``t`` with each whole ``cell`` x ``cell`` cell replaced by the style features' cell whose k x k neighbourhood
    of cell averages has the highest normalised correlation with the cell's own (a collage of the style)."""
    hs, ws = fs.shape[-2] // cell, fs.shape[-1] // cell
    hc, wc = t.shape[-2] // cell, t.shape[-1] // cell
    ch = fs.shape[1]

    def neighbourhoods(f: torch.Tensor) -> torch.Tensor:
        n = F.unfold(F.avg_pool2d(f, cell), k, padding=k // 2).transpose(1, 2)[0]  # (cells, C k k)
        return n / n.norm(dim=1, keepdim=True).clamp_min(1e-8)

    idx = (neighbourhoods(t[..., :hc * cell, :wc * cell]) @ neighbourhoods(fs[..., :hs * cell, :ws * cell]).T).argmax(1)
    cells = fs[..., :hs * cell, :ws * cell].unfold(2, cell, cell).unfold(3, cell, cell).reshape(1, ch, hs * ws, cell, cell)
    out = t.clone()
    out[..., :hc * cell, :wc * cell] = (cells[:, :, idx].reshape(1, ch, hc, wc, cell, cell).permute(0, 1, 2, 4, 3, 5)
                                        .reshape(1, ch, hc * cell, wc * cell))
    return out


def _plainest_cells(f: torch.Tensor, cell: int, share: float) -> torch.Tensor:
    """``(1, 1, H, W)`` weights, 1 over the ``share`` of whole cells where ``f`` varies least (the photo's plainest
    parts: sky, walls, blur), 0 elsewhere, softened by a 5 x 5 box at the feature grid."""
    h, w = f.shape[-2] // cell * cell, f.shape[-1] // cell * cell
    g = f[..., :h, :w]
    spread = F.avg_pool2d((g - F.interpolate(F.avg_pool2d(g, cell), scale_factor=cell)).pow(2).mean(1, keepdim=True), cell)
    gate = F.interpolate((spread <= torch.quantile(spread.flatten(), share)).float(), scale_factor=cell)
    gate = F.avg_pool2d(F.pad(gate, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
    return F.pad(gate, (0, f.shape[-1] - w, 0, f.shape[-2] - h))


def _padded(fn):
    """``fn(c, s)`` on ``c`` padded to the decoder's grid, cropped back (as adain_transfer does)."""
    def run(self, c, s):
        x, h, w = _pad_to_multiple(c, self.net.align)
        return fn(self, x, s)[..., :h, :w]
    return run


def _map(mat: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    b, ch, h, w = f.shape
    return (mat @ f.reshape(b, ch, h * w)).reshape(b, ch, h, w)


def _whiten(f: torch.Tensor) -> torch.Tensor:
    """``f`` centred, with identity covariance: ``wct_matrix(cov, I) = cov^(-1/2)``."""
    mean, cov = mean_cov(f)
    return _map(wct_matrix(cov, torch.eye(cov.shape[-1])[None]), f - mean)


def _colour(white: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Whitened features given ``style``'s covariance and mean: ``wct_matrix(I, cov_s) ~ cov_s^(1/2)``."""
    mean, cov = mean_cov(style)
    return _map(wct_matrix(torch.eye(cov.shape[-1])[None], cov), white) + mean


class Variants:
    def __init__(self) -> None:
        self.enc = load_encoder("efficientnet-lite0")
        self.net = AdaINNet(self.enc, load_decoder())
        self.ends = self.enc._stage_ends  # stage4 ends at block 7, stage5 at block 10

    def plain(self, transform: str):
        return lambda c, s: adain_transfer(self.net, c, [s], tile=None, transform=transform)

    def matched(self, transform: str, match: str = "full"):
        return lambda c, s: match_styles(adain_transfer(self.net, c, [s], tile=None, transform=transform), [s],
                                         match=match)[0]

    def twice(self, c, s):
        return self.plain("wct")(self.plain("wct")(c, s), s)

    def coarse_to_fine(self, c, s):
        up = F.interpolate(self.plain("wct")(_half(c), _half(s)), size=c.shape[-2:], mode="bilinear", align_corners=False)
        return self.plain("wct")(up, s)

    @_padded
    def decoder_renorm(self, c, s):
        dec = self.net.decoder.net
        relus = [m for m in dec if isinstance(m, nn.ReLU)][1::2]  # each level's last ReLU
        stats: dict[int, tuple] = {}

        def record(i):
            return lambda _m, _i, y: stats.__setitem__(i, (y.mean((2, 3), keepdim=True), y.std((2, 3), keepdim=True)))

        def renorm(i):
            def hook(_m, _i, y):
                m, sd = stats[i]
                return (y - y.mean((2, 3), keepdim=True)) / (y.std((2, 3), keepdim=True) + 1e-5) * sd + m
            return hook

        fs = self.net.features(s)
        handles = [r.register_forward_hook(record(i)) for i, r in enumerate(relus)]
        self.net.decoder(fs)
        for h in handles:
            h.remove()
        handles = [r.register_forward_hook(renorm(i)) for i, r in enumerate(relus)]
        try:
            return self.net.decoder(wct(self.net.features(c), fs)).clamp(0, 1)
        finally:
            for h in handles:
                h.remove()

    @_padded
    def refine(self, c, s, steps: int = 30):
        fs = self.net.features(s)
        z0 = wct(self.net.features(c), fs)
        keys = self.ends[3], self.ends[4]
        target = {k: gram_matrix(f) for k, f in _tail(self.enc, fs, keys[1]).items() if k in keys}
        z = z0.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=0.05)
        with torch.enable_grad():
            for _ in range(steps):
                opt.zero_grad()
                feats = _tail(self.enc, z, keys[1])
                loss = sum((gram_matrix(feats[k]) - target[k]).pow(2).sum() / target[k].pow(2).sum() for k in keys)
                (loss + (z - z0).pow(2).sum() / z0.pow(2).sum()).backward()
                opt.step()
        return self.net.decoder(z.detach()).clamp(0, 1)

    @_padded
    def swap(self, c, s):
        fs = self.net.features(s)
        return self.net.decoder(wct(_style_swap(wct(self.net.features(c), fs), fs), fs)).clamp(0, 1)

    def blocks(self, keep_layout: bool = False, cell: int = 8, share: float = 1.0):
        @_padded
        def paint(self, c, s):
            fc, fs = self.net.features(c), self.net.features(s)
            t = adain(fc, fs)
            pasted = _paste_cells(t, fs, cell)
            if keep_layout:
                pasted = _cell_means(t, cell) + pasted - _cell_means(pasted, cell)
            if share < 1.0:
                pasted = t + _plainest_cells(fc, cell, share) * (pasted - t)
            return self.net.decoder(pasted).clamp(0, 1)
        return lambda c, s: match_styles(paint(self, c, s), [s])[0]

    def supersampled(self, factor: float, transform: str = "adain"):
        """The photo enlarged ``factor`` times, stylized, brought back to its size (antialiased), then matched."""
        def paint(c, s):
            big = F.interpolate(c, scale_factor=factor, mode="bilinear", antialias=True, align_corners=False)
            y = F.interpolate(self.plain(transform)(big, s), size=c.shape[-2:], mode="bicubic", antialias=True,
                              align_corners=False).clamp(0, 1)
            return match_styles(y, [s])[0]
        return paint

    @_padded
    def decorator(self, c, s):
        fc, fs = self.net.features(c), self.net.features(s)
        return self.net.decoder(_colour(_style_swap(_whiten(fc), _whiten(fs)), fs)).clamp(0, 1)

    def all(self) -> dict:
        return {"adain": self.plain("adain"), "wct": self.plain("wct"), "adain, matched (default)": self.matched("adain"),
                "adain, colours matched": self.matched("adain", "colors"), "wct, matched": self.matched("wct"), "wct twice": self.twice,
                "wct coarse-to-fine": self.coarse_to_fine, "wct + decoder renorm": self.decoder_renorm,
                "wct + feature refinement": self.refine, "wct, style swap, wct": self.swap,
                "whitened style swap": self.decorator, "style blocks pasted, matched": self.blocks(),
                "style blocks, content layout, matched": self.blocks(keep_layout=True),
                "style blocks in the plainest 40 %, matched": self.blocks(share=0.4),
                "adain supersampled 1.25x, matched": self.supersampled(1.25),
                "adain supersampled 1.5x, matched": self.supersampled(1.5),
                "wct supersampled 1.5x, matched": self.supersampled(1.5, "wct")}


def seconds_512(fn, rounds: int) -> float:
    gen = torch.Generator().manual_seed(0)
    c, s = torch.rand(1, 3, 512, 512, generator=gen), torch.rand(1, 3, 512, 512, generator=gen)
    times = []
    for _ in range(rounds + 1):  # the first call warms up
        t = time.perf_counter()
        with torch.no_grad():
            fn(c, s)
        times.append(time.perf_counter() - t)
    return float(np.median(times[1:]))


def _write_block(name: str, title: str, command: str, what: str, columns: list[str], rows: list[str]) -> None:
    """Write (and print) a BENCHMARKS.md block: its title, how and on what it was measured, and a table."""
    section = "\n".join([
        f"<!-- {name}:start -->",
        f"### {title}",
        "",
        f"Measured {date.today()} by {command} on {platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}: {what}",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *rows,
        f"<!-- {name}:end -->",
    ])
    update_benchmarks_md(name, section)
    print(section)


def more_styles(paths: list[str], size: int) -> None:
    from common import load_resized

    v = Variants()
    spec = ENCODERS["efficientnet-lite0"]
    judge = Judge("efficientnet-lite1")
    photos = [(n, c) for n, c, _ in quality_pairs(size)]
    names = {"adain": "AdaIN, none", "adain, matched (default)": "AdaIN, full", "wct": "WCT, none",
             "wct, matched": "WCT, full", "style blocks in the plainest 40 %, matched": "collage in the plainest 40 %",
             "adain supersampled 1.25x, matched": "AdaIN 1.25x supersampled, full",
             "wct supersampled 1.5x, matched": "WCT 1.5x supersampled, full"}
    every = v.all()
    fns = {k: every[k] for k in names}
    rows = []
    for path in paths:
        s = load_resized(Path(path), size)
        res: dict[str, list[dict]] = {k: [] for k in ["base", *fns]}
        for _, c in photos:
            res["base"].append(judge(textbook_gatys(v.enc, c, s, spec.style_taps, spec.content_taps), c, s))
            with torch.no_grad():
                for k, fn in fns.items():
                    res[k].append(judge(fn(c, s), c, s))
        b_style = np.mean([r["style"] for r in res["base"]])
        b_content = np.mean([r["content"] for r in res["base"]])
        if not np.isfinite(b_style):
            print(f"{path}: the textbook Gatys diverged (NaN): left out", flush=True)
            continue
        wins = sum(m["style"] < p["style"] for k in ("adain", "wct")
                   for p, m in zip(res[k], res["adain, matched (default)" if k == "adain" else "wct, matched"]))
        rows.append(f"| {Path(path).name} | " + " | ".join(
            f"{np.mean([r['style'] for r in res[k]]) / b_style:.2f}x / {np.mean([r['content'] for r in res[k]]) / b_content:.2f}x"
            for k in fns) + f" | {wins} of {2 * len(photos)} |")
        print(rows[-1], flush=True)
    _write_block("adain-match-styles", "The colour and detail match beyond the benchmark's painting (P2)",
                 "`python benchmarks/adain_style_gap.py --styles ...`", "each style with the Gatys benchmark's "
                 f"three photos at {size} px; style / content distance as ratios to the textbook Gatys on the same "
                 "pairs (EfficientNet-Lite1 judge, lower is better), means over the photos; the last column counts "
                 "the pairs (AdaIN and WCT, each photo) where `--match full` is closer to the style than `--match none`.",
                 ["style", *names.values(), "closer with the match"], rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--styles", nargs="+", metavar="FILE", help="measure the match on these styles instead")
    args = ap.parse_args(argv)
    if args.styles:
        more_styles(args.styles, args.size)
        return
    v = Variants()
    spec = ENCODERS["efficientnet-lite0"]
    judge = Judge("efficientnet-lite1")
    pairs = quality_pairs(args.size)
    base = [judge(textbook_gatys(v.enc, c, s, spec.style_taps, spec.content_taps), c, s) for _, c, s in pairs]
    b_stages = np.mean([b["style_stages"] for b in base], axis=0)
    b_style, b_content = np.mean([b["style"] for b in base]), np.mean([b["content"] for b in base])
    rows, t_adain = [], None
    for label, fn in v.all().items():
        with torch.no_grad():
            scores = [judge(fn(c, s), c, s) for _, c, s in pairs]
        sec = seconds_512(fn, args.rounds)
        t_adain = t_adain or sec
        stages = np.mean([o["style_stages"] for o in scores], axis=0) / b_stages
        rows.append(f"| {label} | {np.mean([o['style'] for o in scores]) / b_style:.2f}x | "
                    + " | ".join(f"{x:.2f}" for x in stages)
                    + f" | {np.mean([o['content'] for o in scores]) / b_content:.2f}x | {sec:.2f} s ({sec / t_adain:.1f}x) |")
        print(rows[-1], flush=True)
    _write_block("adain-style-gap", "Where the feed-forward style gap lies (P2)",
                 "`python benchmarks/adain_style_gap.py`", "the shipped decoder, the Gatys benchmark's "
                 f"three pairs at {args.size} px, EfficientNet-Lite1 judge; style and content distances as ratios to the "
                 "textbook Gatys in the same run (lower is better), then the style ratio at each Lite1 stage (the "
                 f"textbook's own distances there: {', '.join(f'{x:.2f}' for x in b_stages)}, so stage4 and stage5 "
                 "weigh most); time per 512 px image on the CPU and its ratio to one AdaIN pass.",
                 ["variant", "style", *STYLE_TAPS, "content", "time per 512 px image"], rows)


if __name__ == "__main__":
    main()
