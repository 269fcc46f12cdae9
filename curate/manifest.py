"""The per-stage manifest: one small JSON file per finished input shard, under `OUT/_manifest/`.

A shard is done when its entry exists, names the same input content hash and stage
fingerprint, and its output files are present. Entries are written atomically after the
outputs, so a crash (even `kill -9`) leaves either a finished shard or one to redo.
One file per shard (not one shared file) lets parallel workers record completion without
locks.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
import xxhash

from curate.atomic import write_atomic

MANIFEST_DIR = "_manifest"


def file_hash(path: Path) -> str:
    """xxh3-128 of a file's bytes (several GB/s, so hashing inputs costs little next to processing)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, xxhash.xxh3_128).hexdigest()


@dataclass
class Entry:
    input: str
    input_hash: str
    input_size: int
    input_mtime_ns: int
    fingerprint: str
    outputs: list[str] = field(default_factory=list)  # relative to the stage's output folder
    rejected: list[str] = field(default_factory=list)
    named_outputs: dict[str, list[str]] = field(default_factory=dict)  # a stage's declared extra outputs
    stats: dict = field(default_factory=dict)
    curate_version: str = ""
    # In a fused pass: the folder of the next stage, which got this stage's kept documents in
    # memory (so this folder has no kept shards of its own); "" when they were written here.
    passed_to: str = ""
    passed_columns: list[str] = field(default_factory=list)  # the columns of the documents passed on

    def all_outputs(self) -> list[str]:
        return self.outputs + self.rejected + [p for paths in self.named_outputs.values() for p in paths]


class Manifest:
    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.dir = out_dir / MANIFEST_DIR

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.json"

    def load(self, name: str) -> Entry | None:
        try:
            return Entry(**orjson.loads(self.path(name).read_bytes()))
        except (FileNotFoundError, orjson.JSONDecodeError, TypeError):
            return None

    def save(self, name: str, entry: Entry) -> None:
        write_atomic(self.path(name), orjson.dumps(asdict(entry), option=orjson.OPT_INDENT_2))

    def remove(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def names(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.name[: -len(".json")] for p in self.dir.glob("*.json"))

    def passes_on(self) -> bool:
        """True if the stage handed its kept documents to the next stage in memory (a fused pass)."""
        return bool(self.passed_columns())

    def passed_columns(self) -> list[str]:
        """The columns of the documents the stage handed on in memory, over all shards ([] if none)."""
        columns: set[str] = set()
        for entry in map(self.load, self.names()):
            if entry is not None and entry.passed_to:
                columns.update(entry.passed_columns or ["id"])
        return sorted(columns)

    def input_hash(self, name: str, path: Path | None) -> str:
        """Content hash of an input, reusing the recorded one when size and mtime are unchanged."""
        if path is None:
            return ""
        st = path.stat()
        old = self.load(name)
        if old and old.input == str(path) and old.input_size == st.st_size and old.input_mtime_ns == st.st_mtime_ns:
            return old.input_hash
        return file_hash(path)

    def is_done(self, name: str, input_hash: str, fingerprint: str) -> bool:
        entry = self.load(name)
        return (
            entry is not None
            and entry.input_hash == input_hash
            and entry.fingerprint == fingerprint
            and all((self.out_dir / p).exists() for p in entry.all_outputs())
        )
