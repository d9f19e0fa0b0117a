"""Type stubs of the native half of art_store (the PyO3 module). Methods return art's
outcomes as JSON text, the same JSON the CLI prints with ``--json``; ``art_store`` wraps
them in Python objects."""

import os
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

_Path = Union[str, os.PathLike[str]]

class ArtError(Exception):
    """Any failure of an art operation; the message is art's own."""

class NotFoundError(ArtError):
    """No such artifact, version, alias, run or remote."""

class NotAStoreError(NotFoundError):
    """No art store at that path or above it."""

class RefusedError(ArtError):
    """art refused, to protect data (the CLI's exit status 3): nothing was changed."""

class InvalidInputError(ArtError):
    """A name, reference, metadata value, sort key or option art does not accept."""

class Store:
    """An open art store (a ``.artifacts`` directory)."""

    def __init__(self, path: Optional[_Path] = None, progress: bool = False) -> None: ...
    @staticmethod
    def init(path: _Path, progress: bool = False) -> Store: ...
    @property
    def dir(self) -> Path: ...
    @property
    def root(self) -> Path: ...
    def log(
        self,
        name: str,
        paths: Sequence[_Path],
        kind: Optional[str] = None,
        aliases: Sequence[str] = ...,
        description: Optional[str] = None,
        metadata: Optional[str] = None,
        run: Optional[str] = None,
        record_source: bool = True,
        references: Sequence[str] = ...,
        checksum: bool = True,
        max_objects: Optional[int] = None,
    ) -> str: ...
    def show(self, reference: str) -> str: ...
    def versions(self, name: str, include_deleted: bool = False) -> str: ...
    def list_artifacts(self) -> str: ...
    def files(self, reference: str) -> str: ...
    def read_file(self, reference: str, path: str) -> bytes: ...
    def copy_file(self, reference: str, path: str, dest: _Path) -> int: ...
    def checkout(
        self,
        reference: str,
        dest: Optional[_Path] = None,
        force: bool = False,
        download: bool = False,
    ) -> str: ...
    def verify(self, reference: str, dir: Optional[_Path] = None) -> str: ...
    def set_alias(self, reference: str, alias: str) -> str: ...
    def remove_alias(self, name: str, alias: str) -> str: ...
    def set_meta(
        self, reference: str, description: Optional[str] = None, metadata: Optional[str] = None
    ) -> str: ...
    def remove(self, references: Sequence[str], delete_aliases: bool = False) -> str: ...
    def prune(
        self,
        names: Sequence[str],
        unaliased: bool = False,
        keep_last: Optional[int] = None,
        dry_run: bool = False,
    ) -> str: ...
    def gc(
        self, max: Optional[str] = None, grace: Optional[str] = None, dry_run: bool = False
    ) -> str: ...
    def store_size(self) -> int: ...
    def start_run(
        self,
        name: Optional[str] = None,
        group: Optional[str] = None,
        job_type: Optional[str] = None,
        config: Optional[str] = None,
    ) -> str: ...
    def run(self, id: str) -> str: ...
    def resume_run(self, id: str) -> str: ...
    def finish_run(
        self,
        id: str,
        status: str = "ok",
        summary: Optional[str] = None,
        exit_code: Optional[int] = None,
    ) -> str: ...
    def update_summary(self, id: str, summary: str) -> str: ...
    def use_version(
        self, reference: str, run: str, dest: Optional[_Path] = None, force: bool = False
    ) -> str: ...
    def runs(
        self,
        group: Optional[str] = None,
        job_type: Optional[str] = None,
        sort: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> str: ...
    def best_run(
        self,
        metric: str,
        group: Optional[str] = None,
        job_type: Optional[str] = None,
        minimize: bool = False,
    ) -> str: ...
    def lineage(self, target: str, direction: str = "both", depth: Optional[int] = None) -> str: ...
    def remotes(self) -> str: ...
    def log_part(
        self,
        name: str,
        paths: Sequence[_Path],
        distributed_id: str,
        kind: Optional[str] = None,
        run: Optional[str] = None,
        references: Sequence[str] = ...,
        checksum: bool = True,
    ) -> str: ...
    def finish_pending(
        self,
        name: str,
        distributed_id: str,
        paths: Sequence[_Path] = ...,
        aliases: Sequence[str] = ...,
        description: Optional[str] = None,
        metadata: Optional[str] = None,
        run: Optional[str] = None,
        prefer: Optional[str] = None,
    ) -> str: ...
    def pending(self, name: Optional[str] = None) -> str: ...
    def drop_pending(self, name: str, distributed_id: str) -> str: ...
    def patch(
        self,
        reference: str,
        add: Sequence[Tuple[_Path, Optional[str]]] = ...,
        remove: Sequence[str] = ...,
        description: Optional[str] = None,
        aliases: Sequence[str] = ...,
        run: Optional[str] = None,
        onto_latest: bool = False,
        metadata: Optional[str] = None,
    ) -> str: ...
    def push(self, remote: Optional[str] = None, references: Sequence[str] = ...) -> str: ...
    def pull(self, remote: Optional[str] = None, data: bool = False, names: Sequence[str] = ...) -> str: ...
    def remote_add(
        self,
        name: str,
        url: str,
        endpoint: Optional[str] = None,
        region: Optional[str] = None,
        allow_http: bool = False,
    ) -> str: ...
    @staticmethod
    def clone(
        url: str,
        path: Union[str, os.PathLike[str]],
        endpoint: Optional[str] = None,
        region: Optional[str] = None,
        allow_http: bool = False,
        progress: bool = False,
    ) -> Store: ...
    def link(self, reference: str, collection: str, aliases: Sequence[str] = ..., force: bool = False) -> str: ...
    def unlink(self, reference: str, force: bool = False) -> str: ...
    def protect_alias(self, name: str, alias: str, on: bool) -> None: ...
    def tag(self, reference: str, tags: Sequence[str], on: bool) -> str: ...
    def set_ttl(self, reference: str, ttl: Optional[str] = None) -> Optional[int]: ...
    def open_file(self, reference: str, path: str) -> FileStream: ...

class FileStream:
    """A file of a version streamed from the store."""

    @property
    def size(self) -> int: ...
    def read(self, n: int = -1) -> bytes: ...
