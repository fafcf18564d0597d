"""The gallery: a record of every image brushwork writes, with its recipe, inputs, tags and a thumbnail.

Where it lives: ``$BRUSHWORK_GALLERY`` (a file path, or a database URL such as
``postgresql+psycopg://user@host/brushwork``), else ``$XDG_DATA_HOME/brushwork/gallery.db`` (by default
``~/.local/share/brushwork/gallery.db``), a SQLite file. ``BRUSHWORK_GALLERY=off`` turns recording off.

The schema is managed by Alembic (``provenance/migrations``); opening a gallery upgrades an older one in
place, and refuses one written by a newer brushwork rather than guess. Every write is one transaction:
SQLite runs in WAL mode and takes the write lock up front (``BEGIN IMMEDIATE``), waiting up to 30 s for
another process, so two processes writing at once both land, and a crash mid-write leaves the database
as it was before the write. Thumbnails (256 px WebP) live in the database, so an item stays viewable
after its file is moved; similarity search embeds thumbnails with the originality encoder
(EfficientNet-Lite0) on first use and keeps the embeddings.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import numbers
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from PIL import Image

from ..errors import BrushworkError
from ..files import NAME_MAX, is_file, shortened, write_atomically

__all__ = ["Gallery", "GalleryError", "Item", "gallery_url", "record_output", "not_recorded", "REVISIONS"]

REVISIONS = ("0001", "0002", "0003")  # every migration shipped, oldest first; the last is the head
THUMB_SIDE = 256
LOCK_TIMEOUT_S = 30
#: the most ids in one SQL ``IN (...)`` list (SQLite before 3.32 took at most 999 values in a statement)
IN_LIST = 500
_OFF = ("off", "none", "0", "false", "no")

metadata = sa.MetaData()
# Prefixed names (and a version table of its own): a gallery may share a PostgreSQL database with
# other applications, whose "items" or "alembic_version" it must never touch.
VERSION_TABLE = "brushwork_gallery_version"
items = sa.Table(
    "gallery_items", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("operation", sa.String(64), nullable=False, index=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("recipe", sa.JSON, nullable=True),
    sa.Column("thumbnail", sa.LargeBinary, nullable=False),
    sa.Column("embedding", sa.LargeBinary, nullable=True),
)
inputs = sa.Table(
    "gallery_inputs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.Integer, sa.ForeignKey("gallery_items.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=True, index=True),
    sa.Column("path", sa.Text, nullable=True),  # where the file was (this database only; 0002)
)
tags = sa.Table(
    "gallery_tags", metadata,
    sa.Column("item_id", sa.Integer, sa.ForeignKey("gallery_items.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag", sa.String(64), primary_key=True, index=True),
)

counters = sa.Table(  # the highest id ever given (0003): SQLite would hand a deleted newest item's id on
    "gallery_counters", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
)


class GalleryError(BrushworkError):
    """The gallery cannot be opened or written: locked, newer schema, unreachable, not a gallery."""


@dataclass
class Item:
    """One recorded image."""

    id: int
    created_at: dt.datetime
    operation: str
    path: str
    sha256: str
    width: int
    height: int
    recipe: dict | None
    tags: list[str] = field(default_factory=list)
    inputs: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        d["file_exists"] = Path(self.path).exists()
        return d


def _default_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "brushwork" / "gallery.db"


def gallery_url(where: str | os.PathLike | None = None) -> str | None:
    """The database URL for ``where`` (a path or URL), ``$BRUSHWORK_GALLERY``, or the default file;
    None when recording is turned off (``off``)."""
    raw = str(where) if where is not None else os.environ.get("BRUSHWORK_GALLERY", "")
    if raw.strip().lower() in _OFF:
        return None
    if "://" in raw:
        return raw
    path = Path(raw).expanduser() if raw else _default_path()
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:  # a name of undecodable bytes: SQLite's URL cannot carry it
        raise GalleryError(f"the gallery path {str(path)!r} is not valid UTF-8: rename it or choose another "
                           "file") from None
    return sa.engine.URL.create("sqlite", database=str(path.resolve())).render_as_string()


def _where(url: str) -> str:
    """For messages: a SQLite gallery's file, else the URL without its password."""
    try:
        u = sa.engine.make_url(url)
        return f"'{u.database}'" if u.get_backend_name() == "sqlite" else u.render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return "(an unreadable URL)"


def _engine(url: str) -> sa.Engine:
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise GalleryError(f"the gallery URL is not a database URL ({exc}): give a file path, or e.g. "
                           "postgresql+psycopg://user@host/db") from None
    if parsed.get_backend_name() == "sqlite":  # (a file path becomes sqlite:///ABSOLUTE_PATH)
        db = parsed.database or ""
        if db and db != ":memory:":
            try:
                Path(db).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise GalleryError(f"cannot create the gallery's folder '{Path(db).parent}' ({exc.strerror or exc}): "
                                   "set BRUSHWORK_GALLERY (or --gallery) to a writable place") from None
        engine = sa.create_engine(parsed, connect_args={"timeout": LOCK_TIMEOUT_S})

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" below open transactions
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {LOCK_TIMEOUT_S * 1000}")
            _set_wal(cur)  # readers never block the writer
            cur.execute("PRAGMA foreign_keys = ON")
            cur.close()
            # SQLite's own lower() lowers ASCII only: "Été" would never match a search for "été"
            dbapi_conn.create_function("lower", 1, lambda s: s.lower() if isinstance(s, str) else s, deterministic=True)

        @sa.event.listens_for(engine, "begin")
        def _begin(conn) -> None:
            # A writing transaction takes the write lock at its start: one that read first and then
            # wrote could fail with SQLITE_BUSY (which the busy timeout does not retry) when another
            # writer got in between. Readers use a plain (deferred) BEGIN and never wait for writers.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

        return engine
    try:
        extra = {"connect_args": {"connect_timeout": 10}} if parsed.get_backend_name() == "postgresql" else {}
        return sa.create_engine(parsed, pool_pre_ping=True, **extra)
    except sa.exc.NoSuchModuleError:
        raise GalleryError(f"gallery URL {_where(url)} names an unknown kind of database: give a file path, or "
                           "e.g. postgresql+psycopg://user@host/db") from None
    except ImportError as exc:
        raise GalleryError(f"the gallery URL needs a database driver ({exc.name}) that is not installed: for "
                           "PostgreSQL, pip install 'brushwork[postgres]' and write the URL as "
                           "postgresql+psycopg://...") from None


def _set_wal(cur) -> None:
    """``PRAGMA journal_mode = WAL``, retried: switching a new file to WAL needs an exclusive lock, and
    SQLite answers "database is locked" at once, without the busy timeout, when two processes switch it
    together (145 of 200 two-process races failed without the retry). A refusal that took the whole
    busy timeout is not retried."""
    jitter = random.Random()
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as exc:  # the driver's OperationalError (sqlite3, pysqlcipher, ...)
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(jitter.uniform(0.005, 0.05))


def _friendly(exc: Exception, url: str) -> GalleryError:
    text = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    low = text.lower()
    if "locked" in low or "busy" in low:
        return GalleryError(f"the gallery {_where(url)} is locked by another program (waited {LOCK_TIMEOUT_S} s): "
                            "close it and try again")
    if "not a database" in low or "malformed" in low:
        return GalleryError(f"{_where(url)} is not a readable gallery database ({text}): move it aside, or set "
                            "BRUSHWORK_GALLERY to another file")
    return GalleryError(f"cannot use the gallery {_where(url)} ({text}): check the path or the database server")


def _thumbnail(image: Image.Image) -> bytes:
    im = image.copy()
    if im.mode not in ("RGB", "RGBA"):
        from ..imaging.decode import has_alpha

        im = im.convert("RGBA" if has_alpha(im) else "RGB")
    im.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="WEBP", quality=82)
    return buf.getvalue()


def _sha256(p: Path) -> str:
    """A file's sha256; for a folder (video frames), the sha256 of its files' names and hashes."""
    import hashlib

    from .recipe import file_sha256

    if not p.is_dir():
        return file_sha256(p)
    h = hashlib.sha256()
    for f in sorted(q for q in p.rglob("*") if q.is_file()):
        h.update(f"{f.relative_to(p).as_posix()}\0{file_sha256(f)}\n".encode())
    return h.hexdigest()


def _inputs_of(recipe: dict | None) -> list[dict]:
    """The input files of a recipe with a role: content, style, or input.

    A CLI recipe lists every input file (``inputs``); a stylize recipe also names its content and styles
    (``content``, ``styles``: source and sha256), which is all an API ``save()`` has, and what a
    ``--sample-style`` run adds (the style is not on its command line). A style keeps its file's absolute
    path when this process hashed it (``recipe.local_path``): the gallery may hold it, the recipe not
    (what suggest needs; no other input file's path is kept). A model or frames folder that the command
    named by absolute path (the recipe records its name) is a ``folder`` entry with that path, without a
    sha256 (what the studio's rerun passes to ``reproduce --inputs``).
    """
    from .recipe import local_folder, local_path

    if not recipe:
        return []

    def entries(v) -> list[dict]:
        return [e for e in (v if isinstance(v, list) else [v]) if isinstance(e, dict)]

    styles = {e.get("sha256") for e in entries(recipe.get("styles"))}
    content = {e.get("sha256") for e in entries(recipe.get("content"))}
    out, seen = [], set()
    for e in entries(recipe.get("inputs")):
        if "name" not in e:
            continue
        sha = e.get("sha256")
        role = "style" if sha in styles else "content" if sha in content else "input"
        out.append({"role": role, "name": str(e["name"]), "sha256": sha,
                    "path": local_path(sha) if role == "style" else None})
        seen.add(sha)
    for role, key in (("content", "content"), ("style", "styles")):
        for e in entries(recipe.get(key)):
            if e.get("sha256") not in seen and e.get("source"):
                out.append({"role": role, "name": Path(str(e["source"])).name, "sha256": e.get("sha256"),
                            "path": local_path(e.get("sha256")) if role == "style" else None})
                seen.add(e.get("sha256"))
    command = recipe.get("command")
    for tok in dict.fromkeys(t for t in (command if isinstance(command, list) else []) if isinstance(t, str)):
        if where := local_folder(tok):
            out.append({"role": "folder", "name": tok, "sha256": None, "path": where})
    return out


class Gallery:
    """A gallery database (see the module docstring). Open with :meth:`open`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)
        try:
            self._migrate()
        except GalleryError:
            self.engine.dispose()
            raise
        except sa.exc.SQLAlchemyError as exc:
            self.engine.dispose()
            raise _friendly(exc, url) from None

    @classmethod
    def open(cls, where: str | os.PathLike | None = None) -> Gallery | None:
        """The gallery at ``where`` (or ``$BRUSHWORK_GALLERY``, or the default file); None when off."""
        url = gallery_url(where)
        return None if url is None else cls(url)

    @classmethod
    def open_existing(cls, where: str | os.PathLike | None = None) -> Gallery | None:
        """As :meth:`open`, but None also when the gallery is a SQLite file that does not exist yet (for
        readers, which should not create one)."""
        url = gallery_url(where)
        if url is None:
            return None
        try:
            parsed = sa.engine.make_url(url)
        except (sa.exc.ArgumentError, ValueError) as exc:
            raise GalleryError(f"the gallery URL is not a database URL ({exc}): give a file path, or e.g. "
                               "postgresql+psycopg://user@host/db") from None
        if parsed.get_backend_name() == "sqlite" and not os.path.isfile(parsed.database or ""):
            return None
        if parsed.get_backend_name() == "sqlite" and os.path.getsize(parsed.database or "") == 0:
            raise GalleryError(f"'{parsed.database}' is an empty file, not a gallery: check the path (a reader does not "
                               "turn it into one)")
        return cls(url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- schema ------------------------------------------------------------------------------------
    @staticmethod
    def _revision(conn: sa.Connection) -> str | None:
        insp = sa.inspect(conn)
        if not insp.has_table(VERSION_TABLE):
            if insp.has_table(items.name):
                raise GalleryError(f"this database has a '{items.name}' table but no brushwork schema version: it is "
                                   "not a brushwork gallery; set BRUSHWORK_GALLERY to another file or database")
            return None
        return conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()

    def _migrate(self) -> None:
        with self._tx() as conn:
            rev = self._revision(conn)
        if rev == REVISIONS[-1]:
            return
        if rev is not None and rev not in REVISIONS:
            raise GalleryError(f"the gallery {_where(self.url)} has schema '{rev}', newer than this brushwork "
                               f"knows (up to '{REVISIONS[-1]}'): upgrade brushwork (pip install -U brushwork)")
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
        with self._tx(write=True) as conn:  # SQLite: BEGIN IMMEDIATE, so one process migrates at a time
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7260601)"))
            if self._revision(conn) == REVISIONS[-1]:
                return  # another process upgraded it while we waited
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, "head")
            except sa.exc.SQLAlchemyError:
                raise
            except Exception as exc:  # noqa: BLE001 - Alembic's CommandError and friends: a broken install
                raise GalleryError(f"could not set up the gallery's tables ({type(exc).__name__}: {exc}): "
                                   "reinstall brushwork") from None

    def _tx(self, *, write: bool = False) -> _Tx:
        """``with gallery._tx() as conn``: one transaction (``write``: SQLite takes its write lock
        first), database errors turned into :class:`GalleryError`."""
        return _Tx(self, write)

    # -- writing -----------------------------------------------------------------------------------
    def add(self, path: str | os.PathLike, image: Image.Image | None = None, recipe: dict | None = None,
            operation: str | None = None) -> int:
        """Record the file (or frames folder) at ``path``, already written; returns its item id."""
        p = Path(path).resolve()
        if image is None:
            with Image.open(p) as im:
                im.seek(0)
                image = im.copy()
        op = operation or (recipe or {}).get("operation") or "image"
        row = dict(created_at=dt.datetime.now(dt.timezone.utc), operation=str(op)[:64], path=str(p),
                   sha256=_sha256(p), width=image.width, height=image.height,
                   recipe=recipe, thumbnail=_thumbnail(image))
        ins = _inputs_of(recipe)
        with self._tx(write=True) as conn:
            if self.engine.dialect.name == "sqlite":  # never an id that a deleted item had (see 0003)
                given = conn.execute(sa.select(counters.c.value).where(counters.c.name == "gallery_items")).scalar()
                row["id"] = max(given or 0, conn.execute(sa.select(sa.func.max(items.c.id))).scalar() or 0) + 1
                done = conn.execute(counters.update().where(counters.c.name == "gallery_items").values(value=row["id"]))
                if not done.rowcount:
                    conn.execute(counters.insert().values(name="gallery_items", value=row["id"]))
            item_id = conn.execute(items.insert().values(**row)).inserted_primary_key[0]
            if ins:
                conn.execute(inputs.insert(), [{**e, "item_id": item_id} for e in ins])
        return int(item_id)

    def tag(self, item_id: int, names: list[str], *, remove: bool = False) -> list[str]:
        """Add (or remove) tags (a list, or one tag); returns the item's tags afterwards."""
        item_id = _item_id(item_id)
        if isinstance(names, str):
            names = [names]  # one tag, not its letters
        if not names:
            raise BrushworkError("no tags given: name one or more")
        clean = []
        for t in names:
            t = t.strip().lower()
            if not t or len(t) > 64 or "," in t or (not remove and not t.isprintable()):  # an old odd tag can go
                shown = t[:64] + ("..." if len(t) > 64 else "")
                raise BrushworkError(  # the user's limit, not the database's
                    f"tag {shown!r} must be 1-64 printable characters without commas or line breaks")
            clean.append(t)
        with self._tx(write=True) as conn:
            self._exists(conn, item_id)
            if remove:
                conn.execute(tags.delete().where(tags.c.item_id == item_id, tags.c.tag.in_(clean)))
            else:
                # INSERT ... ON CONFLICT DO NOTHING: two processes adding the same tag both succeed.
                from sqlalchemy.dialects import postgresql, sqlite

                dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
                rows = [{"item_id": item_id, "tag": t} for t in dict.fromkeys(clean)]
                conn.execute(dialect.insert(tags).on_conflict_do_nothing(), rows)
            return sorted(conn.execute(sa.select(tags.c.tag).where(tags.c.item_id == item_id)).scalars())

    def delete(self, ids: list[int], *, files: bool = False) -> tuple[list[Item], list[str]]:
        """Remove items and, with ``files``, their files when unchanged since recorded (a frames folder
        is never deleted), with the recipe file beside each (``NAME.EXT.json``) when it holds the item's own
        recipe: left behind, it would describe whatever file later takes that name. Returns the items and notes
        on files that were kept."""
        ids = [_item_id(i) for i in ([ids] if isinstance(ids, numbers.Integral) else ids)]
        gone = [self.get(i) for i in ids]  # every id checked before anything is deleted
        with self._tx(write=True) as conn:  # one transaction; bounded IN lists (SQLite before 3.32 took 999 values)
            for start in range(0, len(ids), IN_LIST):
                conn.execute(items.delete().where(items.c.id.in_(ids[start:start + IN_LIST])))
        notes = []
        if files:
            for it in gone:
                p = Path(it.path)
                try:
                    if p.is_file() and _sha256(p) == it.sha256:
                        p.unlink()
                        _delete_own_sidecar(p, it.recipe, notes)
                    elif p.exists():
                        notes.append(f"kept {p}: {'a folder' if p.is_dir() else 'changed since it was made'}")
                except OSError as exc:
                    notes.append(f"could not delete {p} ({exc.strerror or exc})")
        return gone, notes

    # -- reading -----------------------------------------------------------------------------------
    def ids_between(self, first: int, last: int) -> list[int]:
        """The ids of the items recorded from ``first`` to ``last`` (both included), ascending."""
        with self._tx() as conn:
            return [r.id for r in conn.execute(sa.select(items.c.id).where(items.c.id.between(first, last))
                                                .order_by(items.c.id))]

    @staticmethod
    def _exists(conn: sa.Connection, item_id: int) -> None:
        if conn.execute(sa.select(items.c.id).where(items.c.id == item_id)).first() is None:
            raise GalleryError(f"no gallery item {item_id}: see `brushwork gallery list`")

    def _items(self, conn: sa.Connection, rows: list) -> list[Item]:
        ids = [r.id for r in rows]
        tag_map: dict[int, list[str]] = {i: [] for i in ids}
        in_map: dict[int, list[dict]] = {i: [] for i in ids}
        for start in range(0, len(ids), IN_LIST):  # bounded IN lists
            part = ids[start:start + IN_LIST]
            for t in conn.execute(sa.select(tags).where(tags.c.item_id.in_(part)).order_by(tags.c.tag)):
                tag_map[t.item_id].append(t.tag)
            for e in conn.execute(sa.select(inputs).where(inputs.c.item_id.in_(part)).order_by(inputs.c.id)):
                in_map[e.item_id].append({"role": e.role, "name": e.name, "sha256": e.sha256})
        return [Item(r.id, _aware(r.created_at), r.operation, r.path, r.sha256, r.width, r.height, r.recipe,
                     tag_map[r.id], in_map[r.id]) for r in rows]

    _COLUMNS = [c for c in items.c if c.name not in ("thumbnail", "embedding")]

    def folders(self, item_id: int) -> list[str]:
        """Where the model and frames folders that item ``item_id``'s command named by absolute path were (its
        recipe names them only); this database only, as the styles' paths."""
        item_id = _item_id(item_id)
        with self._tx() as conn:
            self._exists(conn, item_id)
            return [r.path for r in conn.execute(sa.select(inputs.c.path).where(
                inputs.c.item_id == item_id, inputs.c.role == "folder", inputs.c.path.is_not(None))
                .order_by(inputs.c.id))]

    def get(self, item_id: int) -> Item:
        item_id = _item_id(item_id)
        with self._tx() as conn:
            row = conn.execute(sa.select(*self._COLUMNS).where(items.c.id == item_id)).first()
            if row is None:
                raise GalleryError(f"no gallery item {item_id}: see `brushwork gallery list`")
            return self._items(conn, [row])[0]

    def thumbnail(self, item_id: int) -> Image.Image:
        return Image.open(io.BytesIO(self.thumbnail_bytes(item_id)))

    def thumbnail_bytes(self, item_id: int) -> bytes:
        """The item's thumbnail as stored: a WebP file of at most ``THUMB_SIDE`` px."""
        item_id = _item_id(item_id)
        with self._tx() as conn:
            data = conn.execute(sa.select(items.c.thumbnail).where(items.c.id == item_id)).scalar()
        if data is None:
            raise GalleryError(f"no gallery item {item_id}: see `brushwork gallery list`")
        return bytes(data)

    def search(self, *, operation: str | None = None, style: str | None = None, tag: str | None = None,
               since: dt.datetime | None = None, until: dt.datetime | None = None, text: str | None = None,
               limit: int | None = 50, before: int | None = None) -> list[Item]:
        """Items matching every filter given, newest first.

        Args:
            operation: e.g. ``stylize``, ``gan sample``; a command's name also finds its kinds (``gan``: ``gan
                sample`` and ``gan interpolate``; ``palette``: ``palette swatch``).
            style: part of a style image's file name (case-insensitive).
            tag: an exact tag.
            since, until: creation time bounds: datetimes (naive ones are taken as UTC), or dates and
                ``YYYY-MM-DD[THH:MM]`` strings in local time as the CLI reads them (a bare ``until`` date includes
                its day: :func:`time_bound`).
            text: part of the output's path (case-insensitive).
            limit: at most this many (None: all).
            before: only items listed after item ``before`` (the last of the page before: pages that neither
                skip nor repeat items recorded meanwhile; an id since deleted: the items of lower ids).
        """
        q = sa.select(*self._COLUMNS)
        if operation:
            q = q.where(sa.or_(items.c.operation == operation,
                               items.c.operation.startswith(operation + " ", autoescape=True)))
        if style:
            q = q.where(items.c.id.in_(sa.select(inputs.c.item_id).where(
                inputs.c.role == "style", sa.func.lower(inputs.c.name).contains(style.lower(), autoescape=True))))
        if tag:
            q = q.where(items.c.id.in_(sa.select(tags.c.item_id).where(tags.c.tag == tag.strip().lower())))
        # Times are stored in UTC; SQLite keeps no zone, so every bound is converted to UTC first.
        if since:
            q = q.where(items.c.created_at >= _utc(_as_bound(since, "since")))
        if until:
            q = q.where(items.c.created_at < _utc(_as_bound(until, "until")))
        if text:
            q = q.where(sa.func.lower(items.c.path).contains(text.lower(), autoescape=True))
        q = q.order_by(items.c.created_at.desc(), items.c.id.desc())
        if limit is not None:
            q = q.limit(limit)
        with self._tx() as conn:
            if before is not None:  # after it in this order (its time, then its id), as the page before ended
                before = _item_id(before)
                at = conn.execute(sa.select(items.c.created_at).where(items.c.id == before)).scalar()
                q = q.where(items.c.id < before if at is None else sa.or_(
                    items.c.created_at < at, sa.and_(items.c.created_at == at, items.c.id < before)))
            return self._items(conn, list(conn.execute(q)))

    def operations(self) -> list[str]:
        """The operations the gallery's items were made by, sorted."""
        with self._tx() as conn:
            return sorted(conn.execute(sa.select(items.c.operation).distinct()).scalars())

    def check_operation(self, op: str | None) -> None:
        """Refuse an operation no item was made by (a misspelling found nothing, silently), naming those it has.

        Raises:
            GalleryError: ``op`` is neither an operation of the gallery's items nor a command naming some.
        """
        known = self.operations() if op else []
        if op and known and not any(o == op or o.startswith(op + " ") for o in known):
            raise GalleryError(f"no item was made by '{op}': the gallery's operations are {', '.join(known)}")

    def styles(self, limit: int = 100) -> list[dict]:
        """The style images this gallery's outputs were made with, most recently used first: dicts of
        ``path`` (where the file was), ``name``, ``sha256``, ``uses`` and ``last_used``. Only styles whose
        path was recorded (outputs since schema 0002); the files may have moved since."""
        last = sa.func.max(items.c.created_at)
        q = (sa.select(inputs.c.path, sa.func.min(inputs.c.name).label("name"), inputs.c.sha256,
                       sa.func.count().label("uses"), last.label("last_used"))
             .join(items, items.c.id == inputs.c.item_id)
             .where(inputs.c.role == "style", inputs.c.path.is_not(None))
             .group_by(inputs.c.path, inputs.c.sha256).order_by(last.desc(), inputs.c.path).limit(limit))
        with self._tx() as conn:
            return [{"path": r.path, "name": r.name, "sha256": r.sha256, "uses": int(r.uses),
                     "last_used": _aware(r.last_used)} for r in conn.execute(q)]

    def similar(self, image: Image.Image, candidates: list[Item], *, top: int = 10,
                progress: bool = False) -> list[tuple[Item, float]]:
        """``candidates`` ranked by cosine similarity of their thumbnails' embeddings to ``image``'s.

        Embeddings (EfficientNet-Lite0 pooled features, as the originality index uses) missing so far
        are computed in batches and stored; an item deleted meanwhile is left out. ``progress``: a bar on
        a terminal while embeddings are computed (the first search of a large gallery; later ones reuse them).
        """
        from .neighbors import embed

        vecs: dict[int, np.ndarray] = {}
        bar = None
        try:
            for start in range(0, len(candidates), 256):
                ids = [c.id for c in candidates[start:start + 256]]
                with self._tx() as conn:
                    rows = list(conn.execute(sa.select(items.c.id, items.c.thumbnail, items.c.embedding)
                                             .where(items.c.id.in_(ids))))
                missing = [r for r in rows if r.embedding is None]
                vecs.update({r.id: np.frombuffer(r.embedding, dtype=np.float32) for r in rows if r.embedding is not None})
                if missing:
                    if bar is None and progress:  # opened at the first batch with embeddings to compute
                        from tqdm.auto import tqdm

                        bar = tqdm(total=len(candidates), unit="image", desc="gallery: likeness (once per image)",
                                   leave=False, disable=None)  # off when not a TTY
                    new = embed(np.stack([_embed_pixels(Image.open(io.BytesIO(r.thumbnail))) for r in missing]))
                    with self._tx(write=True) as conn:
                        for r, v in zip(missing, new):
                            conn.execute(items.update().where(items.c.id == r.id)
                                         .values(embedding=v.astype(np.float32).tobytes()))
                            vecs[r.id] = v
                if bar is not None:
                    bar.update(start + len(ids) - bar.n)  # the candidates looked at so far
        finally:
            if bar is not None:
                bar.close()
        if not vecs:
            return []
        # the query as the items were embedded: through the same thumbnail (an item's own file then scores ~1)
        q = embed(_embed_pixels(Image.open(io.BytesIO(_thumbnail(image))))[None])[0]
        sims = [(c, float(vecs[c.id] @ q)) for c in candidates if c.id in vecs]
        return sorted(sims, key=lambda t: -t[1])[:top]

    def export(self, ids: list[int], folder: str | os.PathLike) -> tuple[list[Path], list[str]]:
        """Copy the items' files (or, when a file is gone or changed, their thumbnails) into ``folder``
        with their recipes beside them (``NAME.EXT.json``) and ``gallery.json`` listing everything.
        Every file is written under a temporary name and renamed when complete. Returns the files
        written and notes on what could not be copied."""
        chosen = [self.get(i) for i in ([int(ids)] if isinstance(ids, numbers.Integral) else ids)]
        out = Path(folder)
        earlier = _earlier_export(out)  # an export already there: merged, not replaced
        by_name = {str(e["exported_as"]): e for e in earlier}
        plans = []
        for it in chosen:
            src = Path(it.path)
            same = src.exists() and _sha256(src) == it.sha256
            # (a name cut short where it and its recipe's NAME.EXT.json would pass what a file system takes)
            dst = out / shortened(f"{it.id:05d}_{src.stem}", src.suffix if same else ".thumb.webp",
                                  NAME_MAX - len(".json"))
            before = by_name.get(dst.name)  # what an earlier export wrote under that name (the same item: its sha256)
            recipe_text = None if it.recipe is None else json.dumps(it.recipe, indent=1, sort_keys=True)
            thumb = None if same else _webp(self.thumbnail(it.id))
            ready = False  # the item's file (or frames folder) already copied there
            for f in (dst, dst.with_name(dst.name + ".json")):
                if not f.exists():
                    continue
                # Exactly what this export writes there: an earlier export's, or one stopped before its listing
                # (Ctrl-C): taken as it is, so that running the command again finishes it
                if _holds(f, it.sha256 if f == dst and same else None,
                          thumb if f == dst else None if recipe_text is None else recipe_text.encode()):
                    ready = ready or (f == dst and same)
                    continue
                # (else the copy, or the recipe file, was edited there since; an earlier thumbnail is replaced)
                edited = (f == dst and same) or (f != dst and recipe_text is not None)
                if before is None or before.get("sha256") != it.sha256 or edited:
                    raise GalleryError(f"'{f}' is already there and is not item {it.id}'s export as it was "
                                       "written (changed since?): exporting would replace it; choose another folder")
            plans.append((it, src, same, dst, recipe_text, thumb, ready))
        written, notes = [], []
        try:
            out.mkdir(parents=True, exist_ok=True)
            for it, src, same, dst, recipe_text, thumb, ready in plans:
                if same:
                    if src.is_dir():  # video frames
                        if out.resolve().is_relative_to(src.resolve()):
                            notes.append(f"item {it.id}: not copied into a folder inside itself ({src})")
                            continue
                        if not ready:
                            write_atomically(dst, lambda t, s=src: shutil.copytree(s, t))
                    elif not ready:
                        write_atomically(dst, lambda t, s=src: shutil.copy2(s, t))
                else:
                    write_atomically(dst, lambda t, data=thumb: Path(t).write_bytes(data))
                    notes.append(f"item {it.id}: {src} is {'changed' if src.exists() else 'gone'}; exported its "
                                 "thumbnail")
                if recipe_text is not None:
                    write_atomically(dst.with_name(dst.name + ".json"), lambda t, x=recipe_text: Path(t).write_text(x))
                written.append((it, dst))
            # the items by file name (a folder to share need not name the owner's), after those exported before
            now = [{**it.to_dict(), "path": Path(it.path).name, "exported_as": w.name} for it, w in written]
            names = {e["exported_as"] for e in now}  # (merged by file: two galleries' items may share an id)
            kept = [e for e in earlier if e.get("exported_as") not in names]
            listing = json.dumps(sorted([*kept, *now], key=lambda e: (e.get("id", 0), str(e.get("exported_as")))),
                                 indent=1, sort_keys=True)
            write_atomically(out / "gallery.json", lambda t: Path(t).write_text(listing))
        except OSError as exc:
            raise GalleryError(f"could not export to '{out}' ({exc.strerror or exc}): check the folder and the "
                               "free space") from None
        return [w for _, w in written], notes


def _item_id(item_id: Any) -> int:
    """An item id as a plain int (numpy integers too); anything else is refused in one line."""
    if isinstance(item_id, bool) or not isinstance(item_id, numbers.Integral):
        raise GalleryError(f"a gallery item id is a whole number, got {item_id!r}")
    return int(item_id)


def _delete_own_sidecar(path: Path, recipe: dict | None, notes: list[str]) -> None:
    """Delete ``path``'s recipe file (``NAME.EXT.json``) when it holds ``recipe``; else note that it stays."""
    import json

    from .recipe import sidecar_path

    side = sidecar_path(path)
    if not is_file(side):
        return
    try:
        own = recipe is not None and json.loads(side.read_text(encoding="utf-8")) == recipe
    except (OSError, ValueError):
        own = False
    if own:
        side.unlink()
    else:
        notes.append(f"kept {side}: it is not this item's recipe")


def _earlier_export(folder: Path) -> list[dict]:
    """The listing an earlier ``gallery export`` left in ``folder`` (empty when the folder is new or holds none); a
    ``gallery.json`` that is not such a listing is refused, as exporting would replace it."""
    listing = folder / "gallery.json"
    if not listing.exists():
        return []
    try:
        entries = json.loads(listing.read_text())
        if not isinstance(entries, list) or not all(isinstance(e, dict) and "exported_as" in e for e in entries):
            raise ValueError("not a listing")
    except (OSError, UnicodeDecodeError, ValueError):
        raise GalleryError(f"'{listing}' is not the listing of a brushwork export: exporting would replace it; "
                           "choose another folder") from None
    return entries


def _webp(im: Image.Image) -> bytes:
    """A thumbnail as an export writes it."""
    buf = io.BytesIO()
    im.save(buf, format="WEBP", quality=90)
    return buf.getvalue()


def _holds(f: Path, sha256: str | None, data: bytes | None) -> bool:
    """Whether ``f`` holds the file (or folder) of that sha256, or exactly ``data``."""
    try:
        if sha256 is not None:
            return _sha256(f) == sha256
        return data is not None and f.is_file() and f.stat().st_size == len(data) and f.read_bytes() == data
    except OSError:
        return False


class _Tx:
    """One transaction with database errors turned into :class:`GalleryError`."""

    def __init__(self, gallery: Gallery, write: bool) -> None:
        self.g, self.write = gallery, write
        self.conn: sa.Connection | None = None
        self.tx = None

    def __enter__(self) -> sa.Connection:
        try:
            self.conn = self.g.engine.connect().execution_options(write=self.write)
            self.tx = self.conn.begin()
            return self.conn
        except (sa.exc.SQLAlchemyError, OverflowError) as exc:
            self._close()
            raise _friendly(exc, self.g.url) from None

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def __exit__(self, et, ev, tb) -> bool:
        try:
            if et is None:
                self.tx.commit()
            else:
                self.tx.rollback()
        except sa.exc.SQLAlchemyError as exc:
            self._close()
            raise _friendly(exc, self.g.url) from None
        self._close()
        if isinstance(ev, (sa.exc.SQLAlchemyError, OverflowError)):
            raise _friendly(ev, self.g.url) from None
        return False


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _as_bound(value: Any, name: str) -> dt.datetime:
    """A :meth:`Gallery.search` bound: a datetime as it is; a date or a string read as :func:`time_bound` reads
    the CLI's (an AttributeError before)."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, (dt.date, str)):
        text = value.isoformat() if isinstance(value, dt.date) else value
        try:
            return time_bound(text, end=name == "until")
        except ValueError:
            raise BrushworkError(f"{name} {text[:40]!r} is not a date: write YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    raise BrushworkError(f"{name} must be a datetime, a date or a 'YYYY-MM-DD' string, got {type(value).__name__}")


def time_bound(text: str, *, end: bool = False) -> dt.datetime:
    """A search bound from ``YYYY-MM-DD[THH:MM[:SS]][zone]``: a time without a zone is local time (the studio
    and the CLI run on the user's machine), and a bare date given as the end includes its day.

    Returns:
        the bound in UTC, as times are stored; a date at either end of the calendar that its zone would carry beyond
        it (9999-12-31 west of UTC, 0001-01-01 east of it) is held at that end.

    Raises:
        ValueError: not such a date.
    """
    t = dt.datetime.fromisoformat(text)
    try:
        t = t if t.tzinfo else t.astimezone()
    except (OverflowError, OSError, ValueError):  # (localtime refusing a far year, "year 0 is out of range"): UTC
        t = t.replace(tzinfo=dt.timezone.utc)
    if end and len(text.strip()) == 10:  # a bare date includes its day
        try:
            t = t + dt.timedelta(days=1)
        except OverflowError:  # 9999-12-31
            t = t.replace(hour=23, minute=59, second=59, microsecond=999999)
    try:
        return t.astimezone(dt.timezone.utc)
    except OverflowError:  # beyond the calendar in UTC: its end
        return (dt.datetime.max if t.year > 1 else dt.datetime.min).replace(tzinfo=dt.timezone.utc)


def _utc(t: dt.datetime) -> dt.datetime:
    return _aware(t).astimezone(dt.timezone.utc)


def _embed_pixels(image: Image.Image) -> np.ndarray:
    from .originality import EMBED_SIDE

    im = image.convert("RGBA")
    flat = Image.alpha_composite(Image.new("RGBA", im.size, (255,) * 4), im).convert("RGB")
    return np.array(flat.resize((EMBED_SIDE, EMBED_SIDE), Image.Resampling.BILINEAR))


import contextlib
import contextvars

_recording = contextvars.ContextVar("brushwork_gallery_recording", default=True)


@contextlib.contextmanager
def not_recorded():
    """Within this block (this thread or task only), :func:`record_output` records nothing: e.g. the
    reruns of ``brushwork reproduce``, which are checks, not new pictures."""
    token = _recording.set(False)
    try:
        yield
    finally:
        _recording.reset(token)


_session: dict[str, Gallery | tuple] = {}  # $BRUSHWORK_GALLERY -> the gallery this run records into, or its failure
RETRY_AFTER = 60.0  # s: a gallery that failed is tried again after this, or as soon as its file changes


def _gallery_file_state(key: str) -> tuple:
    """What tells whether the gallery's file has changed since it failed: moved aside, replaced or created (not
    written to: a gallery locked by another writer changes all the time, and each try would wait 30 s)."""
    raw = key or str(_default_path())
    if "://" in raw:
        return ()
    try:
        st = Path(raw).expanduser().stat()
        return (st.st_dev, st.st_ino)
    except OSError:
        return ("absent",)


def record_output(path: str | os.PathLike, image: Image.Image | None, recipe: dict | None,
                  operation: str | None = None) -> int | None:
    """Record a file brushwork has just written in the user's gallery (unless turned off).

    Never raises: the file is already written, and a gallery problem must not cost the user's work.
    The problem is logged (one line on stderr for the CLI), and later outputs are not tried for
    ``RETRY_AFTER`` seconds (a folder run does not wait 30 s per file on a locked gallery) unless the gallery's
    file changes meanwhile (moved aside as the message says: a notebook's next picture is recorded again).
    """
    import logging
    import time

    if not _recording.get():
        return None
    key = str(os.environ.get("BRUSHWORK_GALLERY", ""))
    try:
        failed = _session.get(key)
        if isinstance(failed, tuple):
            when, state = failed
            if time.monotonic() - when < RETRY_AFTER and _gallery_file_state(key) == state:
                return None  # failed a moment ago: said so then
            del _session[key]
        if key not in _session:
            url = gallery_url()
            if url is None:
                return None
            _session[key] = Gallery(url)
        return _session[key].add(path, image, recipe, operation)
    except Exception as exc:  # noqa: BLE001 - best effort by design (KeyboardInterrupt still stops)
        _session[key] = (time.monotonic(), _gallery_file_state(key))
        text = str(exc) if isinstance(exc, BrushworkError) else f"{type(exc).__name__}: {exc}"
        from ..errors import flag

        # (a command of the CLI ends before any retry: it was promised one; the studio and notebooks do retry)
        when = ("--no-gallery, or BRUSHWORK_GALLERY=off, leaves it out" if flag("--no-gallery") == "--no-gallery" else
                f"it is tried again in {RETRY_AFTER:.0f} s, or once its file changes")
        logging.getLogger("brushwork").warning(f"brushwork: warning: {path} was written but not recorded in the "
                                               f"gallery ({when}): {text}")
        return None
