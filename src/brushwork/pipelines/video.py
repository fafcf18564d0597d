"""Stylize video frames with AdaIN, steady over time.

Stylizing each frame on its own flickers in two ways:

* globally: every frame is re-normalised by its own feature statistics, which jitter as the picture
  changes. The content's mean and std per channel (with ``transform="wct"``: mean and covariance)
  follow an exponential moving average across frames, ``m_t = b m_(t-1) + (1 - b) m(frame_t)`` with
  ``b = smoothing``; so do the colour and detail maps that finish each frame (``match``, the same moving
  average of their tables);
* per pixel: the decoder paints strokes anew from features that sensor noise and small motions
  change. Each stylized frame is blended with the previous *output* warped along the optical flow
  between the two input frames (OpenCV's DIS flow), ``y_t = (1 - w) s_t + w warp(y_(t-1))``, with
  ``w = consistency`` lowered where the warp does not explain the new frame (occlusions, cuts), so
  moving content does not leave ghosts: the flow-guided blending of video-consistency work
  (e.g. Lai et al., ECCV 2018, whose baseline this is).

``smoothing=0, consistency=0`` is per-frame stylization.

Video files are read and written with imageio's ffmpeg plugin (``pip install brushwork[video]``);
a folder of frames (in the natural order of their names: ``frame_2`` before ``frame_10``) works without it.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ..color.transport import MATCHES, MatchPlan, StyleTarget, style_target
from ..errors import BrushworkError
from ..files import partial_path
from ..runtime import interrupts_deferred
from ..models.adain import TRANSFORMS, AdaINNet
from ..imaging.decode import CONVERT_SUFFIXES, REMUX_SUFFIXES, VIDEO_FILE_SUFFIXES
from ..provenance.recipe import FRAMES_MARKER  # (in a frames folder brushwork wrote)
from .adain import _pad_to_multiple, adain_transfer, match_styles

__all__ = ["stylize_frames", "FrameStylizer", "read_frames", "write_frames", "frame_files", "is_frames_folder", "VideoSource",
           "VIDEO_SUFFIXES"]

VIDEO_SUFFIXES = (*VIDEO_FILE_SUFFIXES, ".gif")


def unreadable_rate(fps: float) -> bool:
    """Whether a video file written at ``fps`` cannot be read back: ffmpeg prints a whole number of thousands as
    "1k", which its readers (imageio's, and so ``reproduce``) take for 0 fps (500, 999, 1500 read back)."""
    return fps >= 1000 and round(fps * 100) % 100_000 == 0


_FRAME_NAME = re.compile(r"frame_(\d{6})\.png")  # the names write_frames gives frames in a folder


@torch.no_grad()
def stylize_frames(
    net: AdaINNet,
    frames: Iterator[torch.Tensor],
    styles: Sequence[torch.Tensor],
    *,
    alpha: float = 1.0,
    style_weights: Sequence[float] | None = None,
    smoothing: float = 0.9,
    consistency: float = 0.7,
    tile: int | None = 1024,
    transform: str = "adain",
    match: str = "full",
    targets: Sequence[StyleTarget] | None = None,
    style_alphas: Sequence[torch.Tensor | None] | None = None,
) -> Iterator[torch.Tensor]:
    """Yield stylized frames ``(1, 3, H, W)`` for frames ``(1, 3, H, W)`` in [0, 1].

    Args:
        transform: ``"adain"`` or ``"wct"`` (see :func:`~brushwork.pipelines.adain.adain_transfer`).
        smoothing: b in [0, 1) of the moving average of the content statistics (0: per frame), and of the
            colour and detail maps of ``match``.
        match: ``"full"``, ``"colors"`` or ``"none"`` (see :func:`~brushwork.pipelines.adain.match_styles`);
            ``targets``: the styles' distributions for it (by default from the whole style images).
        style_alphas: one per style, its alpha ``(1, 1, H_i, W_i)`` or None (opaque): the AdaIN statistics are
            then those of where the style is opaque (:meth:`~brushwork.models.adain.AdaINNet.stats`).
        consistency: w in [0, 1) of the flow-guided blend with the previous output (0: none;
            needs opencv-python-headless, part of ``brushwork[video]``).
    """
    stylizer = FrameStylizer(net, styles, alpha=alpha, style_weights=style_weights, smoothing=smoothing,
                             consistency=consistency, tile=tile, transform=transform, match=match, targets=targets,
                             style_alphas=style_alphas)
    for frame in frames:
        yield stylizer(frame)


class FrameStylizer:
    """:func:`stylize_frames` one frame at a time, with a state that can be saved and restored: what each frame
    carries over to the next (the moving averages, the colour and detail maps, the previous output for the flow
    blend). ``state_dict()`` after frame n and ``load_state_dict`` in a new process make frame n + 1 as an
    unbroken run makes it, bit for bit (``brushwork video`` resumes a run stopped by Ctrl-C this way).
    Arguments as :func:`stylize_frames`."""

    def __init__(self, net: AdaINNet, styles: Sequence[torch.Tensor], *, alpha: float = 1.0,
                 style_weights: Sequence[float] | None = None, smoothing: float = 0.9, consistency: float = 0.7,
                 tile: int | None = 1024, transform: str = "adain", match: str = "full",
                 targets: Sequence[StyleTarget] | None = None,
                 style_alphas: Sequence[torch.Tensor | None] | None = None, paint_tile: int | None = None) -> None:
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        if not 0.0 <= consistency < 1.0:
            raise ValueError(f"consistency must be in [0, 1), got {consistency}")
        self.net, self.styles, self.alpha, self.style_weights = net, list(styles), alpha, style_weights
        if isinstance(tile, str) and tile == "auto":  # (statistics at 1024 px, painted in the device's tiles)
            from .stylize import TILE, default_tile

            tile, paint_tile = TILE, default_tile("auto", next(net.parameters()).device) if paint_tile is None else \
                paint_tile
        self.smoothing, self.tile, self.transform, self.match = smoothing, tile, transform, match
        # the tile the frame is painted in (``tile`` by default; the statistics come from a copy reduced to ``tile``)
        self.paint_tile = tile if paint_tile is None else paint_tile
        self.blend = _FlowBlend(consistency) if consistency > 0 else None
        alphas = list(style_alphas) if style_alphas is not None else [None] * len(self.styles)
        if len(alphas) != len(self.styles):
            raise ValueError(f"{len(self.styles)} styles but {len(alphas)} style alphas")
        self.s_stats = [net.stats(s, transform, where=a) for s, a in zip(self.styles, alphas)]
        self.targets = [style_target(s) for s in styles] if targets is None and match != "none" else targets
        self.stats: tuple[torch.Tensor, torch.Tensor] | None = None  # the moving average of the content's
        self.plans: list[MatchPlan] | None = None  # the colour and detail maps of the last frame

    @torch.no_grad()
    def __call__(self, frame: torch.Tensor, opaque: torch.Tensor | None = None) -> torch.Tensor:
        """The stylized frame; ``opaque``: the frame's ``(1, 1, H, W)`` alpha, if it has one (its colours and
        detail are matched from its opaque pixels, as a picture's are)."""
        net, smoothing, tile, transform = self.net, self.smoothing, self.tile, self.transform
        x, _, _ = _pad_to_multiple(frame, net.align)
        # Statistics of this frame over the whole picture: one pass, or of a copy downscaled to the tile size
        # for frames larger than a tile (statistics barely depend on resolution; cheaper than a tiled pass).
        now = (net.feature_stats(net.features(x), transform) if tile is None or max(x.shape[-2:]) <= tile
               else _tiled_stats(net, x, tile, transform))
        # (an average of covariances is a covariance: WCT's statistics smooth as AdaIN's do)
        state = now if self.stats is None else (
            smoothing * self.stats[0] + (1 - smoothing) * now[0], smoothing * self.stats[1] + (1 - smoothing) * now[1])
        y = adain_transfer(net, frame, self.styles, alpha=self.alpha, style_weights=self.style_weights,
                           tile=self.paint_tile, content_stats=state, style_stats=self.s_stats, transform=transform)
        y, plans = match_styles(y, self.styles, match=self.match, alpha=self.alpha, style_weights=self.style_weights,
                                targets=self.targets, previous=self.plans, smoothing=smoothing, opaque=opaque)
        if self.blend is not None:
            y = self.blend(frame, y)
        self.stats, self.plans = state, plans  # (new objects every frame: a reference to the old ones is a snapshot)
        return y

    def state_dict(self) -> dict:
        """What the next frame depends on, as tensors, lists and numbers (``torch.save`` and
        ``torch.load(weights_only=True)`` take it)."""
        return {
            "stats": None if self.stats is None else list(self.stats),
            "plans": None if self.plans is None else [{"lut": p.lut, "bands": [None if b is None else list(b)
                                                                              for b in p.bands]} for p in self.plans],
            "blend": None if self.blend is None or self.blend.prev is None
            else [torch.from_numpy(np.ascontiguousarray(a)) for a in self.blend.prev],
        }

    def load_state_dict(self, state: dict) -> None:
        self.stats = None if state["stats"] is None else tuple(state["stats"])
        self.plans = None if state["plans"] is None else [
            MatchPlan(p["lut"], [None if b is None else tuple(b) for b in p["bands"]]) for p in state["plans"]]
        if self.blend is not None:
            self.blend.prev = None if state["blend"] is None else tuple(a.numpy() for a in state["blend"])


class _FlowBlend:
    """``y_t = (1 - w m) s_t + w m warp(y_(t-1))``; ``m = exp(-(e / 0.1)^2)`` where ``e`` is how badly
    the warped previous input frame matches this one (0 at occlusions and cuts, 1 where it fits)."""

    def __init__(self, weight: float) -> None:
        try:
            import cv2
        except ImportError:
            raise BrushworkError("temporal consistency needs OpenCV: pip install 'brushwork[video]' "
                                 "(or pass consistency=0 / --consistency 0)") from None
        self.cv2 = cv2
        self.weight = weight
        self.flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # grey, frame, output (H, W, C)

    def __call__(self, frame: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        cv2 = self.cv2
        f = frame[0].permute(1, 2, 0).float().cpu().numpy()
        y = out[0].permute(1, 2, 0).float().cpu().numpy()
        grey = cv2.cvtColor((f * 255 + 0.5).clip(0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
        if self.prev is not None and self.prev[0].shape == grey.shape:
            p_grey, p_frame, p_out = self.prev
            flow = self.flow.calc(grey, p_grey, None)  # for each pixel now: where it was before
            h, w = grey.shape
            gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            mx, my = gx + flow[..., 0], gy + flow[..., 1]
            warp = lambda a: cv2.remap(a, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # noqa: E731
            err = np.abs(warp(p_frame) - f).mean(axis=2, keepdims=True)
            inside = ((mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1))[..., None]
            m = self.weight * np.exp(-((err / 0.1) ** 2)) * inside
            y = (1 - m) * y + m * warp(p_out)
        self.prev = (grey, f, y.astype(np.float32))
        return torch.from_numpy(np.ascontiguousarray(y)).permute(2, 0, 1)[None].to(out.device, out.dtype)


def _tiled_stats(net: AdaINNet, x: torch.Tensor, tile: int, transform: str) -> tuple[torch.Tensor, torch.Tensor]:
    # Downscale for the statistics of very large frames: they barely depend on resolution.
    scale = tile / max(x.shape[-2:])
    small = torch.nn.functional.interpolate(x, scale_factor=scale, mode="bilinear", antialias=True)
    return net.stats(small, transform)


def _imageio():
    try:
        import imageio.v2 as imageio
    except ImportError:
        raise BrushworkError("reading or writing video files needs imageio: pip install 'brushwork[video]'") from None
    return imageio


class VideoSource(NamedTuple):
    frames: Iterator[np.ndarray]  # (H, W, 3) uint8, streamed; (H, W, 4) for a frame with transparency when kept
    fps: float
    audio: bool  # the file has a sound track (a frames folder or a GIF has none)


def _natural(path: Path) -> list:
    """A sort key that orders numbers in names by value (``frame_2`` before ``frame_10``, as ffmpeg's ``%d``
    writes them)."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", path.name.casefold())]


def frame_files(folder: str | os.PathLike) -> list[Path]:
    """The image files of a frames folder in frame order (natural order of their names)."""
    from ..datasets import list_images

    return sorted(list_images(folder, recursive=False), key=_natural)


def _rgb8(a: np.ndarray) -> np.ndarray:
    """A decoded frame as ``(H, W, 3)`` uint8 RGB: greys spread to three channels, 16-bit and float values
    scaled, and transparency composited over white, as pictures are read everywhere else."""
    from ..imaging.decode import white_level

    a = np.asarray(a)
    if a.dtype != np.uint8:
        a = np.round(np.clip(a.astype(np.float32) / white_level(a), 0.0, 1.0) * 255).astype(np.uint8)
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[-1] in (2, 4):  # with alpha: over white
        alpha = a[..., -1:].astype(np.float32) / 255.0
        a = (a[..., :-1].astype(np.float32) * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return np.ascontiguousarray(a[..., :3])


def _loaded(f):
    """A Pillow frame, decoded: an animated WebP's frame says its duration only once it is."""
    f.load()
    return f


def _durations(p: Path) -> list[int]:
    """Each frame's display time (ms) in an animated GIF, WebP or PNG (100 where a frame does not say)."""
    from PIL import Image, ImageSequence

    with Image.open(p) as anim:
        return [_loaded(f).info.get("duration") or 100 for f in ImageSequence.Iterator(anim)]


def frame_durations(source: str | os.PathLike) -> list[int] | None:
    """The display times (ms) of an animation's frames (a GIF, an animated WebP or PNG) when they differ (a hold on
    the last frame, a pause); None for a video file, a frames folder, or an even pace."""
    p = Path(source)
    if not p.is_file() or p.suffix.lower() not in (".gif", ".webp", ".png", ".apng"):
        return None
    try:
        ms = _durations(p)
    except Exception:  # noqa: BLE001 - (the reading itself says what is wrong with the file)
        return None
    return ms if len(set(ms)) > 1 else None


def _with_alpha(rgba: np.ndarray) -> np.ndarray:
    """``(H, W, 4)`` uint8 RGBA -> the colours over white with the alpha after them (``(H, W, 3)`` when it is
    opaque throughout): a frame as pictures are read, its transparency kept for outputs that hold it."""
    over = _rgb8(rgba)
    return over if rgba[..., 3].min() == 255 else np.concatenate([over, rgba[..., 3:]], axis=-1)


def _animation_frames(p: Path, keep_alpha: bool = False) -> Iterator[np.ndarray]:
    """An animation's frames read by Pillow, each with its transparency over white (and kept, with
    ``keep_alpha``). (imageio handed a GIF's first frame over without its alpha, so a transparent backdrop
    came out black in the first frame and white in the rest.)"""
    from PIL import Image, ImageSequence

    with Image.open(p) as im:
        for f in ImageSequence.Iterator(im):
            rgba = np.asarray(f.convert("RGBA"))
            yield _with_alpha(rgba) if keep_alpha else _rgb8(rgba)


def read_frames(source: str | os.PathLike, keep_alpha: bool = False) -> VideoSource:
    """Frames of a video file or a folder of images, their frame rate (24 for a folder) and whether the file
    has sound. Transparency is composited over white; with ``keep_alpha`` a frame of a folder, of a GIF,
    WebP or PNG animation, or of a video file with an alpha channel (ProRes 4444, PNG in MOV...) that has any
    keeps its alpha as a fourth channel (the colours still over white)."""
    p = Path(source)
    if p.is_dir():
        from ..imaging.io import read_image

        files = frame_files(p)
        if not files:
            raise BrushworkError(f"folder '{p}' holds no frames (.png, .jpg, ...)")

        def from_files() -> Iterator[np.ndarray]:
            for f in files:
                try:
                    img = read_image(f, what="frame")
                except BrushworkError as exc:
                    raise FrameUnreadable(str(exc)) from None
                rgb = (img.rgb * 255 + 0.5).astype(np.uint8)
                if keep_alpha and img.alpha is not None and img.alpha.min() < 1.0:
                    rgb = np.concatenate([rgb, (img.alpha[..., None] * 255 + 0.5).astype(np.uint8)], axis=-1)
                yield rgb

        return VideoSource(from_files(), 24.0, False)
    if not p.is_file():
        raise BrushworkError(f"video '{p}' does not exist: check the path")
    imageio = _imageio()
    direct = p.suffix.lower() in REMUX_SUFFIXES + CONVERT_SUFFIXES  # (imageio takes files by their names: not these)
    try:
        if direct:  # (ffmpeg reads them: .m4v, .mts, .ogv... were refused with a line to convert them)
            meta = _ffmpeg_meta(p)
        else:
            import warnings

            with warnings.catch_warnings():  # (a file no plugin takes has imageio try its legacy ones: deprecations)
                warnings.simplefilter("ignore", DeprecationWarning)
                reader = imageio.get_reader(p)
            meta = reader.get_meta_data()
            reader.close()
        audio = bool(meta.get("audio_codec"))
        rate = meta.get("fps") or (_counted_rate(p) if direct else None)  # (Theora's header gives none)
        if rate:
            # ffmpeg prints the rate to two decimals: 23.98 for 24000/1001 drifted 0.6 s an hour from the sound
            fps = next((r for r in (24000 / 1001, 30000 / 1001, 48000 / 1001, 60000 / 1001, 120000 / 1001)
                        if abs(float(rate) - r) < 0.006), float(rate))
            # decoded at that (average) rate: left to itself ffmpeg repeats frames of a variable-rate clip (a
            # phone's) up to its nominal rate, which came out twice as long as its sound at the average rate
            hdr = hdr_transfer(meta.get("pix_fmt"))  # (imageio's reader would drop the alpha, and read HDR as SDR)
            if direct or hdr or _has_alpha(meta.get("pix_fmt")):
                return VideoSource(_ffmpeg_frames(p, fps, keep_alpha, _has_alpha(meta.get("pix_fmt")), hdr,
                                                  str(meta.get("pix_fmt") or "")), fps, audio)
            reader = _square_pixels(imageio, p, fps)
        else:  # an animated GIF, WebP or PNG: its frames' durations (ms), all of them (the first frame's alone
            # set the pace)
            ms = _durations(p)
            fps = 1000.0 * len(ms) / sum(ms) if ms and sum(ms) > 0 else 24.0
            return VideoSource(_animation_frames(p, keep_alpha), fps, False)
    except Exception:  # imageio raises many types for unreadable files
        if direct:
            raise BrushworkError(f"video '{p}' could not be read (no picture in it, damaged, or a codec ffmpeg lacks): "
                                 f"convert it to MP4 with another tool, or check it plays") from None
        raise BrushworkError(f"video '{p}' could not be read as a video (no picture in it: sound only, damaged, or "
                             "another kind of file): give a video file (MP4, MOV, MKV, AVI, WebM) or a GIF") from None

    def from_video() -> Iterator[np.ndarray]:
        with reader:
            for f in reader:
                yield _rgb8(f)

    return VideoSource(from_video(), fps, audio)


#: ffmpeg's filter that widens (or narrows) a frame of non-square pixels to its display shape, as players show it
#: (a DV clip's 720 x 480 at 8:9 is 640 x 480); square pixels pass as they are
SQUARE_PIXELS = "scale='if(eq(sar,1),iw,max(2,round(iw*sar)))':ih,setsar=1"


def _square_pixels(imageio, p: Path, fps: float):
    """A reader of the video file ``p`` at ``fps`` whose frames have square pixels (an anamorphic clip's were read
    at their stored width: squashed); says so when it widens them."""
    with _sizes_said_here():
        reader = imageio.get_reader(p, fps=fps, output_params=["-vf", SQUARE_PIXELS])
    _say_shape(p, reader.get_meta_data())
    return reader


def _say_shape(p: Path, meta: dict) -> None:
    stored, shown = tuple(meta.get("source_size") or ()), tuple(meta.get("size") or ())
    if stored and shown and shown != stored and shown[1] == stored[1]:
        import sys

        print(f"brushwork: note: video '{p.name}' has non-square pixels: its {stored[0]} x {stored[1]} frames are "
              f"read at {shown[0]} x {shown[1]}, the shape players show", file=sys.stderr)


def _has_alpha(pix_fmt: object) -> bool:
    """Whether ffmpeg's pixel format (``meta["pix_fmt"]``, e.g. ``"yuva444p12le(tv, progressive)"``) carries alpha:
    ProRes 4444, PNG or QuickTime Animation (VP9's alpha is not decoded by ffmpeg's own VP9 decoder: not seen)."""
    name = str(pix_fmt or "").split("(")[0].strip()
    return name.startswith(("yuva", "gbrap", "rgba", "bgra", "argb", "abgr", "ya"))


def _ffmpeg_meta(p: Path) -> dict:
    """What ffmpeg says of a video file (imageio-ffmpeg's reading of its header: fps, size, codecs...)."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(p))
    try:
        return next(gen)
    finally:
        gen.close()


def _counted_rate(p: Path) -> float | None:
    """A video file's rate from its frames and duration, counted (a Theora header states none)."""
    import imageio_ffmpeg

    n, secs = imageio_ffmpeg.count_frames_and_secs(str(p))
    return n / secs if n and secs else None


#: ffmpeg's filters that tone-map an HDR frame (HLG or PQ, BT.2020) to SDR sRGB: to linear light (100 nits as
#: white), BT.709 primaries, Mobius tone mapping (in-range values kept, highlights up to the clip's peak rolled off
#: smoothly), sRGB; a clip with nothing above SDR white comes back within about 2 levels (the test's round trip)
TONE_MAP = ("zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=mobius:desat=0,"
            "zscale=t=iec61966-2-1:m=gbr:r=pc,format=gbrp")


def hdr_transfer(pix_fmt: object) -> str | None:
    """``"HLG"`` or ``"PQ"`` for an HDR video's pixel format as ffmpeg names it (``meta["pix_fmt"]``, e.g.
    ``"yuv420p10le(tv, bt2020nc/bt2020/arib-std-b67)"``, as phones record by default); None for SDR."""
    text = str(pix_fmt or "")
    return "HLG" if "arib-std-b67" in text else "PQ" if "smpte2084" in text else None


def _ffmpeg_frames(p: Path, fps: float, keep_alpha: bool, alpha: bool, hdr: str | None = None,
                   pix_fmt: str = "") -> Iterator[np.ndarray]:
    """The frames of a video file as ffmpeg decodes them, for what imageio's reader does not take (by the file's
    name: .m4v, .mts, .ogv...) or would lose (an alpha channel: it leaves whatever colour the transparent pixels
    hold; HDR: read as if SDR, washed out), at ``fps`` (exactly: 24000/1001, not 23.98) and with square pixels as
    :func:`_square_pixels`; over white, with the alpha as a fourth channel where a frame has transparency and
    ``keep_alpha`` asks for it; an HDR clip (``hdr``) tone-mapped to SDR (``TONE_MAP``), its alpha left out."""
    from fractions import Fraction

    import imageio_ffmpeg

    if hdr:
        import sys

        print(f"brushwork: note: video '{p.name}' is HDR ({hdr}): its frames are tone-mapped to SDR to be painted, "
              "and the output is SDR" + (" (its alpha channel is left out: HDR with transparency is not read)"
                                         if alpha else ""), file=sys.stderr)
    alpha = alpha and not hdr
    rate = Fraction(fps).limit_denominator(1001)
    gen = imageio_ffmpeg.read_frames(str(p), pix_fmt="rgba" if alpha else "rgb24", bpp=4 if alpha else 3,
                                     output_params=["-r", f"{rate.numerator}/{rate.denominator}", "-vf",
                                                    f"{_tone_map(pix_fmt)},{SQUARE_PIXELS}" if hdr else SQUARE_PIXELS])
    process = None
    try:
        try:
            with _sizes_said_here():
                meta = next(gen)
        except (OSError, RuntimeError, StopIteration) as exc:  # (ffmpeg would not start: its own line, not 60)
            said = next((ln.split("] ", 1)[-1] for ln in str(exc).splitlines() if ln.startswith("[") and "] " in ln),
                        "")
            raise BrushworkError(f"video '{p.name}' could not be decoded by ffmpeg" + (f" ({said.strip()})" if said
                                 else "") + ": convert it to MP4 with another tool, or check it plays") from None
        _say_shape(p, meta)
        # (its ffmpeg process: imageio-ffmpeg leaves the pipes of one that ended by itself open, a ResourceWarning)
        process = (gen.gi_frame.f_locals.get("process") if gen.gi_frame is not None else None)
        w, h = meta["size"]
        for raw in gen:  # (a writable copy: torch warns of a read-only array, and it is used once)
            f = np.frombuffer(bytearray(raw), np.uint8).reshape(h, w, 4 if alpha else 3)
            yield _with_alpha(f) if alpha and keep_alpha else _rgb8(f)
    finally:
        gen.close()
        for pipe in (None if process is None else (process.stdout, process.stdin)) or ():
            with contextlib.suppress(Exception):
                pipe.close()


def _tone_map(pix_fmt: str) -> str:
    """:data:`TONE_MAP` for a clip whose pixel format ffmpeg describes as ``pix_fmt``, with BT.2020's matrix and
    primaries said where its tags leave them unknown (a transfer tagged alone, ``unknown/unknown/arib-std-b67``:
    zscale found "no path between colorspaces")."""
    tags = next((t for t in re.split(r"[(),]\s*", pix_fmt) if t.count("/") == 2), "")
    matrix, primaries = (tags.split("/")[:2] if tags else ("", ""))
    said = ([] if matrix not in ("unknown", "") else ["colorspace=bt2020nc"]) + (
        [] if primaries not in ("unknown", "") else ["color_primaries=bt2020"])
    return (f"setparams={':'.join(said)}," if said else "") + TONE_MAP


@contextlib.contextmanager
def _sizes_said_here():
    """imageio-ffmpeg's warning that the frames are not the stored size kept quiet (brushwork says why itself)."""
    import logging

    log = logging.getLogger("imageio_ffmpeg")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def announced_frames(source: str | os.PathLike) -> int | None:
    """The frames a video file's header announces (its duration at its rate); None for a frames folder, an
    animation, or a header that does not say."""
    p = Path(source)
    if p.is_dir() or p.suffix.lower() == ".gif":
        return None
    try:
        if p.suffix.lower() in REMUX_SUFFIXES + CONVERT_SUFFIXES:
            meta = _ffmpeg_meta(p)
        else:
            with _imageio().get_reader(p) as reader:
                meta = reader.get_meta_data()
        duration, fps = meta.get("duration"), meta.get("fps")
        if isinstance(duration, (int, float)) and isinstance(fps, (int, float)) and 0 < duration < 1e7 and fps > 0:
            return round(duration * fps)
    except Exception:  # (the reading itself says what is wrong with the file)
        pass
    return None


def _gif_frames(source: str | os.PathLike) -> int | None:
    """The frames of a GIF (Pillow counts them without decoding their pictures); None where it cannot say."""
    from PIL import Image

    try:
        with Image.open(source) as im:
            return int(getattr(im, "n_frames", 1))
    except Exception:  # noqa: BLE001 - (the reading itself says what is wrong with the file)
        return None


_NO_FRAMES = "the input gave no frames: nothing was written (is the video empty?)"


def _even(f: np.ndarray) -> np.ndarray:
    """``f`` with its last row and column repeated where its height or width is odd: H.264 and the other
    codecs' 4:2:0 colour needs even sizes (ffmpeg refuses odd ones, and imageio's writer does not say)."""
    h, w = f.shape[:2]
    return f if not (h % 2 or w % 2) else np.pad(f, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_frames(frames: Iterator[np.ndarray], target: str | os.PathLike, fps: float,
                 audio_from: str | os.PathLike | None = None) -> int:
    """Write frames to a video file (by extension), or to a folder of PNGs for a path without one.

    Either is built in a work folder beside it (``.NAME.part``) and moved into place when complete (a run
    that fails leaves nothing new behind; in a folder, numbered frames beyond this run's, left by a longer
    earlier run, are removed; files with other names stay); returns the count. A video file (not a GIF) gets
    the sound track of ``audio_from``; odd frame sizes gain a repeated last row or column (4:2:0 colour).
    """
    _check_frames_output(Path(target), [])
    out = _Output(target, fps, audio_from)
    out.resume()  # (no key: a fresh work folder)
    try:
        for f in frames:  # (stylizing happens here: its own errors pass through as they are)
            out.add(f)
        return out.finish()
    except BaseException:
        out.discard()
        raise


def _png_mode(path: Path) -> str | None:
    """A kept frame's mode from its header (None: unreadable; :meth:`_Output.finish` then says it is damaged)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.mode
    except (OSError, SyntaxError, ValueError):
        return None


_STATE = "state.pt"  # in a run's work folder: the frames kept, their settings and the stylization's state


class WriteFailed(BrushworkError):
    """A frame could not be written (a full disk, ffmpeg refusing): what was made before it is kept."""


class FrameUnreadable(BrushworkError):
    """A frame of a frames folder could not be decoded (a JPEG cut short: its header read, its picture not): what was
    made before it is kept, and a run after the frame is replaced goes on from it."""


class _Output:
    """Where a video run's frames go: a folder of PNGs, a GIF or a video file (by ``target``'s name), built in
    a work folder beside it (``.NAME.part``) and moved into place when complete.

    The work folder is also what a stopped run leaves for the next one (:meth:`keep`): the frames made so far
    (PNGs for a folder or a GIF; for a video file, the file as far as it was written, ``kept_NNNNNN.EXT``, named
    by its count: an older one is removed only once the state names the newer) and ``state.pt``: their count,
    the key of the settings they were made with, and the stylization's state after the last of them.
    :meth:`resume` takes it up when the key is the same. A video file goes on by decoding the kept frames into
    the new file ahead of the new ones: one stream, whose first frames are encoded twice (joining two files
    without re-encoding leaves a gap or a repeated frame at the join wherever the codec reorders frames, as
    H.264 does)."""

    def __init__(self, target: str | os.PathLike, fps: float, audio_from: str | os.PathLike | None = None,
                 key: str | None = None, take_up: bool = True, durations: list[int] | None = None,
                 prints: list | None = None) -> None:
        t = Path(os.path.abspath(target))  # "." has no name to put a work folder beside
        self.kind = "folder" if is_frames_folder(t) else "gif" if t.suffix.lower() == ".gif" else "video"
        if self.kind == "video" and unreadable_rate(fps):  # (ffmpeg says "1k fps", which no reader parses)
            raise BrushworkError(f"a video file at {fps:g} fps cannot be read back (ffmpeg writes the rate as "
                                 f"'{round(fps / 1000):d}k'): give --fps {fps - 1:g}")  # (fps + 1: over --fps's limit)
        if self.kind == "folder" and t.exists() and not t.is_dir():
            raise BrushworkError(f"output '{t}' is a file: give a folder for the frames, or a video file name")
        if self.kind != "folder" and t.suffix.lower() not in VIDEO_SUFFIXES:
            raise BrushworkError(f"output '{t}' has an unknown video extension: use {', '.join(VIDEO_SUFFIXES)} or "
                                 "a folder")
        self.t, self.fps, self.audio_from, self.key, self.take_up = t, fps, audio_from, key, take_up
        self.durations = durations  # (a GIF's: each frame's own display time, an animation's uneven pace kept)
        # (a frames folder's files by size and time: those of the frames made must be as they were to go on; the
        # later ones may change, a broken one replaced)
        self.prints = prints
        self.work = partial_path(t)
        self.kept: Path | None = None  # a video file's frames made so far, closed (kept_NNNNNN.EXT)
        self.kept_frames = 0  # ... and how many it holds (the state saved with it is after the last of them)
        self.making = self.work / f"making{t.suffix.lower()}"  # ... and the file being written (the kept ones first)
        self.imageio = None if self.kind == "folder" else _imageio()
        self.done = 0  # frames made (in the open file, the kept one, or PNGs)
        self.writer = None
        self.in_writer = 0  # frames handed to the open file (the kept ones it starts with, then new ones)
        self.first: tuple[int, int] | None = None  # (H, W): a video file or a GIF has one size
        self.discarded = 0  # frames of an earlier run with other settings, not taken up

    def resume(self) -> dict | None:
        """Take up the work an interrupted run with the same key left: returns the stylization's state after its
        last frame, or None when starting afresh (work left by a run with other settings is removed, and
        ``discarded`` says how many frames it held)."""
        import shutil

        saved = None
        if (self.work / _STATE).is_file():
            try:
                saved = torch.load(self.work / _STATE, weights_only=True)
                if not self.take_up or self.key is None or saved["key"] != self.key or not self._complete(saved) or (
                        self.prints is not None and saved.get("prints") != self.prints[:int(saved["frames"])]):
                    self.discarded, saved = int(saved["frames"]), None
            except Exception:  # noqa: BLE001 - unreadable work (another version's, a disk error): start over
                saved = None
        if saved is None:
            shutil.rmtree(self.work, ignore_errors=True)  # a run killed earlier, or one with other settings
            self.work.mkdir(parents=True)
            return None
        self.done = int(saved["frames"])
        self.first = None if saved["first"] is None else (int(saved["first"][0]), int(saved["first"][1]))
        self.kept = self.work / saved["kept"] if self.kind == "video" else None
        self.kept_frames = self.done if self.kind == "video" else 0
        for f in self.work.iterdir():  # made after the state was saved (a run killed outright): made again
            m = _FRAME_NAME.fullmatch(f.name)
            if (m and int(m.group(1)) > self.done) or f == self.making or (
                    f.name.startswith("kept_") and f != self.kept):
                f.unlink()
        return saved["stylizer"]

    def _complete(self, saved: dict) -> bool:
        if self.kind == "video":
            return isinstance(saved.get("kept"), str) and (self.work / saved["kept"]).is_file()
        return all((self.work / f"frame_{n:06d}.png").is_file() for n in range(1, int(saved["frames"]) + 1))

    def _refused(self, said: str) -> BrushworkError:
        said = " ".join(said.split())[:200]
        return WriteFailed(f"ffmpeg could not write '{self.t.name}' ({said}): try another format (.mp4, .gif) or a "
                           "folder of PNG frames (or free disk space)")

    def _writer(self, path: Path):
        kwargs: dict = {"fps": self.fps, "macro_block_size": 1}
        if self.t.suffix.lower() == ".webm":  # (imageio's default, H.264, is not allowed in WebM)
            kwargs.update(codec="libvpx-vp9", output_params=["-crf", "30", "-b:v", "0"])
        if self.audio_from is not None:
            kwargs["audio_path"] = str(self.audio_from)
        return self.imageio.get_writer(path, **kwargs)

    def _append(self, f: np.ndarray) -> None:
        """Hand a frame to ffmpeg whole (Ctrl-C waits: the count of frames in the file stays known)."""
        try:
            with interrupts_deferred("frame"):
                self.writer.append_data(_even(f))
                self.in_writer += 1
        except (OSError, RuntimeError) as exc:
            raise self._refused(str(exc)) from None

    def _open(self) -> None:
        """Start the video file, with the kept frames of the run stopped earlier first."""
        self.writer, self.in_writer = self._writer(self.making), 0
        if self.kept is not None:
            for f in read_frames(self.kept).frames:
                self._append(f)
            if self.in_writer != self.done:
                raise BrushworkError(f"'{self.kept}' holds {self.in_writer} frames, not the {self.done} the stopped run "
                                     "made: run again with --no-resume")

    def add(self, f: np.ndarray) -> None:
        """Append the next frame ``(H, W, 3)`` uint8, or ``(H, W, 4)`` with its alpha (a folder or a GIF keeps it;
        a video file shows it over white)."""
        n = self.done + 1
        if self.kind != "folder":
            self.first = self.first or tuple(f.shape[:2])
            if tuple(f.shape[:2]) != self.first:
                first = self.first
                raise BrushworkError(f"frame {n} is {f.shape[1]}x{f.shape[0]}, the first frame {first[1]}x{first[0]}: "
                                     "a video file's frames have one size: resize them, or write a folder of frames")
        if self.kind == "video" and self.writer is None:
            self._open()
        with interrupts_deferred("frame"):  # (the frame and the count together)
            if self.kind == "video":
                self._append(_rgb8(f))
            else:
                from ..imaging.io import save_image

                try:
                    save_image(f[..., :3].astype(np.float32) / 255.0, self.work / f"frame_{n:06d}.png",
                               alpha=None if f.shape[-1] == 3 else f[..., 3].astype(np.float32) / 255.0)
                except BrushworkError as exc:  # (a full disk: save_image's one line)
                    raise WriteFailed(str(exc)) from None
            self.done = n

    def _close(self) -> None:
        """Close the video file being written: it becomes the kept one (``kept_NNNNNN``) when it holds every frame
        made so far; a stop while the kept frames were being copied into it leaves the kept file as it was."""
        writer, self.writer = self.writer, None
        if writer is None:
            return
        # ffmpeg finishing the file, and the file kept with its count, as one: a Ctrl-C while a long clip's encoder
        # flushed came right after the close, before the file was kept, and the whole run was thrown away
        with interrupts_deferred("video file"):
            try:
                writer.close()
            except (OSError, RuntimeError) as exc:
                raise self._refused(str(exc)) from None
            if self.in_writer != self.done:
                self.making.unlink(missing_ok=True)
                return
            if not self.making.is_file() or self.making.stat().st_size == 0:
                raise self._refused("it wrote nothing")
            kept = self.work / f"kept_{self.done:06d}{self.t.suffix.lower()}"
            os.replace(self.making, kept)
            self.kept, self.kept_frames = kept, self.done

    def keep(self, state: dict) -> bool:
        """Leave the frames made so far and ``state`` (the stylizer's after the last of them) for the next run
        with the same key; False (and nothing left) when there is nothing to keep or it cannot be kept."""
        try:
            self._close()
            if self.key is None or self.done == 0:
                raise BrushworkError("nothing to keep")
            if self.kind == "video" and self.kept_frames != self.done:  # (its file was not closed whole: a second
                raise BrushworkError("the file was not finished")  # Ctrl-C) the earlier stop's state stays, if any
            tmp = self.work / f"{_STATE}.tmp"
            torch.save({"key": self.key, "frames": self.done, "first": None if self.first is None else
                        list(self.first), "kept": None if self.kept is None else self.kept.name,
                        "prints": None if self.prints is None else self.prints[:self.done], "stylizer": state}, tmp)
            os.replace(tmp, self.work / _STATE)
            for f in self.work.glob("kept_*"):  # (an older run's, now that the state names this one)
                if f != self.kept:
                    f.unlink()
            return True
        except (BrushworkError, OSError):
            if self.done == 0:
                self.discard()
            else:  # what an earlier stop kept stays beside its state (the next run takes that up), if there is one
                self.making.unlink(missing_ok=True)
            return False

    def discard(self) -> None:
        """Remove the work folder (the open file's ffmpeg is closed first)."""
        import shutil

        writer, self.writer = self.writer, None
        if writer is not None:
            try:
                writer.close()
            except (OSError, RuntimeError):
                pass
        shutil.rmtree(self.work, ignore_errors=True)

    def finish(self) -> int:
        """Move the whole output into place and remove the work folder; returns the number of frames. On an error
        the work folder stays (:meth:`keep` or :meth:`discard` it)."""
        import shutil

        n = self.done
        if n == 0:
            raise BrushworkError(_NO_FRAMES)
        if self.kind == "folder":
            self.t.mkdir(exist_ok=True)
            # moved as one, the run then done: a stop halfway mixed two runs' frames, and a stop during the move said
            # the frames were kept for a rerun, which then made them all again
            with _placing("move of the frames") as placed:
                (self.t / FRAMES_MARKER).touch()  # (brushwork's frames: a later run may replace them)
                for k in range(1, n + 1):
                    os.replace(self.work / f"frame_{k:06d}.png", self.t / f"frame_{k:06d}.png")
                for f in self.t.iterdir():  # an earlier, longer run's last frames: not this video's
                    m = _FRAME_NAME.fullmatch(f.name)
                    if m and int(m.group(1)) > n:
                        f.unlink()
                placed.append(True)
        elif self.kind == "gif":
            from PIL import Image

            from ..imaging.io import gif_durations

            def frame(k: int) -> Image.Image:
                try:
                    with Image.open(self.work / f"frame_{k:06d}.png") as im:
                        return im.convert("RGBA" if im.mode == "RGBA" else "RGB")
                except (OSError, SyntaxError, ValueError) as exc:  # (damaged since it was written whole)
                    raise BrushworkError(f"frame {k} kept in '{self.work}' is damaged ({exc}): the stopped run's "
                                         "work is removed; run the same command again to start over") from None

            tmp = self.work / f"whole{self.t.suffix}"
            durations = (self.durations if self.durations and len(self.durations) == n  # (the source's own)
                         else gif_durations(self.fps, n))  # (each frame's own: one delay for all drifted from the rate)
            # frames with transparency each replace the last (disposal 2) instead of lying over it (the headers
            # say: a PNG's mode is known without decoding it)
            see_through = any(_png_mode(self.work / f"frame_{k:06d}.png") == "RGBA" for k in range(1, n + 1))
            frame(1).save(tmp, format="GIF", save_all=True, append_images=(frame(k) for k in range(2, n + 1)),
                          duration=durations if n > 1 else durations[0], loop=0,  # (frames read one at a time)
                          **({"disposal": 2} if see_through else {}))
            os.replace(tmp, self.t)
        else:
            with _placing("video file") as placed:  # (closed, kept and moved into place as one: then done)
                self._close()  # (stopped after its last frame: the kept file is the whole video)
                if self.kept is None or self.kept_frames != n:
                    raise WriteFailed(f"the video file was not finished whole ({self.kept_frames} of {n} frames): "
                                      "run the same command again")
                os.replace(self.kept, self.t)
                placed.append(True)
        shutil.rmtree(self.work, ignore_errors=True)
        return n


@contextlib.contextmanager
def _placing(what: str) -> Iterator[list]:
    """The finished output moved into place with Ctrl-C deferred (:func:`interrupts_deferred`); the block appends to
    the list it is given once the output is in place, and a Ctrl-C that came meanwhile then lets the run finish (it
    is done). A second Ctrl-C, which stops at once, or one before the output is in place, stops the run."""
    placed: list = []
    try:
        with interrupts_deferred(what):
            yield placed
    except KeyboardInterrupt:
        if not placed:
            raise


def is_frames_folder(output: str | os.PathLike) -> bool:
    """Whether ``output`` is written as a folder of PNG frames: an existing folder (whatever its name), or a
    name without an extension; else it is a video file named by its extension."""
    p = Path(output)
    return p.is_dir() or p.suffix == ""


def _check_frames_output(out: Path, inputs: Sequence[str | os.PathLike]) -> None:
    """Refuse, before any work, a frames folder output whose frame files (written, or removed as an earlier
    longer run's) include one of the inputs: a style kept there as ``frame_000002.png`` would be lost; or an
    existing folder holding numbered frames brushwork did not write (no ``FRAMES_MARKER``, no video recipe
    beside it): an artist's own renders, which ffmpeg names so too."""
    if not is_frames_folder(out):
        return
    where = Path(os.path.abspath(out)).resolve()
    for p in inputs:
        q = Path(p)
        if q.is_file() and q.resolve().parent == where and _FRAME_NAME.fullmatch(q.name):
            raise BrushworkError(f"'{p}' is a frame file in the output folder '{out}': this run writes (or removes) "
                                 "such files there: copy it elsewhere first, or choose another -o folder")
    if where.is_dir() and not (where / FRAMES_MARKER).exists():
        theirs = sorted(f.name for f in where.iterdir() if _FRAME_NAME.fullmatch(f.name))
        if theirs and not _made_by_video(out):  # (ffmpeg names frames so too: an artist's renders, not ours)
            raise BrushworkError(f"output folder '{out}' holds numbered frames ({theirs[0]}, ...) that no brushwork "
                                 "marker or recipe claims, which this run would replace or remove: choose a new or "
                                 "empty folder for -o (or, if brushwork 0.2.5 or earlier wrote them with "
                                 "--no-metadata, delete them first)")


def _made_by_video(out: Path) -> bool:
    """Whether the folder's recipe beside it (``FOLDER.json``) says ``brushwork video`` made it (folders written
    before the marker was)."""
    from ..provenance.recipe import sidecar_recipe

    return (sidecar_recipe(out) or {}).get("operation") == "video"


def _check_frames(files: Sequence[Path], size: int | None = None, one_size: bool = False) -> None:
    """Refuse, before any work, a frames folder with a frame that is no picture (a late one threw away every frame
    made before it), and, with ``one_size`` (a video file is written), one whose pictures come out in several sizes
    (after ``size``, the long side they are fitted to)."""
    from PIL import Image

    from ..imaging.resampling import fit_long_side

    first = None
    for f in files:
        try:
            with Image.open(f) as im:
                # (EXIF orientations that swap the sides; read where the header holds it: a PNG's getexif decodes
                # the whole picture, 0.1 s a 4K frame)
                exif = im.getexif() if im.format in ("JPEG", "MPO", "TIFF", "WEBP") else {}
                turned = exif.get(0x0112, 1) in (5, 6, 7, 8)
                shown = (im.height, im.width) if turned else im.size
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise BrushworkError(f"frame '{f}' is not a picture brushwork can read (another kind of file, or "
                                 "damaged): replace it or move it out of the folder, then run again") from None
        if not one_size:
            continue
        out = tuple(fit_long_side(*shown, size)) if size is not None else shown
        if first is None:
            first = (f, shown, out)
        elif out != first[2]:
            raise BrushworkError(f"frame '{f.name}' is {shown[0]}x{shown[1]}, the first frame '{first[0].name}' "
                                 f"{first[1][0]}x{first[1][1]}: a video file's frames have one size: resize them, "
                                 "or write a folder of frames")


def stylize_video(
    source: str | os.PathLike,
    styles: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    strength: float = 1.0,
    style_weights: Sequence[float] | None = None,
    size: int | None = None,
    smoothing: float = 0.9,
    consistency: float = 0.7,
    decoder: str | os.PathLike | None = None,
    tile: int | str | None = "auto",
    device: str = "auto",
    progress: bool = True,
    watermark: bool = True,
    transform: str = "adain",
    match: str = "full",
    fps: float | None = None,
    weights: str | os.PathLike | None = None,
    trust_weights: bool = False,
    resume: bool = True,
    info: dict | None = None,
) -> int:
    """Stylize a video file or a folder of frames into ``output``; returns the number of frames.

    A run stopped by Ctrl-C (or by an error of the system's, such as a full disk, where its state can still be
    saved) keeps the frames it made in ``.NAME.part`` beside ``output``; the same call again goes on from the next frame, as an unbroken run would
    have made it (bit for bit in a frames folder or a GIF; a video file's frames made before the stop are
    decoded and encoded once more, into one stream). ``resume=False`` starts over.

    ``weights`` is the file of the decoder's encoder where it has no packaged one (the original AdaIN
    network's ``vgg_normalised.pth``, beside its ``decoder.pth`` as ``decoder``).

    ``info``: a dict filled with the sha256 of the weights used (``weights_sha256``), for a recipe.
    ``fps`` sets the output's frame rate (default: the file's; 24 for a folder of frames). A video file's
    sound track is carried into a video output (not into a GIF or a folder of frames), unless ``fps`` changes
    the clip's length.

    ``watermark`` adds brushwork's invisible mark to every frame (``brushwork.provenance.watermark``);
    ``transform`` is ``"adain"`` or ``"wct"`` (see :func:`~brushwork.pipelines.adain.adain_transfer`);
    ``match`` is ``"full"``, ``"colors"`` or ``"none"`` (see :func:`~brushwork.pipelines.adain.match_styles`).
    ``tile``: a frame larger than it is painted in tiles of that size, its statistics taken from a copy reduced to
    it; ``"auto"`` (the default) takes the statistics at 1024 px and paints 512 px tiles on a CPU (1024 px on a GPU:
    :func:`~brushwork.pipelines.stylize.default_tile`); None paints every frame in one pass.
    """
    from .. import runtime
    from ..imaging.io import to_tensor
    from ..imaging.resampling import fit_long_side, resize
    from .stylize import (ADAIN_STYLE_MAX_SIDE, _cached_decoder, _cached_encoder, check_default_dtype, checked_tile,
                          painted_colours, read_style)

    check_default_dtype()

    if not 0.0 <= strength <= 1.0:
        raise BrushworkError(f"strength must be in [0, 1], got {strength}")
    if not 0.0 <= smoothing < 1.0:
        raise BrushworkError(f"smoothing must be in [0, 1), got {smoothing}")
    if not 0.0 <= consistency < 1.0:
        raise BrushworkError(f"consistency must be in [0, 1), got {consistency}")
    if not styles:
        raise BrushworkError("at least one style image is needed")
    if transform not in TRANSFORMS:
        raise BrushworkError(f"transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
    if match not in MATCHES:
        raise BrushworkError(f"match must be one of {', '.join(MATCHES)}, got {match!r}")
    tile = checked_tile(tile)
    if style_weights is not None and len(style_weights) != len(styles):
        raise BrushworkError(f"{len(styles)} style image(s) but {len(style_weights)} style weight(s): give one weight "
                             "per style")
    out = Path(output)
    if not is_frames_folder(out) and out.suffix.lower() not in VIDEO_SUFFIXES:
        raise BrushworkError(f"output '{out}' has an unknown video extension: use {', '.join(VIDEO_SUFFIXES)} or a folder")
    if not out.parent.is_dir():
        raise BrushworkError(f"output folder '{out.parent}' does not exist: create it first")
    if consistency > 0:
        _FlowBlend(consistency)  # fails now, not after the first frame, when OpenCV is missing
    _check_frames_output(out, [source, *styles])
    # (transparency painted as a picture's is, and kept where the output holds it: a folder of PNGs or a GIF; a
    # video file shows the painted frame over white, as a JPEG of a transparent picture does)
    frames, own_fps, audio = read_frames(source, keep_alpha=True)
    # (the header's duration is the longest stream's: a sound track that outlasts the picture is no damage)
    announced = announced_frames(source)
    expected = None if audio else announced
    total = announced  # (for the progress bar: a sound track that outlasts the picture makes it an estimate)
    files = frame_files(source) if Path(source).is_dir() else None  # (a frames folder's, listed once)
    if files is not None:
        _check_frames(files, size, one_size=not is_frames_folder(out))
        total = len(files)
    elif Path(source).suffix.lower() == ".gif":
        total = _gif_frames(source)
    if fps is not None and audio and abs(fps - own_fps) > 1e-3:
        import sys

        print(f"brushwork: note: --fps {fps:g} changes the clip's length ({own_fps:g} fps): its sound is left out, "
              "as it would no longer fit the pictures", file=sys.stderr)
        audio = False
    durations = None if fps is not None else frame_durations(source)  # (--fps: an even pace, as asked)
    if durations and out.suffix.lower() != ".gif" and not is_frames_folder(out):
        import sys

        print(f"brushwork: note: '{Path(source).name}' shows its frames for different times ({min(durations)} to "
              f"{max(durations)} ms): a video file plays them at an even {own_fps:.3g} fps, the same length in all "
              "(write a .gif to keep each frame's own time)", file=sys.stderr)
    fps = fps or own_fps
    from ..imaging.io import GIF_MAX_FPS

    if out.suffix.lower() == ".gif" and fps > GIF_MAX_FPS:
        import sys

        print(f"brushwork: note: a GIF plays at most {GIF_MAX_FPS} fps in browsers: its frames are shown at that rate "
              f"(write an .mp4 to keep {fps:g} fps)", file=sys.stderr)
    dev = runtime.resolve_device(device)
    dec = _cached_decoder(None if decoder is None else str(decoder), dev)
    net = AdaINNet(_cached_encoder(dec.config.encoder, None if weights is None else str(weights), dev, False,
                                   trust_weights),
                   dec)
    if info is not None:  # (the recipe's: which weights painted the frames, as stylize records them)
        from .stylize import _weights_sha256

        info["weights_sha256"] = _weights_sha256(net)
    style_ts, style_as, targets = [], [], []
    for s in styles:
        img = read_style(s)
        side = fit_long_side(*img.size, min(max(img.size), ADAIN_STYLE_MAX_SIDE))
        style_ts.append(resize(to_tensor(img.rgb, dev), side))
        style_as.append(None if img.alpha is None else img.alpha_tensor(side, dev).clamp(0, 1))
        targets.append(style_target(style_ts[-1], where=style_as[-1]))  # from its opaque pixels

    stylizer = FrameStylizer(net, style_ts, alpha=strength, style_weights=style_weights, smoothing=smoothing,
                             consistency=consistency, tile=tile, transform=transform, match=match, targets=targets,
                             style_alphas=style_as)
    # the key of everything a frame depends on (files by name, size and time: a long video is not hashed)
    import hashlib
    import json

    from .. import __version__

    def seen(f: str | os.PathLike | None) -> list | None:
        if f is None:
            return None
        q = Path(os.path.abspath(f))
        if q.is_dir():  # (a trained decoder's folder: its files)
            return [seen(c) for c in sorted(q.iterdir()) if c.is_file()]
        st = q.stat()
        return [str(q), st.st_size, st.st_mtime_ns]

    key = hashlib.sha256(json.dumps({
        "source": [os.path.abspath(f) for f in files] if files is not None else seen(source),
        "styles": [seen(s) for s in styles], "decoder": seen(decoder), "weights": seen(weights),
        "settings": [strength, style_weights, size, smoothing, consistency, tile, str(dev), watermark, transform,
                     match, fps, audio], "versions": [__version__, torch.__version__],
    }, default=str).encode()).hexdigest()
    target = _Output(out, fps, audio_from=source if audio else None, key=key, take_up=resume,
                     durations=durations if out.suffix.lower() == ".gif" else None,
                     prints=None if files is None else [seen(f)[1:] for f in files])
    saved = target.resume()
    if saved is not None:
        stylizer.load_state_dict(saved)
    if saved is not None or target.discarded:
        import sys

        print(f"brushwork: video: going on from frame {target.done + 1}: the first {target.done} were made by the "
              f"run stopped earlier (--no-resume starts over)" if saved is not None else
              f"brushwork: note: starting over (--no-resume): the {target.discarded} frames of a stopped run in "
              f"'{target.work}' are removed" if not resume else
              f"brushwork: note: starting over: the {target.discarded} frames of a stopped run in '{target.work}' "
              "were made with other settings or inputs", file=sys.stderr)
    snapshot = stylizer.state_dict()  # after the last frame kept
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(unit="frame", desc="video", disable=None, initial=target.done, total=total)
    count = 0
    try:
        for count, f in enumerate(frames, 1):
            if count <= target.done:  # made by the run stopped earlier (decoded, as a video is read in order)
                continue
            x = torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1)[None].to(dev, torch.float32) / 255.0
            if size is not None:
                x = resize(x, fit_long_side(x.shape[-1], x.shape[-2], size))
            a = x[:, 3:] if x.shape[1] == 4 else None  # a frame with transparency: painted as a picture is
            x = x[:, :3] if a is None else painted_colours(x[:, :3], a)  # (its own colours, fading to white)
            y = stylizer(x) if a is None else stylizer(x, opaque=a)
            frame = (y[0].permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
            if a is not None:
                frame = np.concatenate([frame, (a[0, 0].cpu().numpy() * 255 + 0.5).astype(np.uint8)[..., None]], -1)
            if watermark:
                from PIL import Image

                from ..provenance.watermark import embed_watermark

                frame = np.asarray(embed_watermark(Image.fromarray(frame)))
            with interrupts_deferred("frame"):  # (the frame kept and the state after it: together)
                target.add(frame)
                snapshot = stylizer.state_dict()
            if bar is not None:
                bar.update(1)
        if bar is not None and not bar.disable and bar.total != bar.n:  # (a header's estimate: the bar ends full at the frames there were)
            bar.total = bar.n
            bar.refresh()
        if count < target.done:
            raise BrushworkError(f"the input now gives {count} frames, fewer than the {target.done} made by the run "
                                 "stopped earlier: run again with --no-resume")
        if expected and count < 0.9 * expected:  # (a truncated download or a damaged file: decoded without a word)
            import sys

            print(f"brushwork: note: decoded {count} of the about {expected} frames the video's header announces: the "
                  "file looks truncated or damaged (check it plays to its end)", file=sys.stderr)
        return target.finish()
    except (KeyboardInterrupt, OSError, WriteFailed, FrameUnreadable) as exc:  # Ctrl-C, a full disk, a broken frame:
        if target.keep(snapshot):  # what was made is kept for the next run
            import sys

            again = "the same command again" if resume else "the command again without --no-resume"
            fix = "replace that frame, then " if isinstance(exc, FrameUnreadable) else ""
            print(f"brushwork: video: {target.done} frames are kept in '{target.work}': {fix}run {again} to go on from "
                  f"frame {target.done + 1}", file=sys.stderr)
        raise
    except BaseException:
        target.discard()
        raise
    finally:
        if bar is not None:
            bar.close()
