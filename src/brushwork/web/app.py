"""The REST API and the studio page: ``create_app()`` gives the FastAPI (ASGI) application.

Design:

- Long work (stylize) goes through :class:`~brushwork.web.jobs.JobQueue`: bounded workers and a bounded
  waiting line (429 with ``Retry-After`` beyond it), progress as server-sent events, cancellation.
  Quick work (palette, harmony, recolour, composition, GAN samples, classification, the AdaIN preview)
  is answered directly.
- Every picture the service makes is written (with its recipe and the watermark) under
  ``DATA_DIR/results`` and recorded in the gallery, so a restart loses no finished result. A stylize
  result's recipe is the equivalent ``brushwork stylize`` command over the stored uploads, so the CLI
  can reproduce it: ``brushwork reproduce RESULT --inputs DATA_DIR/uploads``.
- Safety: uploads are limited in bytes and pixels, their type is sniffed from the content (never the
  file name), files are stored under names the server makes (a sha256), and every client-supplied
  name is checked against a pattern, so no path traversal is possible. A token is required for the API
  when the server listens beyond this machine. User mistakes are 4xx JSON ``{"error": "..."}``; only
  real bugs are 500.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import BrushworkError, WeightsError, list_items
from ..imaging.decode import JPEG_FORMATS, has_alpha
from ..weights import sha256_file
from .jobs import Cancelled, Job, JobQueue, QueueFull, one_line

__all__ = ["create_app", "StudioConfig"]

STATIC = Path(__file__).with_name("static")
SNIFFED = {"PNG": ".png", "JPEG": ".jpg", "MPO": ".jpg", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif"}
_NAME = re.compile(r"^[0-9a-f]{16}(-[0-9a-z]+)?\.(png|webp)$")  # result files the server names
_PREVIEW_SIDE = 256
_PREVIEW_THIN = 32  # px: the short side a preview enlarges a thin picture to (the encoder's features need it)


@dataclass
class StudioConfig:
    """What ``brushwork serve`` decides.

    Attributes:
        data_dir: uploads and results live here (``uploads/``, ``results/``).
        token: required on every API request when set (``Authorization: Bearer TOKEN``, an
            ``X-Brushwork-Token`` header, or ``?token=`` for links and event streams).
        workers: stylize jobs run at once; max_waiting: jobs accepted beyond them (then 429).
        max_upload_bytes, max_pixels: per uploaded image.
        gallery: where results are recorded (a path or URL; None: ``$BRUSHWORK_GALLERY`` or the
            default; ``"off"``: not recorded).
        device: torch device for the models.
        allowed_hosts: the host names a request's ``Host`` and ``Origin`` may carry; anything else is
            refused (a web page elsewhere, or DNS rebinding, cannot drive a studio on 127.0.0.1).
    """

    data_dir: Path
    token: str | None = None
    workers: int = 1
    max_waiting: int = 8
    max_upload_bytes: int = 25 * 2**20
    max_pixels: int = 40_000_000
    gallery: str | None = None
    device: str = "cpu"
    bundled_styles: dict[str, Path] = field(default_factory=dict)
    allowed_hosts: tuple[str, ...] | None = None  # Host/Origin names accepted (None: any; serve sets loopback)


class ApiError(Exception):
    """A client mistake: ``status`` and a one-line ``message`` that names the fix."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is refused, not dropped for its default


class HarmonyRequest(_Strict):
    colors: list[str] = Field(min_length=1, max_length=32, description="hex colours, e.g. #1e90ff")
    complete: str | None = Field(None, description="a harmony to complete (analogous, triadic, ...)")
    contrast: bool = False


class TagRequest(_Strict):
    tags: list[str] = Field(min_length=1, max_length=32)
    remove: bool = False


class GanSampleRequest(_Strict):
    seeds: str = Field("0-7", max_length=200, description="e.g. 0-7 or 3,17,42")
    truncation: float = Field(1.0, gt=0.0, le=1.0)


def _names_only(value: Any) -> Any:
    """A recipe with each input's ``path`` cut to its file name (served to a network: not the owner's folders)."""
    if isinstance(value, dict):
        return {k: (Path(v).name if k == "path" and isinstance(v, str) else _names_only(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_names_only(v) for v in value]
    return value


_HOST = re.compile(r"\[([0-9a-f:.]+)\](?::(\d+))?|([^:\[\]@/\s]+)(?::(\d+))?")


def _host_name(header: str) -> str:
    """The host of a Host header, without its port: ``[::1]:7860`` and ``[::1]`` -> ``::1``; anything
    malformed (``[::1]x``, ``a:1:2``) -> ``""``, which no allowed list holds."""
    return _host_port(header)[0]


def _host_port(header: str, default: int = 80) -> tuple[str, int]:
    """``(host, port)`` of a Host header or an origin's ``host[:port]``: ``[::1]:7860`` -> ``("::1", 7860)``,
    ``localhost`` -> ``("localhost", default)``; malformed -> ``("", 0)``."""
    m = _HOST.fullmatch(header.strip().lower())
    if not m:
        return "", 0
    port = m.group(2) or m.group(4)
    return m.group(1) or m.group(3), int(port) if port else default


def scrub(message: str, *paths: Path) -> str:
    """``message`` without the server's file paths (an upload is stored under its sha256; the
    sentence already names the field: "content image is 1x1 pixels ...")."""
    for p in paths:
        message = message.replace(f" '{p}'", "").replace(str(p), "the file")
    return message


_QUOTED_PATH = re.compile(r"'(?:[A-Za-z]:)?[\\/](?:[^'\\/]*[\\/])*([^'\\/]*)'")  # 'C:\a b\c.png' -> 'c.png'
_BARE_PATH = re.compile(r"(?<![\w.:/\\])(?:[A-Za-z]:)?[\\/](?:[^\s'\"\\/]+[\\/])*([^\s'\"\\/]*)")  # not in URLs


def without_paths(message: str, folders: list[Path]) -> str:
    """``message`` with the server's paths cut to their last part: files under ``folders`` (and the
    temporary folder) by name, quoted paths whole (spaces and all), then any other absolute path."""
    import tempfile

    for f in sorted(map(str, folders), key=len, reverse=True):
        message = message.replace(f + os.sep, "").replace(f, Path(f).name or f)
    message = message.replace(tempfile.gettempdir() + os.sep, os.sep)  # (it may hold spaces): a bare path now
    message = _QUOTED_PATH.sub(lambda m: f"'{m[1] or 'a folder'}'", message)
    return _BARE_PATH.sub(lambda m: m[1] or "a folder", message)
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
          (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


def _magic_format(data: bytes) -> str | None:
    """The format a file's first bytes announce (for saying that an unreadable upload is a damaged one)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:2] == b"BM" and data[6:10] == bytes(4):  # "BM", the file's size, four reserved zero bytes
        return "BMP"
    return next((fmt for magic, fmt in _MAGIC if data.startswith(magic)), None)


def _bundled_styles() -> dict[str, Path]:
    from ..pipelines.stylize import sample_path

    return {"starry_night": sample_path("style")}


class _Previewer:
    """The studio's strength slider: AdaIN at 256 px with the encoder's features cached per image, so a
    slider move costs one blend and one decoder pass."""

    def __init__(self, device: str) -> None:
        self.device = device
        self._net = None
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def _model(self):
        with self._lock:  # concurrent first requests load the model once
            if self._net is None:
                from ..models.adain import AdaINNet
                from ..pipelines.stylize import _cached_decoder, _cached_encoder

                dec = _cached_decoder(None, self.device)
                self._net = AdaINNet(_cached_encoder(dec.config.encoder, None, self.device, False, False), dec).eval()
            return self._net

    def _features(self, key: str, path: Path, content: bool, transform: str):
        import torch

        from ..imaging.io import read_image, to_tensor
        from ..imaging.resampling import fit_long_side, resize
        from ..pipelines.adain import _pad_to_multiple

        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        net = self._model()
        try:
            img = read_image(path, draft=2 * _PREVIEW_SIDE, what="content" if content else "style")
        except BrushworkError as exc:
            raise ApiError(422, scrub(str(exc), path)) from None
        side = fit_long_side(img.size[0], img.size[1], _PREVIEW_SIDE)
        if min(side) < _PREVIEW_THIN:  # a thin picture (which the job paints at its own size): enlarged to be seen
            grow = _PREVIEW_THIN / min(side)
            side = (max(_PREVIEW_THIN, round(side[0] * grow)), max(_PREVIEW_THIN, round(side[1] * grow)))
            if max(side) > 4 * _PREVIEW_SIDE:
                raise ApiError(422, f"the {'content' if content else 'style'} image is too narrow for a preview: its "
                                    "short side must be at least 1/32 of its long side")
        x = resize(to_tensor(img.rgb, self.device), side)
        alpha = None if img.alpha is None else img.alpha_tensor(side, self.device)
        if img.alpha is not None and not (img.alpha >= (1e-6 if content else 0.5)).any():  # (as the job refuses it)
            raise ApiError(422, f"the {'content' if content else 'style'} image has no "
                                f"{'visible pixel' if content else 'pixel at least half opaque'}: choose an image "
                                "with visible content")
        if content and alpha is not None:  # as the job paints it: the photo's own colours
            from ..pipelines.stylize import painted_colours

            x = painted_colours(x, alpha)
        with torch.no_grad():
            if content:
                padded, h, w = _pad_to_multiple(x, net.align)
                f = net.features(padded)
                value = (f, net.feature_stats(f, transform), h, w, alpha)  # (alpha: matched on its opaque pixels)
            else:
                from ..color.transport import style_target

                value = (net.stats(x, transform, where=alpha),  # from the style's opaque pixels, as the job's
                         style_target(x, where=alpha, enlarged=max(x.shape[-2:]) / max(img.size)))
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > 32:
                self._cache.popitem(last=False)
        return value

    def render(self, content: tuple[str, Path], style: tuple[str, Path], strength: float,
               transform: str = "adain", match: str = "full") -> bytes:
        import torch

        from ..models.adain import transfer_map
        from ..pipelines.adain import _target, match_styles

        c, c_stats, h, w, c_alpha = self._features(f"c:{transform}:{content[0]}", content[1], True, transform)
        s_stats, s_target = self._features(f"s:{transform}:{style[0]}", style[1], False, transform)
        with torch.no_grad():
            maps = [(transfer_map(c_stats, s_stats, transform, self._model().tap_channels()), s_stats[0])]
            y = self._model().decoder(_target(c, c_stats[0], maps, [1.0], None, strength))[..., :h, :w]
            # matched on the photo's opaque pixels, as the job matches it
            y, _ = match_styles(y.clamp(0, 1), [], match=match, alpha=strength, style_weights=[1.0], targets=[s_target],
                                opaque=c_alpha)
        if c_alpha is not None:  # transparent where the photo is, as the job's picture is
            y = torch.cat([y, c_alpha.to(y.dtype)], dim=1)
        arr = (y[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="PNG", compress_level=1)
        return buf.getvalue()


def _clear_old_scratch(folder: Path, older_than: float = 86400.0) -> None:
    """Remove the scratch folders of servers stopped mid-request (a day old: another server may share the data
    folder, and its requests' files are its own)."""
    import time

    for d in folder.glob("*") if folder.is_dir() else ():
        try:
            if time.time() - d.stat().st_mtime > older_than:  # (an idle server's: it makes its folder again)
                if d.is_dir():
                    shutil.rmtree(d, ignore_errors=True)
                else:
                    d.unlink()
        except OSError:
            continue


def _query_names(dependant) -> set[str]:
    """The query parameters an endpoint reads (its own and its dependencies')."""
    names = {q.alias for q in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _takes_many(annotation) -> bool:
    """Whether a parameter's type takes several values (``list[UploadFile]``, ``list[str] | None``)."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin in (list, set, tuple, frozenset):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_takes_many(a) for a in typing.get_args(annotation) if a is not type(None))
    return False


def create_app(config: StudioConfig) -> FastAPI:
    """The studio application for ``config`` (see :class:`StudioConfig`)."""
    from ..provenance.gallery import Gallery, GalleryError

    uploads, results = config.data_dir / "uploads", config.data_dir / "results"
    # a request's uploads until it is done: kept among the uploads only where a recipe names them (a queued
    # stylization, a recolouring), removed otherwise (a palette, a preview, a refused request)
    scratch_dir = config.data_dir / "scratch" / f"{os.getpid()}-{secrets.token_hex(4)}"  # (this server's own)
    _clear_old_scratch(config.data_dir / "scratch")
    for d in (uploads, results, scratch_dir):
        d.mkdir(parents=True, exist_ok=True)
    styles = config.bundled_styles or _bundled_styles()
    queue = JobQueue(workers=config.workers, max_waiting=config.max_waiting)
    previewer = _Previewer(config.device)
    gallery_lock = threading.Lock()
    state: dict[str, Any] = {"gallery": None, "gallery_error": None, "gallery_note": None}

    def gallery() -> Gallery:
        with gallery_lock:
            if state["gallery"] is None:
                g = Gallery.open(config.gallery)
                if g is None:
                    raise ApiError(404, "the gallery is turned off on this server (BRUSHWORK_GALLERY=off)")
                state["gallery"] = g
            return state["gallery"]

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        queue.shutdown()  # running jobs are asked to stop; finished results are already on disk
        shutil.rmtree(scratch_dir, ignore_errors=True)
        if state["gallery"] is not None:
            state["gallery"].close()

    # /docs is served from the package (Swagger UI 5, static/swagger/) rather than FastAPI's CDN page,
    # which stays blank offline; ReDoc has no local copy, so /redoc is off.
    async def read_as_asked(request: Request) -> None:
        """Every API request: a query parameter the endpoint does not read (a misspelling such as ``?operation=``,
        or a form's field sent in the URL: dropped, and the default used), or one it reads sent twice, is
        refused."""
        route = request.scope.get("route")
        dependant = getattr(route, "dependant", None)
        if dependant is None or not request.url.path.startswith("/api/"):
            return
        known = _query_names(dependant)
        for n in dict.fromkeys(request.query_params.keys()):
            if n == "token":  # (the token, for links and event streams)
                continue
            if n not in known:
                raise ApiError(422, f"{n[:40]}: this endpoint takes no such query parameter ("
                                    + (f"its parameters: {', '.join(sorted(known))}" if known else
                                       "it takes none: send its fields in the request body")
                                    + "; see /docs)")
            if len(request.query_params.getlist(n)) > 1:
                raise ApiError(422, f"{n[:40]}: sent {len(request.query_params.getlist(n))} times, this parameter "
                                    "takes one value")

    app = FastAPI(title="brushwork studio", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  dependencies=[Depends(read_as_asked)],
                  description="Neural tools for artists, on your own machine: style transfer, palettes, "
                              "composition, GAN samples, and the gallery of everything made.")

    # -- errors: one JSON shape, 4xx for every user mistake ----------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError):
        return JSONResponse({"error": one_line(exc.message)}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(BrushworkError)
    async def _brushwork_error(_: Request, exc: BrushworkError):
        message = str(exc)
        # (422: what was sent cannot be done, as the validation of every field says; 400 was this one path's)
        status = (404 if message.startswith("no gallery item") else 503 if isinstance(exc, (GalleryError, WeightsError))
                  else 422)  # (the server's own models missing or damaged: not the client's to fix)
        if status == 404:  # the gallery's own hint is the CLI's
            message = message.replace("see `brushwork gallery list`", "see GET /api/gallery")
        elif status == 503 and config.token:  # (a shared server: its folders are not its clients' business)
            what = "gallery" if isinstance(exc, GalleryError) else "models"
            print(f"brushwork: the studio's {what} failed: {one_line(message)}", file=sys.stderr)
            message = f"the {what} cannot be used right now (the server's log says why): try again later"
        return JSONResponse({"error": one_line(message)}, status_code=status)

    def json_fields(request: Request) -> list[str]:
        """The fields of the JSON body the request's endpoint reads (none for a form)."""
        params = getattr(getattr(request.scope.get("route"), "dependant", None), "body_params", [])
        models = [getattr(getattr(p, "field_info", None), "annotation", None) for p in params]  # (the JSON bodies)
        return sorted(f for m in models for f in getattr(m, "model_fields", {}))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        # a misspelt key ("colours") first: the field it was meant for is then also "missing", which says less
        first = next((e for e in errs if e.get("type") == "extra_forbidden"), errs[0] if errs else {})
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        kind = first.get("type")
        if kind == "json_invalid":
            message = "the request body is not valid JSON: send a JSON object (see /docs)"
        elif kind == "missing" and tuple(first.get("loc", ())) == ("body",):  # (it said "request: Field required")
            fields = json_fields(request)
            message = ("the request has no body: send a JSON object as application/json"
                       + (f" (its fields: {', '.join(fields)}; see /docs)" if fields else " (see /docs)"))
        elif (kind == "missing" and where and len(first.get("loc", ())) == 2
              and request.headers.get("content-type", "").startswith("multipart/form-data")):
            # (a form without the field, or an upload cut off on its way: the parser keeps what arrived whole)
            message = (f"{where}: missing from the form: send it as the form field '{where}' (an upload cut off "
                       "before its end arrives without it: send it again)")
        elif kind in ("model_attributes_type", "dict_type") and not where:
            message = "the request body must be a JSON object, sent as application/json (see /docs)"
        elif "UploadFile" in str(first.get("msg", "")):  # text sent where a file goes (style=starry_night)
            message = (f"{where.split('.')[0] or 'request'}: send an image file here"
                       + (" (a bundled style or gallery item goes in style_name)" if where.startswith("style") else ""))
        elif kind == "extra_forbidden":  # a JSON key the body does not have (a misspelling): its fields
            fields = json_fields(request)
            message = f"{where}: this endpoint has no such field" + (f" (its fields: {', '.join(fields)}; see /docs)"
                                                                       if fields else " (see /docs)")
        elif str(first.get("input")).strip().lower() in ("nan", "-nan", "+nan"):  # (pydantic says "less than")
            message = f"{where or 'request'}: NaN is not a number: give a number"
        else:
            message = f"{where or 'request'}: {first.get('msg', 'invalid')}"
        # the details without what was sent (it may be megabytes, or a NaN that JSON cannot carry)
        detail = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in errs[:20]]
        return JSONResponse({"error": one_line(message), "detail": json.loads(json.dumps(detail, default=str))},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": one_line(str(exc.detail))}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception):
        return JSONResponse({"error": f"internal error ({type(exc).__name__}); please report it"}, status_code=500)

    # -- host and origin, the token and the upload size, before anything is read ------------------
    @app.middleware("http")
    async def _guard(request: Request, call_next):
        path = request.url.path
        if config.allowed_hosts is not None:
            from urllib.parse import urlsplit

            host = _host_name(request.headers.get("host") or "")
            if host not in config.allowed_hosts:
                return JSONResponse({"error": f"unexpected Host '{host[:60]}': open the studio at the address "
                                     "brushwork serve printed"}, status_code=400)
            origin = request.headers.get("origin")
            if origin:  # the studio's own page only: its scheme, host and port (another local server's page is another site)
                o = urlsplit(origin)
                default = 443 if o.scheme == "https" else 80
                if (o.scheme != request.url.scheme
                        or _host_port(o.netloc, default) != _host_port(request.headers.get("host") or "", default)):
                    return JSONResponse({"error": "requests from other web sites are refused"}, status_code=403)
        if config.token and path.startswith("/api/"):
            auth = request.headers.get("authorization", "")
            given = (auth[7:] if auth.lower().startswith("bearer ") else None) or request.headers.get(
                "x-brushwork-token") or request.query_params.get("token") or ""
            if not secrets.compare_digest(given.encode(), config.token.encode()):
                return JSONResponse({"error": "a token is required: send 'Authorization: Bearer TOKEN' (printed "
                                     "by brushwork serve)"}, status_code=401)
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return JSONResponse({"error": "bad Content-Length header"}, status_code=400)
            if int(length) > config.max_upload_bytes * 2 + 2**20:  # a request holds at most two images
                return JSONResponse({"error": f"request too large: each image may be up to "
                                     f"{config.max_upload_bytes // 2**20} MB"}, status_code=413)
        return await call_next(request)

    # A request body is counted as it arrives (a chunked upload has no Content-Length to check first):
    # past the limit the request ends with 413, and nothing more is read or spooled to disk.
    limit = config.max_upload_bytes * 2 + 2**20

    class _BodyLimit:
        def __init__(self, inner) -> None:
            self.inner = inner

        async def __call__(self, scope, receive, send):
            if scope["type"] != "http":
                return await self.inner(scope, receive, send)
            seen, over, started = 0, False, False

            async def counted():
                nonlocal seen, over
                if over:
                    return {"type": "http.disconnect"}
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > limit:  # stop reading: to the app, the client has gone
                        over = True
                        return {"type": "http.disconnect"}
                return message

            async def guarded(message):
                nonlocal started
                if over:
                    return  # the app's answer to a body it never got; ours follows
                started = True
                await send(message)

            try:
                await self.inner(scope, counted, guarded)
            except Exception:  # noqa: BLE001 - the app's reaction to the cut-off body
                if not over:
                    raise
            if over and not started:
                await JSONResponse({"error": f"request too large: each image may be up to "
                                    f"{max(1, config.max_upload_bytes // 2**20)} MB"}, status_code=413)(scope, receive, send)

    app.add_middleware(_BodyLimit)

    # Quick operations (preview, palette, recolour, composition, GAN samples, classification) run in the
    # request threads; at most this many at once, so a burst of large images cannot exhaust memory.
    quick = threading.BoundedSemaphore(config.workers + 1)

    def read_as_sent(*names: str):
        """A dependency refusing a form the endpoint would read otherwise than sent: one of ``names`` (a single-file
        field) sent more than once (the endpoint used the first and dropped the rest), any other field that takes
        one value sent more than once (the last was used), a field it does not have (a misspelling such as
        ``strenght``: dropped, and the default used) or a field sent empty (the default used)."""

        async def check(request: Request) -> None:
            content_type = request.headers.get("content-type", "")
            if "multipart/form-data" not in content_type and "application/x-www-form-urlencoded" not in content_type:
                return
            try:
                form = await request.form()  # (parsed already for the endpoint: the same object)
            except Exception:  # noqa: BLE001 - a malformed body: FastAPI's own parsing says so
                return
            for n in names:
                if len(form.getlist(n)) > 1:
                    raise ApiError(422, f"{n}: the request sends {len(form.getlist(n))} files, this field takes one")
            route = request.scope.get("route")
            params = getattr(getattr(route, "dependant", None), "body_params", [])
            known = {f.alias for f in params}
            many = {f.alias for f in params if _takes_many(getattr(getattr(f, "field_info", None), "annotation", None))}
            for n, v in form.multi_items():
                if known and n not in known:
                    raise ApiError(422, f"{n[:40]}: this endpoint has no such field (its fields: "
                                        f"{', '.join(sorted(known))}; see /docs)")
                if n in known and n not in many and len(form.getlist(n)) > 1:  # (the last was used, silently)
                    raise ApiError(422, f"{n[:40]}: sent {len(form.getlist(n))} times, this field takes one value")
                if isinstance(v, str) and not v.strip():
                    raise ApiError(422, f"{n[:40]} is empty: give a value, or leave the field out for its default")

        return Depends(check)

    def bounded(fn):
        import functools

        @functools.wraps(fn)
        def run(*args, **kwargs):
            if not quick.acquire(timeout=1):  # a full house answers at once, not after holding a request thread
                raise ApiError(429, "busy: try again shortly", headers={"Retry-After": "5"})
            try:
                return fn(*args, **kwargs)
            finally:
                quick.release()

        return run

    # -- uploads -------------------------------------------------------------------------------------
    async def request_scratch():
        """A dependency: the list of this request's scratch uploads (:func:`store`), removed when it is done (async:
        no thread of the pool is taken for it, which the slider's previews would feel)."""
        made: list[Path] = []
        try:
            yield made
        finally:
            for f in made:
                f.unlink(missing_ok=True)

    def keep(path: Path) -> Path:
        """A scratch upload moved among the uploads (under its sha256: a recipe names it); others as they are."""
        if path.parent != scratch_dir:
            return path
        kept = uploads / path.name.split("-", 1)[1]
        if kept.exists():
            path.unlink(missing_ok=True)
        else:
            path.replace(kept)
        return kept

    verified: OrderedDict[str, bool] = OrderedDict()  # the sha256 of uploads read whole lately (scratch ones too)
    preview_checked: OrderedDict[tuple[str, str], bool] = OrderedDict()  # (sha256, role) a preview has accepted
    memo_lock = threading.Lock()

    def remember(memo: OrderedDict, key: Any, most: int = 256) -> None:
        """``key`` into a memo of the last ``most`` (the studio's threads share them)."""
        with memo_lock:
            memo[key] = True
            while len(memo) > most:
                memo.popitem(last=False)

    def busy() -> ApiError:
        return ApiError(429, f"busy: {queue.active()} jobs running or waiting; try again shortly",
                        headers={"Retry-After": "5"})

    def store(upload: UploadFile | None, what: str, scratch: list[Path] | None = None) -> tuple[str, Path]:
        """Check and store an uploaded image under its sha256; returns ``(sha256, path)``. With ``scratch`` (a
        request's :func:`request_scratch`), under a name of its own in the scratch folder, for the request only
        (:func:`keep` moves it among the uploads)."""
        if upload is None:
            raise ApiError(422, f"{what}: an image file is required")
        data = upload.file.read(config.max_upload_bytes + 1)
        if len(data) > config.max_upload_bytes:
            raise ApiError(413, f"{what} is larger than {config.max_upload_bytes // 2**20} MB: send a smaller file")
        if not data:
            raise ApiError(422, f"{what} is empty")
        sha = hashlib.sha256(data).hexdigest()
        fmt = None
        try:
            with Image.open(io.BytesIO(data)) as im:
                fmt, (w, h) = im.format, im.size
                if fmt not in SNIFFED:
                    raise ApiError(415, f"{what} is a {fmt} image: send PNG, JPEG, WebP, GIF, BMP or TIFF")
                if w * h > config.max_pixels:
                    raise ApiError(413, f"{what} has {w}x{h} pixels, more than {config.max_pixels:,}: scale it down")
                if (uploads / f"{sha}{SNIFFED[fmt]}").exists():  # stored, so checked whole, before
                    return sha, uploads / f"{sha}{SNIFFED[fmt]}"
                checked = sha in verified  # (the same bytes read whole a moment ago: a slider's preview)
                if not checked:
                    im.verify()  # PNG's chunk checksums, not whether its compressed pixels decode: so every format is decoded
            if not checked:
                with Image.open(io.BytesIO(data)) as im:
                    if fmt in JPEG_FORMATS:  # at 1/8 scale, which still reads every scan
                        im.draft("RGB", (max(1, w // 8), max(1, h // 8)))
                    im.load()
                remember(verified, sha)
        except ApiError:
            raise
        except Image.DecompressionBombError:
            raise ApiError(413, f"{what} declares more pixels than any image brushwork opens: scale it down") from None
        except (OSError, SyntaxError, ValueError):
            fmt = fmt or _magic_format(data)
            if fmt is not None:  # it begins as an image: the rest is missing or damaged
                raise ApiError(415, f"{what} is a damaged or truncated {fmt} file (it could not be read to the "
                                    "end): save or export it again") from None
            raise ApiError(415, f"{what} is not an image (the content was checked, not the file name): send "
                                "PNG, JPEG, WebP, GIF, BMP or TIFF") from None
        path = uploads / f"{sha}{SNIFFED[fmt]}"
        if scratch is not None and not path.exists():
            scratch_dir.mkdir(parents=True, exist_ok=True)  # (removed as stale by another server after a long idle)
            path = scratch_dir / f"{secrets.token_hex(8)}-{sha}{SNIFFED[fmt]}"
            scratch.append(path)
            path.write_bytes(data)
        elif not path.exists():
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
            tmp.write_bytes(data)
            tmp.replace(path)
        return sha, path

    def read_upload(upload: UploadFile | None, what: str, scratch: list[Path], **kwargs):
        """``store`` (for the request only) then ``read_image``; errors name the form field, not the file stored on
        the server."""
        return read_stored(store(upload, what, scratch)[1], what, **kwargs)

    def read_stored(path: Path, what: str, **kwargs):
        from ..imaging.io import read_image

        try:
            return read_image(path, what=what, **kwargs)
        except BrushworkError as exc:
            raise ApiError(422, scrub(str(exc), path)) from None

    def checked_image(path: Path, what: str, size: int | None = None) -> Path:
        """What a queued job would fail on, refused before it is queued: not an image, too small, or (at
        ``size``, the output's long side) too thin."""
        from ..imaging.resampling import fit_long_side
        from ..pipelines.stylize import MIN_SIDE

        style = what.startswith("style")
        try:
            with Image.open(path) as im:
                w, h = im.size
                blank = False
                if has_alpha(im):  # nothing visible to paint
                    a = np.asarray(im.convert("RGBA").getchannel("A"))
                    blank = not (a >= 128).any() if style else not a.any()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise ApiError(415, f"{what} is not an image: choose an image file") from None
        if blank:  # (a style's colours come from its pixels at least half opaque)
            raise ApiError(422, f"{what} has no {'pixel at least half opaque' if style else 'visible pixel'}: choose "
                                "an image with visible content")
        if min(w, h) < MIN_SIDE:
            raise ApiError(422, f"{what} is {w}x{h} pixels, too small: its shorter side must be at least {MIN_SIDE}")
        if size is not None and min(fit_long_side(w, h, size)) < MIN_SIDE:
            ow, oh = fit_long_side(w, h, size)
            raise ApiError(422, f"{what} would be {ow}x{oh} pixels at size {size}: its shorter side must be at least "
                                f"{MIN_SIDE}; raise size or crop it to a less extreme shape")
        return path


    def style_source(style: UploadFile | None, style_name: str | None,
                     scratch: list[Path] | None = None) -> tuple[str, Path]:
        if style is not None and style_name:
            raise ApiError(422, "give a style upload or a style_name, not both")
        if style is not None:
            return store(style, "style", scratch)
        if not style_name:
            raise ApiError(422, "style: upload an image or name one (see GET /api/styles)")
        if style_name in styles:
            p = styles[style_name]
            return sha256_file(p), p  # (remembered per path, size and mtime)
        m = re.fullmatch(r"gallery:(\d{1,9})", style_name)
        if m:
            try:
                it = gallery().get(int(m.group(1)))
            except GalleryError as exc:
                if not str(exc).startswith("no gallery item"):
                    raise
                raise ApiError(404, f"gallery item {m.group(1)} no longer exists (deleted?): choose another "
                                    "style") from None
            p = Path(it.path)
            if not p.is_file():
                raise ApiError(410, f"gallery item {it.id}'s file is gone: choose another style")
            checked_image(p, f"gallery item {it.id}")
            try:
                sha = sha256_file(p)
            except OSError:
                raise ApiError(410, f"gallery item {it.id}'s file cannot be read: choose another style") from None
            if sha != it.sha256:  # (its thumbnail shows the picture as made: another one would be painted with)
                raise ApiError(409, f"gallery item {it.id}'s file has changed since it was made: choose another style")
            # a copy among the uploads, as an uploaded style: the job and its rerun (reproduce looks there) read
            # the picture as it is now, wherever the item's own file goes later
            copy = uploads / f"{sha}{p.suffix.lower()}"
            if not copy.exists():
                tmp = copy.with_name(f".{copy.name}.{secrets.token_hex(4)}.part")
                shutil.copyfile(p, tmp)
                tmp.replace(copy)
            return sha, copy
        raise ApiError(404, f"no style named '{style_name[:60]}': see GET /api/styles, or use gallery:ID")

    loaded: dict[str, Any] = {}

    def models(name: str):
        """The shipped GAN or classifier, loaded (and sha256-checked) once per server."""
        with gallery_lock:
            if name not in loaded:
                if name == "gan":
                    from ..pipelines.gan import load_gan

                    loaded[name] = load_gan(None, config.device)
                else:
                    from ..pipelines.classify import load_classifier

                    loaded[name] = load_classifier("medium")
            return loaded[name]

    def record(path: Path, image: Image.Image, recipe: dict | None, operation: str) -> int | None:
        try:
            return gallery().add(path, image, recipe, operation)
        except ApiError as exc:  # turned off: nothing private in the message
            state["gallery_note"] = f"not recorded in the gallery: {exc.message}"
            return None
        except GalleryError as exc:  # its message may name the server's files: the owner reads it, once
            if str(exc) != state["gallery_error"]:
                print(f"brushwork studio: warning: not recorded in the gallery: {exc}", file=sys.stderr)
            state["gallery_error"] = str(exc)
            state["gallery_note"] = "not recorded in the gallery: it cannot be used just now (the server's log says why)"
            return None

    def save_result(image: Image.Image, name: str, recipe: dict | None, operation: str, mark: bool) -> dict:
        from ..imaging.io import save_image

        path = results / name
        save_image(image, path, recipe=recipe, watermark=mark)
        if mark and recipe is not None:  # as the file's own recipe says (save_image adds it to its copy)
            from ..provenance.watermark import SCHEME

            recipe = {**recipe, "watermark": SCHEME}
        gid = record(path, image, recipe, operation)
        out = {"image_url": f"/api/results/{name}", "gallery_id": gid, "width": image.width, "height": image.height}
        if gid is None and state["gallery_note"]:
            out["note"] = state["gallery_note"]
        return out

    # -- service -------------------------------------------------------------------------------------
    @app.head("/api/health", include_in_schema=False)  # (a monitor's HEAD: one operation in the schema, GET's)
    def health_head() -> Response:
        return Response(status_code=200)

    @app.get("/api/health", tags=["service"])
    def health() -> dict:
        """The service's state, and what the page needs to know before it sends anything: whether results
        are recorded in a gallery, and the limits uploads must keep to."""
        from ..provenance.gallery import gallery_url

        try:  # from the settings, without connecting: a database that is down must not slow this down
            gallery_on = gallery_url(config.gallery) is not None
        except BrushworkError:  # a path no database URL can carry: the gallery cannot be used
            gallery_on = False
        return {"status": "ok", "version": __version__, "jobs_active": queue.active(),
                "workers": config.workers, "max_waiting": config.max_waiting, "gallery": gallery_on,
                "limits": {"max_upload_bytes": config.max_upload_bytes, "max_pixels": config.max_pixels}}

    @app.get("/api/styles", tags=["stylize"])
    def list_styles() -> dict:
        return {"styles": [{"name": n, "url": f"/api/styles/{n}"} for n in styles]}

    @app.get("/api/styles/{name}", tags=["stylize"])
    @app.head("/api/styles/{name}", include_in_schema=False)
    def style_image(name: str):
        if name not in styles:
            raise ApiError(404, f"no bundled style '{name[:60]}': see GET /api/styles")
        return FileResponse(styles[name])

    @app.post("/api/preview", tags=["stylize"], responses={200: {"content": {"image/png": {}}}},
              dependencies=[read_as_sent("content")])
    @bounded
    def preview(content: UploadFile = File(...), style: list[UploadFile] | None = File(None),
                mask: list[UploadFile] | None = File(None),
                style_name: str | None = Form(None), strength: float = Form(0.5, ge=0.0, le=1.0),
                transform: str = Form("adain"), match: str = Form("full"),
                scratch: list = Depends(request_scratch)) -> Response:
        """A quick 256 px AdaIN preview (not saved, not recorded): what the strength slider shows.
        ``transform``: ``adain`` or ``wct`` (whitening-colouring: a closer style); ``match``: ``full``,
        ``colors`` or ``none`` (how the picture is finished: see ``/api/stylize``)."""
        from ..color.transport import MATCHES
        from ..models.adain import TRANSFORMS

        if mask or (style is not None and len(style) > 1):  # (as /api/stylize: a field it would drop must not pass)
            raise ApiError(422, "the studio paints one style over the whole picture: masks and several styles are "
                                "for `brushwork stylize` (--mask)")
        style = style[0] if style else None

        if transform not in TRANSFORMS:
            raise ApiError(422, f"transform must be {' or '.join(TRANSFORMS)}")
        if match not in MATCHES:
            raise ApiError(422, f"match must be one of {', '.join(MATCHES)}")
        c = store(content, "content", scratch)
        s = style_source(style, style_name, scratch)
        for (sha, path), what in ((c, "content"), (s, "style")):  # (too small, nothing visible: as the job refuses)
            if (sha, what) not in preview_checked:  # (a slider's next move: the same picture, checked a moment ago)
                checked_image(path, what)
                remember(preview_checked, (sha, what))
        return Response(previewer.render(c, s, strength, transform, match), media_type="image/png")

    @app.post("/api/stylize", status_code=202, tags=["stylize"], dependencies=[read_as_sent("content")])
    def stylize_job(content: UploadFile = File(...), style: list[UploadFile] | None = File(None),
                    mask: list[UploadFile] | None = File(None), style_weights: str | None = Form(None),
                    style_name: str | None = Form(None), method: str = Form("adain"),
                    strength: float = Form(0.5, ge=0.0, le=1.0), size: int = Form(512, ge=64, le=4096),
                    preserve_color: str = Form("none"), seed: int = Form(0, ge=0, le=2**31 - 1),
                    init: str = Form("content"), transform: str = Form("adain"),
                    match: str | None = Form(None), init_match: str | None = Form(None),
                    scratch: list = Depends(request_scratch)) -> dict:
        """Queue a stylization; follow it at ``/api/jobs/{id}`` (or ``/events``), fetch ``result.image_url``.

        ``init`` (Gatys): ``content``, ``noise`` or ``adain`` (start from the AdaIN picture: seconds, not minutes).
        ``transform`` (AdaIN): ``adain`` or ``wct`` (whitening-colouring: a closer style).
        ``match`` (AdaIN): ``full`` (the default: the picture's colours and detail contrast mapped to the
        style's), ``colors`` or ``none`` (the decoder's picture as it is). ``init_match`` (Gatys with
        ``init=adain``): the same finish for the AdaIN start (default ``full``).
        """
        from ..pipelines.stylize import METHODS, PRESERVE_COLOR

        # one style, everywhere: what the studio takes (a field it would drop must not pass for one it honoured)
        if mask or style_weights is not None or (style is not None and len(style) > 1):
            raise ApiError(422, "the studio paints one style over the whole picture: masks, several styles and "
                                "style_weights are for `brushwork stylize` (--mask, --style-weights)")
        style = style[0] if style else None
        if method not in METHODS:
            raise ApiError(422, f"method must be one of {', '.join(METHODS)}")
        if preserve_color not in PRESERVE_COLOR:
            raise ApiError(422, f"preserve_color must be one of {', '.join(PRESERVE_COLOR)}")
        if init not in ("content", "noise", "adain") or (method == "adain" and init != "content"):
            raise ApiError(422, "init must be content, noise or adain, and applies to the gatys method only")
        from ..models.adain import TRANSFORMS

        if transform not in TRANSFORMS or (method != "adain" and transform != "adain"):
            raise ApiError(422, f"transform must be {' or '.join(TRANSFORMS)}, and applies to the adain method only")
        from ..color.transport import MATCHES

        if match is not None and match not in MATCHES:
            raise ApiError(422, f"match must be one of {', '.join(MATCHES)}")
        if match is not None and method == "gatys" and init == "adain":  # (none too: it is not the start's; asked
            raise ApiError(422, f"match applies to the adain method; the AdaIN start of init=adain takes "  # first,
                                f"init_match={match}")  # as the general refusal below hid this advice: docs audit)
        if match not in (None, "none") and method != "adain":
            raise ApiError(422, f"match {match} applies to the adain method (Gatys matches the style itself): "
                                "send method=adain or leave match out")
        if init_match is not None and (init_match not in MATCHES or method != "gatys" or init != "adain"):
            raise ApiError(422, f"init_match must be one of {', '.join(MATCHES)}, and finishes the AdaIN start of "
                                "method=gatys with init=adain only")
        (_, c_path), (_, s_path) = store(content, "content", scratch), style_source(style, style_name, scratch)
        checked_image(c_path, "content", size)
        checked_image(s_path, "style")
        if queue.full():  # (refused before its uploads are kept)
            raise busy()
        c_path, s_path = keep(c_path), keep(s_path)  # (accepted: the job, its recipe and its reruns read them)

        def work(job: Job) -> dict:
            from ..pipelines.stylize import stylize
            from ..provenance.recipe import command_recipe

            for what, p in (("content", c_path), ("style", s_path)):  # (removed while the job waited in the queue)
                if not p.is_file():
                    raise BrushworkError(f"the {what} image is no longer on the server (removed before the job "
                                         "started): upload it again")
            try:
                result = stylize(c_path, [s_path], method=method, strength=strength, size=size,
                                 preserve_color=preserve_color, seed=seed, init=init, transform=transform,
                                 match=match, init_match=init_match, device=config.device,
                                 should_stop=lambda: job.cancel_requested,
                                 on_progress=lambda d, t: job.update(progress=min(0.99, d / max(t, 1))))
            except BrushworkError as exc:  # the job's message names the inputs, not the server's files
                raise BrushworkError(scrub(str(exc), c_path, s_path)) from None
            if job.cancel_requested:
                raise Cancelled
            name = f"{job.id}.png"
            argv = ["stylize", str(c_path), str(s_path), "-o", str(results / name), "--method", method,
                    "--strength", str(strength), "--size", str(size), "--preserve-color", preserve_color,
                    "--seed", str(seed), *(["--init", init] if init != "content" else []),
                    *(["--transform", transform] if transform != "adain" else []),
                    *(["--match", match] if match is not None else []),
                    *(["--init-match", init_match] if init_match is not None else [])]
            recipe = command_recipe(argv, results / name, {**result.params, "studio": True},
                                    output_options={"-o"})
            out = save_result(result.image, name, recipe, "stylize", mark=True)
            return {**out, "seconds": round(result.seconds, 2), "notes": result.notes}

        try:
            job = queue.submit("stylize", work)
        except QueueFull:  # (filled since the check above: its uploads stay, as another request may share them)
            raise busy() from None
        return job.to_dict()

    @app.get("/api/jobs/{job_id}", tags=["jobs"])
    def job_status(job_id: str) -> dict:
        return _job(job_id).to_dict()

    @app.delete("/api/jobs/{job_id}", tags=["jobs"])
    def job_cancel(job_id: str) -> dict:
        job = queue.cancel(job_id)
        if job is None:
            raise ApiError(404, f"no job '{job_id[:40]}' (finished results are in the gallery)")
        return job.to_dict()

    @app.get("/api/jobs/{job_id}/events", tags=["jobs"])
    async def job_events(job_id: str, request: Request) -> StreamingResponse:
        """Server-sent events: the job as JSON on every change, until it is done."""
        job = _job(job_id)

        async def stream():
            seen, idle = -1, 0
            while True:
                # Short waits: a thread is held at most a second, and a client that left is noticed.
                version = await asyncio.to_thread(job.wait_change, seen, 1.0)
                if await request.is_disconnected():
                    return
                if version == seen:
                    idle += 1
                    if idle % 10 == 0:
                        yield ": keep-alive\n\n"
                    continue
                idle = 0
                seen = version
                yield f"data: {json.dumps(job.to_dict())}\n\n"
                if job.done:
                    return

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    def _job(job_id: str) -> Job:
        job = queue.get(job_id)
        if job is None:
            raise ApiError(404, f"no job '{job_id[:40]}' (after a restart, finished results are in the gallery)")
        return job

    @app.get("/api/results/{name}", tags=["jobs"])
    @app.head("/api/results/{name}", include_in_schema=False)  # (curl -I, download managers)
    def result_file(name: str):
        if not _NAME.fullmatch(name) or not (results / name).is_file():
            raise ApiError(404, f"no result '{name[:60]}' (a job's picture is named by its result.image_url, given "
                                "once GET /api/jobs/{id} says done)")
        return FileResponse(results / name, media_type="image/png" if name.endswith(".png") else "image/webp")

    # -- colour and composition ----------------------------------------------------------------------
    @app.post("/api/palette", tags=["colour"], dependencies=[read_as_sent("image")])
    @bounded
    def palette(image: UploadFile = File(...), k: int = Form(6, ge=1, le=16),
                seed: int = Form(0, ge=0, le=2**64 - 1), scratch: list = Depends(request_scratch)) -> dict:
        from ..color.harmony import classify
        from ..color.palette import extract_palette

        img = read_upload(image, "image", scratch, draft=512, keep_colors=True, min_side=1)  # (as `brushwork palette`)
        pal = extract_palette(img.rgb, img.alpha, k=k, seed=seed, at_most=True)  # fewer colours: fewer swatches
        return {**pal.to_dict(), "harmony": classify(pal).to_dict()}

    @app.post("/api/harmony", tags=["colour"])
    def harmony(req: HarmonyRequest) -> dict:
        from ..color.harmony import HARMONIES, classify, complete, contrast_table
        from ..color.palette import Palette

        pal = Palette.from_hex(req.colors)
        out = {"palette": pal.hex, **classify(pal).to_dict()}
        if req.complete is not None:
            if req.complete not in HARMONIES:
                raise ApiError(422, f"complete must be one of {', '.join(HARMONIES)}")
            out["complete"] = complete(pal, req.complete)
        if req.contrast:
            out["contrast"] = contrast_table(pal)
        return out

    @app.post("/api/recolor", tags=["colour"], dependencies=[read_as_sent("image", "reference")])
    @bounded
    def recolor_image(image: UploadFile = File(...), reference: UploadFile | None = File(None),
                      palette: str | None = Form(None, max_length=2000), method: str = Form("stats"),
                      strength: float = Form(1.0, ge=0.0, le=1.0), scratch: list = Depends(request_scratch)) -> dict:
        from ..color.palette import Palette
        from ..color.recolor import METHODS as RECOLOR_METHODS, recolor
        from ..imaging.io import to_pil

        if method not in RECOLOR_METHODS:
            raise ApiError(422, f"method must be one of {', '.join(RECOLOR_METHODS)}")
        if (reference is None) == (not palette):
            raise ApiError(422, "give a reference image or a palette (one of the two)")
        from ..provenance.recipe import command_recipe

        hexes = list_items(palette or "", "palette", "#1e90ff,#ff8c1e", spaces=True)
        if palette and not hexes:
            raise ApiError(422, "palette is empty: give hex colours such as #1e90ff,#ff8c1e")
        pal = Palette.from_hex(hexes) if hexes else None
        img_path = store(image, "image", scratch)[1]
        img = read_stored(img_path, "image")
        ref_path = None if reference is None else store(reference, "reference", scratch)[1]
        ref = None if ref_path is None else read_stored(ref_path, "reference", draft=1024, keep_colors=True,
                                                        min_side=1)  # (as `brushwork recolor` reads it)
        k, seed = 6, 0  # recolor's defaults, named in the recipe
        out = recolor(img.rgb, method=method, reference=None if ref is None else ref.rgb,
                      reference_alpha=None if ref is None else ref.alpha, palette=pal, alpha=img.alpha,
                      strength=strength, k=k, seed=seed)
        name = f"{secrets.token_hex(8)}-recolor.png"
        img_path, ref_path = keep(img_path), None if ref_path is None else keep(ref_path)  # (the recipe names them)
        # the equivalent `brushwork recolor` command over the stored uploads, as for stylize: reproducible
        argv = ["recolor", str(img_path), *(["--reference", str(ref_path)] if ref_path else ["--palette", ",".join(pal.hex)]),
                "--method", method, "--strength", str(strength), "-k", str(k), "--seed", str(seed), "-o", str(results / name)]
        params = {"operation": "recolor", "method": method, "strength": strength, "k": k, "seed": seed, "studio": True}
        recipe = command_recipe(argv, results / name, params, output_options={"-o"})
        return save_result(to_pil(out, img.alpha, composited=True), name, recipe, "recolor", mark=False)

    @app.post("/api/compose", tags=["composition"], dependencies=[read_as_sent("image")])
    @bounded
    def compose(image: UploadFile = File(...), ratios: str = Form("1:1,4:5,3:2,16:9", max_length=200),
                overlay: bool = Form(False), scratch: list = Depends(request_scratch)) -> dict:
        from ..composition import READ_SIDE, analyze, parse_ratio, suggest_crops, working_saliency

        rs = list_items(ratios, "ratios", "1:1,4:5")
        if not rs:
            raise ApiError(422, "ratios is empty: give ratios such as 1:1,4:5")
        for r in rs:
            parse_ratio(r)
        stored = store(image, "image", scratch)[1]
        img = read_stored(stored, "image", min_side=8, draft=READ_SIDE)  # (read as `brushwork compose` reads it)
        if img.alpha is not None and not (img.alpha > 0).any():  # (as `brushwork compose` refuses it)
            raise ApiError(422, "image is fully transparent: it has nothing to compose; send an image with visible "
                                "content")
        sal = working_saliency(img.rgb)
        comp, crops = analyze(img.rgb, saliency=sal), suggest_crops(img.rgb, rs, saliency=sal, size=img.picture_size)
        out = {**comp.to_dict(), "crops": [c.to_dict() for c in crops]}
        if overlay:
            from ..composition.overlay import draw_overlay
            from ..imaging.io import read_flat

            try:
                picture = img.rgb if img.full_size is None else read_flat(stored, min_side=8)  # (at its own size)
            except BrushworkError as exc:
                raise ApiError(422, scrub(str(exc), stored)) from None
            out["overlay"] = save_result(draw_overlay(picture, crops, saliency=sal),
                                         f"{secrets.token_hex(8)}-overlay.png",
                                         {"operation": "compose overlay", "ratios": rs, "studio": True},
                                         "compose overlay", mark=False)
        return out

    # -- models -------------------------------------------------------------------------------------
    @app.post("/api/gan/sample", tags=["gan"])
    @bounded
    def gan_sample(req: GanSampleRequest) -> dict:
        from ..pipelines.gan import grid_image, parse_seeds, sample

        try:
            seeds = parse_seeds(req.seeds, at_most=64)  # (the studio's limit: the CLI's is larger)
        except BrushworkError as exc:
            raise ApiError(422, str(exc)) from None
        gan, sha = models("gan")
        images = sample(gan, seeds, truncation=req.truncation)
        params = {"operation": "gan sample", "checkpoint_sha256": sha, "seeds": req.seeds,
                  "truncation": req.truncation, "brushwork": __version__, "studio": True}
        return {**save_result(grid_image(images), f"{secrets.token_hex(8)}-gan.png", params, "gan sample", mark=True),
                "seeds": seeds}

    @app.post("/api/classify", tags=["classify"], dependencies=[read_as_sent("image")])
    @bounded
    def classify_image(image: UploadFile = File(...), model: str = Form("medium"),
                       top_k: int = Form(3, ge=1, le=20), scratch: list = Depends(request_scratch)) -> dict:
        from ..pipelines.classify import predict_images

        if model != "medium":
            raise ApiError(422, "model: the studio serves the shipped classifier 'medium' (photo, painting, ...)")
        net, cfg = models("classifier")
        path = store(image, "image", scratch)[1]
        try:
            return predict_images(net, cfg, [str(path)], top_k=top_k)[0] | {"image": None}
        except BrushworkError as exc:
            raise ApiError(422, scrub(str(exc), path)) from None

    # -- gallery -------------------------------------------------------------------------------------
    def item_json(it) -> dict:
        d = it.to_dict()
        d["thumbnail_url"] = f"/api/gallery/{it.id}/thumbnail"
        d["file_url"] = f"/api/gallery/{it.id}/file"
        # what the page may offer as a style: an image file (not a frames folder or a video)
        p = Path(it.path)
        d["is_image"] = p.suffix.lower() in {*SNIFFED.values(), ".jpeg", ".tiff"} and p.is_file()
        if config.token:  # served to a network: file names, not where the owner keeps them
            d["path"] = p.name
            d["inputs"] = [{**e, "path": Path(e["path"]).name} if e.get("path") else e for e in d.get("inputs", [])]
            if isinstance(d.get("recipe"), dict):
                d["recipe"] = _names_only(d["recipe"])
        return d

    @app.get("/api/gallery", tags=["gallery"])
    def gallery_search(op: str | None = Query(None, max_length=64), style: str | None = Query(None, max_length=200),
                       tag: str | None = Query(None, max_length=64), since: str | None = None,
                       until: str | None = None, limit: int = Query(50, ge=1, le=1000),
                       before: int | None = Query(None, ge=1, description="the next page: the items after this one "
                                                  "(a page's `next_before`)")) -> dict:
        """Items, newest first; ``next_before`` (when the page is full) asks for the next page with ``before``."""
        from ..provenance.gallery import time_bound

        def when(v: str | None, name: str):  # (as the CLI reads them: local time; a bare `until` includes its day)
            if v is None:
                return None
            try:
                return time_bound(v, end=name == "until")
            except (ValueError, OverflowError):
                raise ApiError(422, f"{name}: '{v[:40]}' is not a usable date (YYYY-MM-DD[THH:MM])") from None

        g = gallery()
        start, end = when(since, "since"), when(until, "until")
        try:
            g.check_operation(op)
        except BrushworkError as exc:
            raise ApiError(422, f"op: {exc}") from None
        found = g.search(operation=op, style=style, tag=tag, since=start, until=end, limit=limit, before=before)
        return {"items": [item_json(it) for it in found], "next_before": found[-1].id if len(found) == limit else None}

    @app.get("/api/gallery/{item_id}", tags=["gallery"])
    def gallery_item(item_id: int) -> dict:
        return item_json(gallery().get(_id(item_id)))

    @app.get("/api/gallery/{item_id}/thumbnail", tags=["gallery"], responses={200: {"content": {"image/webp": {}}}})
    def gallery_thumbnail(item_id: int, request: Request) -> Response:
        # as stored (it was decoded and encoded again, losing detail, 7 ms each); an item's thumbnail never
        # changes, so the browser keeps it and asks again with its ETag only after a day
        data = gallery().thumbnail_bytes(_id(item_id))
        tag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        headers = {"ETag": tag, "Cache-Control": "private, max-age=86400"}
        if tag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(data, media_type="image/webp", headers=headers)

    @app.get("/api/gallery/{item_id}/file", tags=["gallery"])
    @app.head("/api/gallery/{item_id}/file", include_in_schema=False)
    def gallery_file(item_id: int):
        from ..provenance.gallery import _sha256

        it = gallery().get(_id(item_id))
        p = Path(it.path)
        if p.is_dir():
            raise ApiError(415, f"item {it.id} is a folder of video frames: `brushwork gallery export {it.id}` copies it")
        if not p.is_file():
            raise ApiError(410, f"item {it.id}'s file is gone (moved or deleted); its thumbnail remains")
        if _sha256(p) != it.sha256:
            raise ApiError(409, f"item {it.id}'s file has changed since it was made")
        return FileResponse(p, filename=p.name)

    @app.post("/api/gallery/{item_id}/tags", tags=["gallery"])
    def gallery_tag(item_id: int, req: TagRequest) -> dict:
        return {"id": item_id, "tags": gallery().tag(_id(item_id), req.tags, remove=req.remove)}

    @app.post("/api/gallery/{item_id}/reproduce", status_code=202, tags=["gallery"])
    def gallery_reproduce(item_id: int) -> dict:
        """Queue a rerun of the item's recipe and a pixel comparison (a job; its result says
        ``identical`` and the largest difference). Inputs are looked for among the studio's uploads and
        the bundled examples."""
        it = gallery().get(_id(item_id))
        if not (it.recipe or {}).get("command"):
            raise ApiError(422, f"item {it.id} ({it.operation}) has no command to rerun: only pictures made by a "
                                "brushwork command (stylize, recolor...) can be reproduced")
        if not Path(it.path).is_file():
            raise ApiError(410, f"item {it.id}'s file is gone: nothing to compare with")
        from ..provenance.gallery import _sha256

        if _sha256(Path(it.path)) != it.sha256:  # (the rerun would check whatever picture is there now)
            raise ApiError(409, f"item {it.id}'s file has changed since it was made: nothing to compare with")
        folders = [uploads, results, *{p.parent for p in styles.values()}]
        # (a model or frames folder a CLI command named by absolute path: its recipe names it, the gallery knows where)
        folders += [Path(f) for f in gallery().folders(it.id) if Path(f).is_dir() and Path(f) not in folders]

        def work(job: Job) -> dict:
            # In its own process: the rerun sets the recipe's thread count and prints as the CLI does, which
            # in this one would touch every other job, and a cancel can stop it.
            argv = [sys.executable, "-m", "brushwork", "reproduce", str(it.path), "--json"]
            for f in folders:
                argv += ["--inputs", str(f)]
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
            try:
                while True:
                    try:
                        out, err = proc.communicate(timeout=0.5)
                        break
                    except subprocess.TimeoutExpired:
                        if job.cancel_requested:  # as Ctrl-C: the rerun removes its temporary folder and exits
                            proc.send_signal(signal.SIGINT)
                            try:
                                proc.communicate(timeout=10)
                            except subprocess.TimeoutExpired:
                                pass
                            raise Cancelled from None
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
            if proc.returncode != 0:
                lines = [ln for ln in err.splitlines() if ln.strip()]
                said = lines[-1].removeprefix("brushwork: error: ") if lines else ""
                if proc.returncode != 2 or not said:
                    print(f"brushwork: the studio's rerun of item {it.id} stopped (exit code {proc.returncode}):\n"
                          f"{err[-2000:]}", file=sys.stderr)  # for the server's log: a bug, not the user's mistake
                    raise BrushworkError(f"the rerun stopped unexpectedly (exit code {proc.returncode})")
                message = without_paths(said, folders)  # name the files, not where this server keeps them
                for cli_advice, web_advice in (("pass --inputs DIR with a folder that holds the original",
                                                "upload the original again, then reproduce"),
                                               ("pass --inputs DIR with a folder that holds it",
                                                "upload it again, then reproduce"),
                                               (" (it may have moved since: pass --inputs DIR where it is now)",
                                                " (it is no longer where it was)")):
                    message = message.replace(cli_advice, web_advice)
                raise BrushworkError(message)
            r = json.loads(out.splitlines()[-1])
            return {"identical": r["identical"], "max_difference": r["max_difference"], "summary": r["summary"]}

        try:
            return queue.submit("reproduce", work).to_dict()
        except QueueFull:
            raise ApiError(429, "busy: try again shortly", headers={"Retry-After": "5"}) from None

    @app.delete("/api/gallery/{item_id}", tags=["gallery"])
    def gallery_delete(item_id: int) -> dict:
        gone, _ = gallery().delete([_id(item_id)])
        return {"deleted": [it.id for it in gone]}

    def _id(item_id: int) -> int:
        if not 1 <= item_id <= 2**31 - 1:
            raise ApiError(404, f"no gallery item {item_id}")
        return item_id

    # -- the studio page -----------------------------------------------------------------------------
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> Response:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title} - API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js", swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
            # no badge from validator.swagger.io: nothing on this page reaches the internet
            swagger_ui_parameters={"validatorUrl": None})

    if config.token:  # Swagger's "Authorize" button then sends the token with every request it tries
        def openapi_with_token() -> dict:
            if app.openapi_schema is None:
                schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                     routes=app.routes)
                schema.setdefault("components", {})["securitySchemes"] = {
                    "token": {"type": "http", "scheme": "bearer",
                              "description": "the token brushwork serve printed"}}
                schema["security"] = [{"token": []}]
                app.openapi_schema = schema
            return app.openapi_schema

        app.openapi = openapi_with_token

    app.state.queue = queue
    app.state.config = config
    return app


def serve(config: StudioConfig, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Run the studio with uvicorn until interrupted."""
    import uvicorn

    app = create_app(config)

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            # uvicorn waits for open connections before the app's shutdown runs, and a page following a
            # job holds its progress stream open until the job ends: so stop the jobs first.
            app.state.queue.cancel_all()
            super().handle_exit(sig, frame)

    Server(uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)).run()

