"""art_store: the Python API of art, an embedded, local-first, git-like store for ML artifacts.

The names follow the W&B Artifacts API where they make sense locally::

    import art_store

    store = art_store.Store.init(".")          # or art_store.Store() to find one upward
    with store.init_run(job_type="train", config={"lr": 0.01}) as run:
        dataset = run.use_artifact("dataset:latest")
        model = art_store.Artifact("model", type="model", metadata={"arch": "mlp"})
        model.add_file("model.pt")
        run.log_artifact(model, aliases=["candidate"])
        run.summary["acc"] = 0.93

Everything below is a thin layer over the Rust library (``art_store._native``): staging the
files of a new artifact is the only work done in Python. Errors are :class:`ArtError` and its
subclasses, carrying art's own messages.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from . import _native
from ._native import ArtError, InvalidInputError, NotAStoreError, NotFoundError, RefusedError

__all__ = [
    "ArtError",
    "Artifact",
    "ArtifactFinalizedError",
    "File",
    "InvalidInputError",
    "NotAStoreError",
    "NotFoundError",
    "RefusedError",
    "Run",
    "Store",
    "init_run",
]

PathLike = Union[str, "os.PathLike[str]"]


class ArtifactFinalizedError(ArtError):
    """A logged artifact's content was changed; create a new :class:`Artifact` instead."""


def _time(ms: Optional[int]) -> Optional[_dt.datetime]:
    if ms is None:
        return None
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)


def _dumps(obj: Optional[Mapping[str, Any]]) -> Optional[str]:
    if obj is None:
        return None
    return json.dumps(dict(obj))


def _link_or_copy(src: str, dst: str) -> str:
    """Stages one file: a hard link when possible (no copy), else a copy with its mode."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


class File:
    """One entry of a logged artifact's manifest."""

    __slots__ = ("path", "kind", "size", "digest", "executable", "target", "_artifact")

    def __init__(self, info: Mapping[str, Any], artifact: Optional[Artifact] = None) -> None:
        self._artifact = artifact
        #: Path inside the artifact, ``/``-separated.
        self.path: str = info["path"]
        #: ``"file"`` or ``"symlink"``.
        self.kind: str = info["kind"]
        #: Size in bytes.
        self.size: int = info["size"]
        #: BLAKE3 digest of the content, hex.
        self.digest: str = info["digest"]
        #: Whether the file is executable.
        self.executable: bool = info.get("exec", False)
        #: A symlink's target.
        self.target: Optional[str] = info.get("target")

    def __repr__(self) -> str:
        return f"File({self.path!r}, size={self.size})"

    def download(self, root: Optional[PathLike] = None) -> str:
        """Writes this file, read straight from the store, to ``root/path`` (default root
        ``./artifacts/name:vN``); returns the file's path. No checkout of the rest."""
        if self._artifact is None:
            raise ArtError(f"`{self.path}` is not bound to a logged artifact")
        a = self._artifact
        dest = (Path(root) if root is not None else a._default_root()) / self.path
        a._need_store()._native.copy_file(a.qualified_name, self.path, dest)
        return str(dest)


class _Stream(io.RawIOBase):
    """The raw file object under :meth:`Artifact.open`."""

    def __init__(self, native: Any) -> None:
        super().__init__()
        self._native = native

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._native.read(len(buffer))
        n = len(data)
        memoryview(buffer).cast("B")[:n] = data
        return n


class Artifact:
    """A named, typed, versioned directory.

    Created with ``Artifact(name, type)``, it is a draft: add content with :meth:`add_file`,
    :meth:`add_dir`, :meth:`new_file` and :meth:`add`, then log it with
    :meth:`Store.log_artifact` or :meth:`Run.log_artifact`. Logging turns the same object
    into a logged version (``name:vN``); its content can no longer change, but its aliases,
    description and metadata can (assign, then :meth:`save`).
    """

    def __init__(
        self,
        name: str,
        type: str,
        description: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> None:
        #: The artifact's name (``dataset``, ``model``, …).
        self.name: str = name
        #: Its type (``dataset``, ``model``, …); fixed by the first version logged.
        self.type: str = type
        #: Free text.
        self.description: Optional[str] = description
        #: A JSON-serialisable dict.
        self.metadata: Dict[str, Any] = dict(metadata or {})
        #: Aliases of the version; assign or edit, then :meth:`save`.
        self.aliases: List[str] = []
        self._store: Optional[Store] = None
        self._info: Dict[str, Any] = {}
        self._staging: Optional[tempfile.TemporaryDirectory[str]] = None
        # A draft holding exactly one add_dir(path) is logged from that directory itself.
        self._sole_dir: Optional[Path] = None
        self._count = 0
        self._references: List[str] = []
        self._ref_checksum = True
        self._ref_max: Optional[int] = None
        # A draft of the next version of a logged one (`new_draft`): logging it is a patch.
        self._base: Optional[str] = None
        self._removals: List[str] = []
        # The pending collaborative version this draft's content went to (`upsert_artifact`).
        self._distributed_id: Optional[str] = None

    # -- construction -------------------------------------------------------------------

    @classmethod
    def _logged(cls, store: Store, info: Mapping[str, Any]) -> Artifact:
        a = cls.__new__(cls)
        a._store = store
        a._staging = None
        a._sole_dir = None
        a._count = 0
        a._references = []
        a._ref_checksum = True
        a._ref_max = None
        a._base = None
        a._removals = []
        a._distributed_id = None
        a._load(info)
        return a

    def new_draft(self) -> Artifact:
        """A draft of the next version, starting from this one (W&B's patch mode): add files
        with :meth:`add_file`/:meth:`add_dir`/:meth:`new_file`/:meth:`add`, take entries out
        with :meth:`remove`, then log it. Only the added files are read and stored; this
        version's content is not read, so it works on a lazy clone. Logging is refused when
        ``latest`` moved past this version meanwhile."""
        store = self._need_store()
        draft = Artifact(self.name, self.type, self.description, self.metadata)
        draft._base = store.artifact(self.qualified_name).qualified_name
        return draft

    def remove(self, item: str) -> None:
        """Takes entries out of a draft made by :meth:`new_draft`: a path, a directory or a
        gitignore-style glob (``"*.tmp"``); one that matches nothing fails the log. On a
        plain draft, removes a file or directory added before."""
        self._check_draft()
        if self._base is not None:
            self._removals.append(item)
            return
        target = self._target(item)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        else:
            raise NotFoundError(f"`{item}` was not added to this draft")

    def _load(self, info: Mapping[str, Any]) -> None:
        self._info = dict(info)
        self.name = info["name"]
        self.type = info["type"]
        self.description = info.get("description")
        self.metadata = dict(info.get("metadata") or {})
        self.aliases = list(info.get("aliases") or [])

    def _check_draft(self) -> None:
        if self._store is not None:
            raise ArtifactFinalizedError(
                f"artifact `{self.qualified_name}` is logged and cannot change; "
                f"create a new Artifact({self.name!r}, {self.type!r}) for the next version"
            )

    def _stage_dir(self) -> Path:
        """The staging directory, created on first use (the sole directory copied in)."""
        if self._staging is None:
            self._staging = tempfile.TemporaryDirectory(prefix="art-stage-")
        root = Path(self._staging.name)
        if self._sole_dir is not None:
            src, self._sole_dir = self._sole_dir, None
            shutil.copytree(src, root, symlinks=True, copy_function=_link_or_copy,
                            dirs_exist_ok=True)
        return root

    def _target(self, name: str) -> Path:
        if not name or name.startswith("/") or ".." in Path(name).parts:
            raise InvalidInputError(f"`{name}` is not a relative path inside the artifact")
        dest = self._stage_dir() / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        return dest

    # -- adding content (drafts) ----------------------------------------------------------

    def add_file(self, local_path: PathLike, name: Optional[str] = None) -> None:
        """Adds the file ``local_path`` as ``name`` (default: its file name).

        The file is staged by hard link where possible (else copied), so its content is
        read when the artifact is logged.
        """
        self._check_draft()
        src = Path(local_path)
        if not src.is_file():
            raise NotFoundError(f"cannot add `{src}`: not a file")
        dest = self._target(name or src.name)
        if dest.exists():
            dest.unlink()
        _link_or_copy(str(src), str(dest))
        self._count += 1

    def add_dir(self, local_path: PathLike, name: Optional[str] = None) -> None:
        """Adds the contents of directory ``local_path`` at the artifact's root, or under
        ``name``.

        An artifact made of a single ``add_dir(path)`` is logged straight from ``path`` (no
        staging; the path is recorded as its source); otherwise files are staged by hard link
        or copy.
        """
        self._check_draft()
        src = Path(local_path)
        if not src.is_dir():
            raise NotFoundError(f"cannot add `{src}`: not a directory")
        if name is None and self._count == 0 and self._staging is None:
            self._sole_dir = src.resolve()
            self._count += 1
            return
        root = self._stage_dir() if name is None else self._target(name)
        shutil.copytree(src, root, symlinks=True, copy_function=_link_or_copy,
                        dirs_exist_ok=True)
        self._count += 1

    @contextlib.contextmanager
    def new_file(
        self, name: str, mode: str = "w", encoding: Optional[str] = None
    ) -> Iterator[IO[Any]]:
        """Opens a new file ``name`` inside the artifact for writing (a context manager)::

            with artifact.new_file("notes.txt") as f:
                f.write("hello")
        """
        self._check_draft()
        if "r" in mode and "+" not in mode:
            raise InvalidInputError(f"new_file opens files for writing, not mode `{mode}`")
        dest = self._target(name)
        if "b" not in mode and encoding is None:
            encoding = "utf-8"
        with open(dest, mode, encoding=encoding) as f:
            yield f
        self._count += 1

    def add_reference(
        self,
        uri: str,
        name: Optional[str] = None,
        checksum: bool = True,
        max_objects: Optional[int] = None,
    ) -> None:
        """Records the object (or every file under the directory) at ``uri`` where it lives,
        without copying it: a local path, ``file:///…``, ``http(s)://…``, ``s3://``, ``gs://`` or ``az://``. The version pins
        each object (its BLAKE3, or with ``checksum=False`` its size and mtime or ETag), so a
        download gets exactly it or names what changed. ``name`` is its path in the artifact
        (default: the last component); a directory expanding to more than ``max_objects``
        (default 10,000,000) is an error. All references of one artifact share one
        ``checksum`` setting."""
        self._check_draft()
        if self._references and checksum != self._ref_checksum:
            raise InvalidInputError(
                "all references of one artifact are logged with the same `checksum` setting"
            )
        self._ref_checksum = checksum
        if max_objects is not None:
            self._ref_max = max_objects if self._ref_max is None else min(self._ref_max, max_objects)
        self._references.append(uri if name is None else f"{uri}={name}")

    def add(self, obj: Any, name: str) -> None:
        """Adds an object as ``name``; :meth:`get` returns it. A pandas DataFrame is saved as
        a table: CSV (``.csv`` appended unless ``name`` ends in ``.csv`` or ``.parquet``;
        Parquet needs pyarrow); anything else JSON-serialisable (a dict, a list of rows, …)
        as JSON (``.json`` appended unless present)."""
        self._check_draft()
        if _is_dataframe(obj):
            target = _table_name(name)
            dest = self._target(target)
            if target.endswith(".parquet"):
                obj.to_parquet(dest, index=False)
            else:
                obj.to_csv(dest, index=False)
            self._count += 1
            return
        text = json.dumps(obj, indent=1, sort_keys=True)
        with self.new_file(_json_name(name)) as f:
            f.write(text)

    # -- logged versions -----------------------------------------------------------------

    def _need_store(self) -> Store:
        if self._store is None:
            raise ArtError(
                f"artifact `{self.name}` is not logged yet; log it with store.log_artifact()"
            )
        return self._store

    @property
    def is_draft(self) -> bool:
        """True until the artifact is logged."""
        return self._store is None

    @property
    def qualified_name(self) -> str:
        """``name:vN`` of a logged version, the name alone for a draft."""
        return str(self._info.get("reference", self.name))

    @property
    def version(self) -> Optional[str]:
        """``vN``, or None for a draft."""
        return f"v{self._info['version']}" if self._info else None

    @property
    def digest(self) -> Optional[str]:
        """The manifest digest (BLAKE3, hex); equal digests mean equal content."""
        return self._info.get("digest")

    @property
    def state(self) -> str:
        """``"draft"``, ``"pending"`` (its files were added to a collaborative version by
        :meth:`Run.upsert_artifact`), ``"committed"`` or ``"deleted"``."""
        if self._distributed_id is not None and self._store is None:
            return "pending"
        return self._info.get("state", "draft") if self._info else "draft"

    @property
    def distributed_id(self) -> Optional[str]:
        """The collaborative version this draft was upserted into, if any."""
        return self._distributed_id

    @property
    def size(self) -> int:
        """Sum of the file sizes in bytes."""
        return int(self._info.get("size", 0))

    @property
    def file_count(self) -> int:
        """Number of entries."""
        return int(self._info.get("files", 0))

    @property
    def created_at(self) -> Optional[_dt.datetime]:
        """When the version was logged (UTC)."""
        return _time(self._info.get("created_at"))

    @property
    def updated_at(self) -> Optional[_dt.datetime]:
        """When its aliases, description or metadata last changed (UTC)."""
        return _time(self._info.get("updated_at"))

    @property
    def source_path(self) -> Optional[str]:
        """The directory the version was logged from, relative to the store's root; None for
        versions staged by this package from files (their staging directory is gone)."""
        return self._info.get("source_path")

    def __repr__(self) -> str:
        return f"<Artifact {self.qualified_name} type={self.type}>"

    def _reload(self) -> None:
        store = self._need_store()
        self._load(json.loads(store._native.show(self.qualified_name)))

    def save(self) -> None:
        """Persists changes to ``aliases``, ``description`` and ``metadata`` of a logged
        version. ``latest`` is managed by art: adding or removing it here is ignored."""
        store = self._need_store()
        ref = self.qualified_name
        before = set(self._info.get("aliases") or [])
        after = set(self.aliases)
        for alias in sorted(after - before - {"latest"}):
            store._native.set_alias(ref, alias)
        for alias in sorted(before - after - {"latest"}):
            store._native.remove_alias(self.name, alias)
        description = self.description if self.description != self._info.get("description") else None
        metadata = self.metadata if self.metadata != (self._info.get("metadata") or {}) else None
        if description is not None or metadata is not None:
            store._native.set_meta(ref, description, _dumps(metadata))
        self._reload()

    def files(self) -> List[File]:
        """The version's entries, sorted by path."""
        store = self._need_store()
        return [File(f, self) for f in json.loads(store._native.files(self.qualified_name))]

    def get_entry(self, name: str) -> File:
        """The entry ``name`` of a logged version (:class:`NotFoundError` if absent); its
        ``download()`` writes just that file."""
        for f in self.files():
            if f.path == name:
                return f
        raise NotFoundError(f"`{self.qualified_name}` has no file `{name}`")

    def get_path(self, name: str) -> File:
        """Same as :meth:`get_entry` (the W&B name): ``artifact.get_path(name).download()``."""
        return self.get_entry(name)

    def read_bytes(self, name: str) -> bytes:
        """The content of the file ``name``, read from the store and checked against its
        digest, without a checkout. The whole file is returned in memory."""
        store = self._need_store()
        return store._native.read_file(self.qualified_name, name)

    def open(self, name: str, mode: str = "r", encoding: str = "utf-8") -> IO[Any]:
        """A read-only file object over the file ``name`` (``mode`` ``"r"`` or ``"rb"``),
        streamed from the store without a checkout: one stored chunk in memory at a time,
        each checked against its hash (on a clone, only the chunks read are fetched)."""
        if mode not in ("r", "rb"):
            raise InvalidInputError(f"open reads files: mode `{mode}` is not `r` or `rb`")
        raw = _Stream(self._need_store()._native.open_file(self.qualified_name, name))
        buffered = io.BufferedReader(raw, buffer_size=1 << 20)
        return buffered if mode == "rb" else io.TextIOWrapper(buffered, encoding=encoding)

    def _default_root(self) -> Path:
        return Path("artifacts") / self.qualified_name

    def download(self, root: Optional[PathLike] = None) -> str:
        """Writes the version's files into ``root`` (default ``./artifacts/name:vN``), keeping
        other files there; unchanged files are not rewritten. Returns the directory."""
        store = self._need_store()
        dest = Path(root) if root is not None else self._default_root()
        out = json.loads(store._native.checkout(self.qualified_name, dest, False, True))
        return str(out["dest"])

    def checkout(self, root: Optional[PathLike] = None, force: bool = False) -> str:
        """Makes ``root`` (default ``./artifacts/name:vN``) exactly this version, deleting
        files the version lacks. Refused (:class:`RefusedError`) when that would overwrite or
        delete files art has not seen, unless ``force``. Returns the directory."""
        store = self._need_store()
        dest = Path(root) if root is not None else self._default_root()
        out = json.loads(store._native.checkout(self.qualified_name, dest, force, False))
        return str(out["dest"])

    def verify(self, root: Optional[PathLike] = None) -> None:
        """Checks the stored content of the version, or with ``root`` that directory against
        it; raises :class:`ArtError` listing the problems found."""
        store = self._need_store()
        out = json.loads(store._native.verify(self.qualified_name, root))
        if out["problems"]:
            raise ArtError(
                f"`{self.qualified_name}` failed verification: " + "; ".join(out["problems"])
            )

    def get(self, name: str) -> Any:
        """Returns the object stored with :meth:`add` as ``name`` (a DataFrame for a table,
        else the JSON value), read from the store without a checkout."""
        if name.endswith((".csv", ".parquet", ".json")):
            candidates = [name]
        else:
            candidates = [name + ".csv", name + ".parquet", _json_name(name)]
        if self._store is None:
            found = next((c for c in candidates if self._target(c).is_file()), None)
            if found is None:
                raise NotFoundError(f"no entry `{candidates[-1]}` in draft `{self.name}`")
            opener: Any = lambda: open(self._target(found), "rb")  # noqa: E731
        else:
            paths = {f.path for f in self.files()}
            found = next((c for c in candidates if c in paths), None)
            if found is None:
                raise NotFoundError(
                    f"`{self.qualified_name}` has no entry `{candidates[-1]}`"
                )
            opener = lambda: self.open(found, "rb")  # noqa: E731
        if found.endswith(".json"):
            with opener() as f:
                return json.loads(f.read())
        import pandas  # a table was added from a DataFrame, so pandas is there

        with opener() as f:
            return pandas.read_parquet(f) if found.endswith(".parquet") else pandas.read_csv(f)

    def delete(self, delete_aliases: bool = False) -> None:
        """Deletes the version (its space is freed by ``store.gc()``). Refused while it has
        aliases other than ``latest`` unless ``delete_aliases``."""
        store = self._need_store()
        store._native.remove([self.qualified_name], delete_aliases)
        self._reload()

    # -- registry ------------------------------------------------------------------------

    def link(self, target_path: str, aliases: Optional[Sequence[str]] = None, force: bool = False) -> Artifact:
        """Links this version into the collection ``target_path`` (made on the first link)
        and points ``aliases`` of the collection at the link; returns the link
        (``collection:vN``), which reads the same content. No data is copied. A protected
        alias moves only with ``force``."""
        store = self._need_store()
        out = json.loads(
            store._native.link(self.qualified_name, target_path, list(aliases or []), force)
        )
        return store.artifact(out["reference"])

    def unlink(self, force: bool = False) -> None:
        """Removes this link from its collection (the linked version stays)."""
        self._need_store()._native.unlink(self.qualified_name, force)
        self._reload()

    @property
    def source(self) -> Optional[str]:
        """For a link in a collection: the version it links (``name:vN``)."""
        return self._info.get("source")

    @property
    def linked_in(self) -> List[str]:
        """The collection versions linking this one (``collection:vN``)."""
        return list(self._info.get("linked_in") or [])

    @property
    def tags(self) -> List[str]:
        """The version's tags (change them with :meth:`tag` and :meth:`untag`)."""
        return list(self._info.get("tags") or [])

    def tag(self, *tags: str) -> None:
        """Adds tags to this version."""
        self._need_store()._native.tag(self.qualified_name, list(tags), True)
        self._reload()

    def untag(self, *tags: str) -> None:
        """Removes tags from this version."""
        self._need_store()._native.tag(self.qualified_name, list(tags), False)
        self._reload()

    @property
    def ttl_expires_at(self) -> Optional[_dt.datetime]:
        """When ``art gc`` may delete this version (its TTL), if it has one."""
        return _time(self._info.get("expires_at"))

    def set_ttl(self, ttl: Optional[str]) -> None:
        """Sets the version's time to live from now (``"30d"``), or removes it (None)."""
        self._need_store()._native.set_ttl(self.qualified_name, ttl)
        self._reload()

    def logged_by(self) -> Optional[Run]:
        """The run that logged this version, if any."""
        store = self._need_store()
        run_id = self._info.get("logged_by_run")
        return store.run(run_id) if run_id else None

    def used_by(self) -> List[Run]:
        """The runs that used this version."""
        store = self._need_store()
        lineage = json.loads(store._native.lineage(self.qualified_name, "down", 1))
        return [
            store.run(n["id"]) for n in lineage["nodes"] if n["kind"] == "run" and n["depth"] == 1
        ]


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and hasattr(obj, "to_csv")


def _table_name(name: str) -> str:
    return name if name.endswith((".csv", ".parquet")) else name + ".csv"


def _json_name(name: str) -> str:
    return name if name.endswith(".json") else name + ".json"


class Run:
    """A run: one execution (training, evaluation, …) with config, summary metrics, status,
    and the versions it used and logged.

    Use it as a context manager: the run finishes ``ok`` on normal exit and ``failed`` on an
    exception, persisting :attr:`summary`.
    """

    def __init__(self, store: Store, info: Mapping[str, Any], owned: bool = False) -> None:
        self._store = store
        # Finished by this object on exit (False for runs started by `art run exec`).
        self._owned = owned
        self._load(info)

    def _load(self, info: Mapping[str, Any]) -> None:
        self._info = dict(info)
        #: Metrics; set keys while running, persisted when the run finishes.
        self.summary: Dict[str, Any] = dict(info.get("summary") or {})
        self._saved_summary = dict(self.summary)

    @property
    def id(self) -> str:
        """The run id (time-ordered, random)."""
        return str(self._info["id"])

    @property
    def name(self) -> Optional[str]:
        """The run's name."""
        return self._info.get("name")

    @property
    def group(self) -> Optional[str]:
        """Its group (a sweep)."""
        return self._info.get("group")

    @property
    def job_type(self) -> Optional[str]:
        """Its job type."""
        return self._info.get("job_type")

    @property
    def config(self) -> Dict[str, Any]:
        """Its configuration (hyperparameters)."""
        return dict(self._info.get("config") or {})

    @property
    def status(self) -> str:
        """``"running"``, ``"ok"`` or ``"failed"``."""
        return str(self._info["status"])

    @property
    def started_at(self) -> Optional[_dt.datetime]:
        """Start time (UTC)."""
        return _time(self._info.get("started_at"))

    @property
    def finished_at(self) -> Optional[_dt.datetime]:
        """Finish time (UTC), None while running."""
        return _time(self._info.get("finished_at"))

    def __repr__(self) -> str:
        return f"<Run {self.id} name={self.name!r} status={self.status}>"

    def refresh(self) -> None:
        """Reloads the run's record (unsaved summary keys are dropped)."""
        self._load(json.loads(self._store._native.run(self.id)))

    def use_artifact(
        self, artifact: Union[str, Artifact], root: Optional[PathLike] = None
    ) -> Artifact:
        """Records that this run uses a version (``"dataset:latest"``, ``"model:v3"``, or a
        logged :class:`Artifact`) and returns it; with ``root``, also checks it out there."""
        ref = artifact.qualified_name if isinstance(artifact, Artifact) else artifact
        if isinstance(artifact, Artifact) and artifact.is_draft:
            raise ArtError(f"artifact `{artifact.name}` is not logged; log it before using it")
        out = json.loads(self._store._native.use_version(ref, self.id, root, False))
        return self._store.artifact(out["reference"])

    def log_artifact(
        self, artifact: Artifact, aliases: Optional[Sequence[str]] = None
    ) -> Artifact:
        """Logs a draft artifact as the next version, produced by this run."""
        return self._store.log_artifact(artifact, aliases=aliases, run=self)

    def upsert_artifact(
        self, artifact: Artifact, distributed_id: Optional[str] = None
    ) -> Artifact:
        """Adds a draft's files to the PENDING collaborative version ``distributed_id``
        (default: ``ART_DISTRIBUTED_ID``, else this run's group), as one writer of many;
        :meth:`finish_artifact` commits it. The artifact's state becomes ``"pending"``."""
        return self._store.upsert_artifact(artifact, distributed_id, run=self)

    def finish_artifact(
        self,
        artifact: Artifact,
        distributed_id: Optional[str] = None,
        aliases: Optional[Sequence[str]] = None,
        prefer: Optional[str] = None,
    ) -> Artifact:
        """Commits the pending version ``distributed_id`` (default as for
        :meth:`upsert_artifact`) as the next version, with the draft's own files added last;
        returns it logged. A path two writers wrote with different content is refused
        (:class:`RefusedError`) unless ``prefer="first"`` or ``"last"``."""
        return self._store.finish_artifact(artifact, distributed_id, aliases, run=self, prefer=prefer)

    def logged_artifacts(self) -> List[Artifact]:
        """The versions this run logged."""
        info = json.loads(self._store._native.run(self.id))
        return [self._store.artifact(r) for r in info.get("logged") or []]

    def used_artifacts(self) -> List[Artifact]:
        """The versions this run used."""
        info = json.loads(self._store._native.run(self.id))
        return [self._store.artifact(r) for r in info.get("used") or []]

    def save(self) -> None:
        """Persists the summary keys set since the last save (finished runs accept them)."""
        changed = {k: v for k, v in self.summary.items() if self._saved_summary.get(k) != v}
        if changed:
            summary = self.summary
            self._load(json.loads(self._store._native.update_summary(self.id, json.dumps(changed))))
            self.summary.update(summary)
            self._saved_summary = dict(self.summary)

    def finish(self, status: str = "ok", exit_code: Optional[int] = None) -> None:
        """Finishes the run as ``"ok"`` or ``"failed"``, persisting its summary."""
        summary = json.dumps(self.summary)
        self._load(json.loads(self._store._native.finish_run(self.id, status, summary, exit_code)))

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._owned and self.status == "running":
            self.finish("ok" if exc_type is None else "failed")
        else:
            self.save()


class Store:
    """An art store (a ``.artifacts`` directory).

    ``Store()`` opens the store named by ``ART_STORE``, else the nearest ``.artifacts`` at or
    above the current directory; ``Store(path)`` opens the one at ``path``;
    :meth:`Store.init` creates one. With ``progress=True``, long operations (log, download,
    checkout, gc) draw progress bars on stderr when it is a terminal; by default they are quiet.
    """

    def __init__(self, path: Optional[PathLike] = None, progress: bool = False) -> None:
        self._native = _native.Store(path, progress)

    @classmethod
    def init(cls, path: PathLike = ".", progress: bool = False) -> Store:
        """Creates a store in ``path`` (``path/.artifacts``), or opens the one there."""
        store = cls.__new__(cls)
        store._native = _native.Store.init(path, progress)
        return store

    @property
    def dir(self) -> Path:
        """The ``.artifacts`` directory."""
        return self._native.dir

    @property
    def root(self) -> Path:
        """The directory holding ``.artifacts``."""
        return self._native.root

    def __repr__(self) -> str:
        return f"<Store {self.dir}>"

    # -- artifacts -----------------------------------------------------------------------

    def log_artifact(
        self,
        artifact: Artifact,
        aliases: Optional[Sequence[str]] = None,
        run: Optional[Union[Run, str]] = None,
    ) -> Artifact:
        """Logs a draft artifact as the next version of its name and returns it, now logged.

        Content equal to ``latest`` creates no version (the aliases still move). Only blobs
        the store lacks are written, so unchanged files cost nothing.
        """
        artifact._check_draft()
        run_id = run.id if isinstance(run, Run) else run
        if artifact._base is not None:
            return self._log_patch(artifact, aliases, run_id)
        if artifact._count == 0 and not artifact._references:
            raise InvalidInputError(f"artifact `{artifact.name}` is empty; add files first")
        if artifact._sole_dir is not None:
            paths, record = [artifact._sole_dir], True
        elif artifact._count == 0:
            paths, record = [], False
        else:
            paths, record = [artifact._stage_dir()], False
        out = json.loads(
            self._native.log(
                artifact.name,
                paths,
                artifact.type,
                list(aliases or []),
                artifact.description,
                _dumps(artifact.metadata),
                run_id,
                record,
                artifact._references,
                artifact._ref_checksum,
                artifact._ref_max,
            )
        )
        self._adopt(artifact, out["reference"])
        artifact._info["unchanged"] = out["unchanged"]
        artifact._info["stored_bytes"] = out["stored_bytes"]
        artifact._info["new_blobs"] = out["new_blobs"]
        return artifact

    def _staged_paths(self, artifact: Artifact) -> List[str]:
        """The draft's content as paths to log (its sole directory, or the staging one)."""
        if artifact._sole_dir is not None:
            return [str(artifact._sole_dir)]
        if artifact._count == 0:
            return []
        return [str(artifact._stage_dir())]

    def _adopt(self, artifact: Artifact, reference: str) -> Artifact:
        """Turns a draft into the logged version ``reference``, dropping its staging."""
        artifact._store = self
        artifact._load(json.loads(self._native.show(reference)))
        if artifact._staging is not None:
            artifact._staging.cleanup()
            artifact._staging = None
        artifact._sole_dir = None
        return artifact

    def _log_patch(
        self, artifact: Artifact, aliases: Optional[Sequence[str]], run_id: Optional[str]
    ) -> Artifact:
        if artifact._references:
            raise InvalidInputError("a draft made by new_draft() cannot add references")
        if artifact._count == 0 and not artifact._removals:
            raise InvalidInputError(
                f"draft of `{artifact._base}` changes nothing; add or remove files first"
            )
        adds = []
        if artifact._count:
            root = artifact._stage_dir()
            adds = [(str(p), p.name) for p in sorted(root.iterdir())]
        out = json.loads(
            self._native.patch(
                artifact._base,
                adds,
                artifact._removals,
                artifact.description,
                list(aliases or []),
                run_id,
                False,
                _dumps(artifact.metadata),
            )
        )
        self._adopt(artifact, out["reference"])
        artifact._info["unchanged"] = out["unchanged"]
        artifact._info["stored_bytes"] = out["stored_bytes"]
        artifact._info["new_blobs"] = out["new_blobs"]
        return artifact

    def _distributed_id_of(self, given: Optional[str], run: Optional[Union[Run, str]]) -> str:
        if given:
            return given
        env = os.environ.get("ART_DISTRIBUTED_ID")
        if env:
            return env
        group = run.group if isinstance(run, Run) else (self.run(run).group if run else None)
        if group:
            return group
        raise InvalidInputError(
            "no distributed_id: pass one, set ART_DISTRIBUTED_ID, or use a run with a group"
        )

    def upsert_artifact(
        self,
        artifact: Artifact,
        distributed_id: Optional[str] = None,
        run: Optional[Union[Run, str]] = None,
    ) -> Artifact:
        """Adds a draft's files to the pending collaborative version ``distributed_id`` of
        its name (see :meth:`Run.upsert_artifact`); returns the artifact, now ``"pending"``."""
        artifact._check_draft()
        if artifact._base is not None:
            raise InvalidInputError("a draft made by new_draft() is logged, not upserted")
        if artifact._count == 0 and not artifact._references:
            raise InvalidInputError(f"artifact `{artifact.name}` is empty; add files first")
        dist = self._distributed_id_of(distributed_id, run)
        run_id = run.id if isinstance(run, Run) else run
        out = json.loads(
            self._native.log_part(
                artifact.name,
                self._staged_paths(artifact),
                dist,
                artifact.type,
                run_id,
                artifact._references,
                artifact._ref_checksum,
            )
        )
        if artifact._staging is not None:
            artifact._staging.cleanup()
            artifact._staging = None
        artifact._sole_dir = None
        artifact._count = 0
        artifact._references = []
        artifact._distributed_id = dist
        artifact._info = {"parts": out["parts"], "part": out["part_id"]}
        return artifact

    def finish_artifact(
        self,
        artifact: Artifact,
        distributed_id: Optional[str] = None,
        aliases: Optional[Sequence[str]] = None,
        run: Optional[Union[Run, str]] = None,
        prefer: Optional[str] = None,
    ) -> Artifact:
        """Commits the pending collaborative version (see :meth:`Run.finish_artifact`)."""
        artifact._check_draft()
        dist = self._distributed_id_of(distributed_id or artifact._distributed_id, run)
        run_id = run.id if isinstance(run, Run) else run
        out = json.loads(
            self._native.finish_pending(
                artifact.name,
                dist,
                self._staged_paths(artifact),
                list(aliases or []),
                artifact.description,
                _dumps(artifact.metadata),
                run_id,
                prefer,
            )
        )
        self._adopt(artifact, out["reference"])
        artifact._distributed_id = dist
        artifact._info["parts"] = out["parts"]
        return artifact

    def pending(self, name: Optional[str] = None) -> List[Dict[str, Any]]:
        """Pending collaborative versions (of ``name``, or all): distributed id, parts,
        files, size and writers."""
        return list(json.loads(self._native.pending(name)))

    def drop_pending(self, name: str, distributed_id: str) -> None:
        """Abandons a pending collaborative version; its content goes with the next gc."""
        self._native.drop_pending(name, distributed_id)

    def artifact(self, ref: str) -> Artifact:
        """A logged version: ``name`` (latest), ``name:alias``, ``name:vN`` or
        ``name@digest-prefix``."""
        return Artifact._logged(self, json.loads(self._native.show(ref)))

    def artifact_versions(self, name: str, include_deleted: bool = False) -> List[Artifact]:
        """The versions of ``name``, oldest first."""
        return [
            Artifact._logged(self, v)
            for v in json.loads(self._native.versions(name, include_deleted))
        ]

    def artifacts(self, type: Optional[str] = None) -> List[Artifact]:
        """The latest version of every artifact (of ``type``, if given), by name; collections
        are listed by :meth:`collections`."""
        out = []
        for a in json.loads(self._native.list_artifacts()):
            if a.get("collection"):
                continue
            if a.get("latest") and (type is None or a["type"] == type):
                out.append(self.artifact(f"{a['name']}:{a['latest']}"))
        return out

    def size(self) -> int:
        """Bytes the store's packs take on disk."""
        return self._native.store_size()

    def prune(
        self, names: Sequence[str], unaliased: bool = True, keep_last: Optional[int] = None
    ) -> List[str]:
        """Deletes the versions of ``names`` that have no alias (and, with ``keep_last``, are
        not among the newest N); returns the deleted ``name:vN``."""
        out = json.loads(self._native.prune(list(names), unaliased, keep_last, False))
        return list(out["deleted"])

    def gc(self, max: Optional[str] = None, grace: Optional[str] = None) -> Dict[str, Any]:
        """Frees the space of deleted versions (``grace`` such as ``"0s"`` overrides the grace
        period; ``max`` such as ``"10GB"`` evicts pushed packs down to that size)."""
        return dict(json.loads(self._native.gc(max, grace, False)))

    def lineage(
        self, target: str, direction: str = "both", depth: Optional[int] = None
    ) -> Dict[str, Any]:
        """The lineage graph of a version or run: ``{"nodes": [...], "edges": [...]}``."""
        return dict(json.loads(self._native.lineage(target, direction, depth)))

    def push(self, remote: Optional[str] = None, refs: Sequence[str] = ()) -> Dict[str, Any]:
        """Uploads to ``remote`` (the only or default one if None) the packs it lacks."""
        return dict(json.loads(self._native.push(remote, list(refs))))

    def pull(
        self, remote: Optional[str] = None, data: bool = False, names: Sequence[str] = ()
    ) -> Dict[str, Any]:
        """Brings in what ``remote`` recorded that this store lacks; unpushed local versions
        are renumbered after the remote's (``renumbered`` in the result). With ``data``, also
        downloads the packs of live versions (of ``names``, or all) for offline use."""
        return dict(json.loads(self._native.pull(remote, data, list(names))))

    def remote_add(
        self,
        name: str,
        url: str,
        endpoint: Optional[str] = None,
        region: Optional[str] = None,
        allow_http: bool = False,
    ) -> Dict[str, Any]:
        """Adds a remote: a directory, ``s3://bucket/prefix``, ``az://…`` or ``gs://…``.
        Credentials come from the environment, never from the store."""
        return dict(json.loads(self._native.remote_add(name, url, endpoint, region, allow_http)))

    def remotes(self) -> List[Dict[str, Any]]:
        """The configured remotes."""
        return list(json.loads(self._native.remotes()))

    @classmethod
    def clone(
        cls,
        url: str,
        path: PathLike = ".",
        endpoint: Optional[str] = None,
        region: Optional[str] = None,
        allow_http: bool = False,
        progress: bool = False,
    ) -> Store:
        """Makes a store in ``path`` from the remote at ``url`` (``origin``), holding no data:
        reads fetch what they need from the remote."""
        store = cls.__new__(cls)
        store._native = _native.Store.clone(url, path, endpoint, region, allow_http, progress)
        return store

    # -- registry ------------------------------------------------------------------------

    def collection(self, name: str, include_deleted: bool = False) -> List[Artifact]:
        """The links of collection ``name`` (``name:vN``, each with ``source``), oldest first."""
        return self.artifact_versions(name, include_deleted)

    def collections(self) -> List[str]:
        """The names of the collections."""
        return [a["name"] for a in json.loads(self._native.list_artifacts()) if a.get("collection")]

    def protect_alias(self, name: str, alias: str, protected: bool = True) -> None:
        """Protects ``alias`` of artifact or collection ``name`` (moving or removing it then
        needs ``force``, and no version carrying it is deleted), or lifts the protection."""
        self._native.protect_alias(name, alias, protected)

    # -- runs ----------------------------------------------------------------------------

    def init_run(
        self,
        name: Optional[str] = None,
        group: Optional[str] = None,
        job_type: Optional[str] = None,
        config: Optional[Mapping[str, Any]] = None,
        id: Optional[str] = None,
    ) -> Run:
        """Starts a run, or with ``id`` resumes a finished one. Use it in a ``with`` block."""
        if id is not None:
            info = json.loads(self._native.resume_run(id))
        else:
            info = json.loads(self._native.start_run(name, group, job_type, _dumps(config)))
        return Run(self, info, owned=True)

    def run(self, id: str) -> Run:
        """A run by id or unambiguous id prefix."""
        return Run(self, json.loads(self._native.run(id)))

    def runs(
        self,
        group: Optional[str] = None,
        job_type: Optional[str] = None,
        sort: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> List[Run]:
        """Runs, filtered by group and job type, sorted by ``sort`` (``"-summary.acc"``,
        ``"started"``, ``"name"``, ``"config.lr"``, …; ``-`` for descending)."""
        return [Run(self, r) for r in json.loads(self._native.runs(group, job_type, sort, limit))]

    def best_run(
        self,
        metric: str,
        group: Optional[str] = None,
        job_type: Optional[str] = None,
        minimize: bool = False,
    ) -> Run:
        """The finished run with the largest (or, with ``minimize``, smallest) summary
        ``metric``."""
        out = json.loads(self._native.best_run(metric, group, job_type, minimize))
        return Run(self, out["run"])


def init_run(
    name: Optional[str] = None,
    group: Optional[str] = None,
    job_type: Optional[str] = None,
    config: Optional[Mapping[str, Any]] = None,
    store: Optional[Union[Store, PathLike]] = None,
) -> Run:
    """Starts a run in ``store`` (default: :class:`Store()`'s discovery).

    Under ``art run exec`` (``ART_RUN`` is set), returns that run instead: the CLI finishes it
    with the command's exit status, and leaving the ``with`` block saves the summary.
    """
    s = store if isinstance(store, Store) else Store(store)
    current = os.environ.get("ART_RUN")
    if current:
        return Run(s, json.loads(s._native.run(current)), owned=False)
    return s.init_run(name=name, group=group, job_type=job_type, config=config)
