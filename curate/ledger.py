"""The ledger: every input file a run directory has processed, keyed by the file's content.

`RUN_DIR/ledger.json` lists one record per content (sha256 of the file's bytes): where it was
last seen, its size and mtime, and the batch that processed it. A later run compares the files
its inputs name with the ledger:

- **added**: content the ledger does not know, at a path it does not know;
- **changed**: content the ledger does not know, at a path it knows (the file was rewritten);
- **skipped**: content the ledger knows, wherever it is now (a renamed or moved file is not
  processed again; the ledger records its new path).

Hashing a crawl dump is not free (≈ 1 GB/s), so a file whose path, size and mtime equal the
ledger's record is taken to be unchanged and not hashed again; anything else is hashed.

The ledger is rewritten atomically (curate/atomic.py), only after a batch completed, by a run
holding the run directory's lock (curate/batches.py): a crashed run leaves its files unrecorded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from curate.atomic import write_atomic
from curate.errors import ConfigError
from curate.inputs import InputShard

LEDGER_NAME = "ledger.json"
FORMAT = 1


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@dataclass
class FileRecord:
    """One processed content: where it was last seen and which batch processed it."""

    sha256: str
    size: int
    path: str  # absolute; updated when the same content is found elsewhere
    mtime_ns: int
    batch: str  # the batch that processed it


@dataclass
class Candidate:
    """A file the inputs name now, with what the ledger needs to decide about it."""

    path: Path  # absolute
    source: str
    size: int
    mtime_ns: int
    sha256: str

    def as_dict(self) -> dict:
        return {"path": str(self.path), "source": self.source, "size": self.size, "mtime_ns": self.mtime_ns,
                "sha256": self.sha256}

    @classmethod
    def from_dict(cls, d: dict) -> "Candidate":
        return cls(Path(d["path"]), d["source"], d["size"], d["mtime_ns"], d["sha256"])


@dataclass
class Delta:
    """What a scan found, relative to the ledger."""

    added: list[Candidate] = field(default_factory=list)
    changed: list[Candidate] = field(default_factory=list)
    skipped: list[Candidate] = field(default_factory=list)
    moved: list[tuple[str, Candidate]] = field(default_factory=list)  # (path in the ledger, where it is now)
    hashed: int = 0  # files whose bytes were read (the rest passed the path+size+mtime check)
    found: list[Candidate] = field(default_factory=list, repr=False)  # every file the scan found

    @property
    def new(self) -> list[Candidate]:
        """The files to process, in input order."""
        return sorted(self.added + self.changed, key=lambda c: self._order[c.sha256])

    _order: dict[str, int] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict:
        return {
            "added": [c.as_dict() for c in self.added],
            "changed": [c.as_dict() for c in self.changed],
            "skipped": len(self.skipped),  # a count: the list would repeat the whole crawl on every run
            "moved": [{"from": old, "to": str(c.path), "sha256": c.sha256} for old, c in self.moved],
            "hashed": self.hashed,
        }

    def counts(self) -> dict:
        return {"added": len(self.added), "changed": len(self.changed), "skipped": len(self.skipped),
                "moved": len(self.moved), "hashed": self.hashed}


class Ledger:
    def __init__(self, run_dir: Path, records: list[FileRecord] | None = None, batches: list[str] | None = None,
                 seen: dict[str, list] | None = None):
        self.path = Path(run_dir) / LEDGER_NAME
        self.records: dict[str, FileRecord] = {r.sha256: r for r in records or []}
        self.batches: list[str] = list(batches or [])  # committed batches, oldest first
        # every path the last scan found: [sha256, size, mtime_ns], so a skipped copy is not hashed again
        self.seen: dict[str, list] = dict(seen or {})

    @classmethod
    def load(cls, run_dir: Path) -> "Ledger":
        path = Path(run_dir) / LEDGER_NAME
        if not path.exists():
            return cls(run_dir)
        try:
            data = json.loads(path.read_text())
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
            return cls(run_dir, [FileRecord(**r) for r in data["files"]], data.get("batches", []), data.get("seen", {}))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"{path}: unreadable ledger ({e}); restore it from a backup or move it away "
                              "(then every input file counts as new)") from None

    def save(self) -> None:
        data = {"format": FORMAT, "batches": self.batches, "files": [asdict(r) for r in self.records.values()],
                "seen": self.seen}
        write_atomic(self.path, json.dumps(data, indent=1) + "\n")

    def _by_path(self) -> dict[str, FileRecord]:
        return {r.path: r for r in self.records.values()}

    def scan(self, shards: list[InputShard], hashed_before: list[Candidate] = ()) -> Delta:
        """Classify the files `shards` name (as resolved by curate/inputs.py) against the ledger.
        `hashed_before`: files hashed by an unfinished batch, also trusted by path, size and mtime."""
        by_path = self._by_path()
        for c in hashed_before:
            by_path.setdefault(str(c.path), FileRecord(c.sha256, c.size, str(c.path), c.mtime_ns, ""))
        stat_cache = {p: FileRecord(sha, size, p, mtime, "") for p, (sha, size, mtime) in self.seen.items()}
        stat_cache.update(by_path)
        delta = Delta()
        found: list[Candidate] = []
        for shard in shards:
            if shard.path is None:
                raise ConfigError("a run with a ledger reads files, not stdin")
            path = shard.path.resolve()
            st = path.stat()
            known = stat_cache.get(str(path))
            if known is not None and known.size == st.st_size and known.mtime_ns == st.st_mtime_ns:
                digest = known.sha256  # unchanged by path, size and mtime: not read again
            else:
                digest = sha256_file(path)
                delta.hashed += 1
            found.append(Candidate(path, shard.source, st.st_size, st.st_mtime_ns, digest))
        delta.found = found
        present = {(str(c.path), c.sha256) for c in found}
        seen: set[str] = set()
        for i, c in enumerate(found):
            if c.sha256 in seen:  # the same bytes twice among the inputs: processed once
                delta.skipped.append(c)
                continue
            seen.add(c.sha256)
            delta._order[c.sha256] = i
            record = self.records.get(c.sha256)
            known = by_path.get(str(c.path))
            if record is not None:
                delta.skipped.append(c)
                if (record.path, c.sha256) not in present:  # gone from where it was: moved (a copy is not)
                    delta.moved.append((record.path, c))
            elif known is not None:
                delta.changed.append(c)
            else:
                delta.added.append(c)
        return delta

    def record_moves(self, delta: Delta) -> bool:
        """Point records of moved files at their new path and remember what the scan found (only
        files whose content is recorded: a new file's hash is trusted once its batch completed);
        whether anything changed."""
        for _old, c in delta.moved:
            r = self.records[c.sha256]
            r.path, r.size, r.mtime_ns = str(c.path), c.size, c.mtime_ns
        seen = {str(c.path): [c.sha256, c.size, c.mtime_ns] for c in delta.found if c.sha256 in self.records}
        changed = bool(delta.moved) or seen != self.seen
        self.seen = seen
        return changed

    def commit(self, batch: str, processed: list[Candidate], delta: Delta | None) -> None:
        """Record a completed batch: its files, and where moved files are now; then save."""
        for c in processed:
            self.records[c.sha256] = FileRecord(c.sha256, c.size, str(c.path), c.mtime_ns, batch)
        if delta is not None:
            self.record_moves(delta)
        if batch not in self.batches:
            self.batches.append(batch)
        self.save()
