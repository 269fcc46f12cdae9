"""Turning what the user named (files, folders, globs, `-`) into an ordered list of input shards."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import xxhash

from curate.errors import InputError
from curate.logs import log
from curate.shards import strip_suffix

STDIN = "-"
MAX_LISTED = 5  # file names shown per message


@dataclass(frozen=True)
class InputShard:
    """One unit of work: a file (or stdin, `path=None`), the name its outputs get, its source."""

    path: Path | None
    name: str
    source: str

    @property
    def label(self) -> str:
        return str(self.path) if self.path else "<stdin>"


def _listed(paths: list[Path]) -> str:
    names = ", ".join(p.name for p in paths[:MAX_LISTED])
    return names + (f", … ({len(paths) - MAX_LISTED} more)" if len(paths) > MAX_LISTED else "")


def _expand(arg: str, suffixes: tuple[str, ...]) -> list[Path]:
    """The files an argument names; files a folder or glob holds but this stage does not read are reported."""
    if any(ch in arg for ch in "*?["):
        found = [p for p in sorted(Path(p) for p in glob.glob(arg, recursive=True)) if p.is_file()]
        root = None
    elif Path(arg).is_dir():
        root = Path(arg)
        found = sorted(p for p in root.rglob("*") if p.is_file()
                       and not any(part.startswith(("_", ".")) for part in p.relative_to(root).parts)
                       and "rejected" not in p.relative_to(root).parts[:-1])
    elif Path(arg).is_file():
        return [Path(arg)]
    else:
        raise InputError(f"input {arg!r} does not exist")
    read = [p for p in found if p.name.endswith(suffixes)]
    skipped = [p for p in found if not p.name.endswith(suffixes)]
    if skipped:
        log.warning("{}: skipping {} file(s) this stage does not read (not ending in {}): {}", arg, len(skipped),
                    " ".join(suffixes), _listed(skipped))
    if read and root is not None:
        log.info("{}: reading {} file(s): {}", arg, len(read), _listed(read))
    return read


def resolve_inputs(
    args: list[str], suffixes: tuple[str, ...], source: str | None = None, sources: list[str | None] | None = None
) -> list[InputShard]:
    """Resolve input arguments to shards, in a stable order.

    A folder is searched recursively for files ending in `suffixes` (folders starting with
    `_` or `.`, such as `rejected/`'s siblings `_manifest/`, are skipped; `rejected/` is
    skipped too). The source of each shard is `source`, else the per-argument `sources`
    entry, else the argument's own name (folder name or file stem). Output names are file
    stems, made unique with a short path hash when two inputs share a stem.
    """
    found: list[tuple[Path | None, str]] = []
    for i, arg in enumerate(args):
        src = source or (sources[i] if sources else None)
        if arg == STDIN:
            found.append((None, src or "stdin"))
            continue
        paths = _expand(arg, suffixes)
        if not paths:
            raise InputError(f"input {arg!r} holds no files this stage reads (ending in {', '.join(suffixes)})")
        default_src = Path(arg.rstrip("/")).name if Path(arg).is_dir() else None
        for p in paths:
            found.append((p, src or default_src or strip_suffix(p.name, suffixes)))
    stems = [(strip_suffix(p.name, suffixes) if p else "stdin") for p, _ in found]
    shards, seen = [], set()
    for (path, src), stem in zip(found, stems):
        name = stem
        if stems.count(stem) > 1:
            name = f"{stem}-{xxhash.xxh64_hexdigest(str(path.resolve()) if path else 'stdin')[:8]}"
        if name in seen:  # the same file named twice
            continue
        seen.add(name)
        shards.append(InputShard(path, name, src))
    return shards
