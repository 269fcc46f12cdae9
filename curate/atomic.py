"""Writing files atomically: to a temporary name in the same folder, renamed into place when complete.

A crash (even `kill -9`) leaves either the old file or the new one under the final name, never a
half-written file. Temporary names are `.NAME.PID.tmp`, so a later run can find and remove
leftovers (`TMP_GLOB`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_GLOB = ".*.tmp"


def temp_path(path: Path) -> Path:
    """The temporary name `path` is written under before it is complete."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on an exception it is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes | str) -> None:
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data)
        else:
            tmp.write_bytes(data)


def remove_leftovers(folder: Path) -> None:
    """Remove temporary files a killed run left in `folder`."""
    for tmp in folder.glob(TMP_GLOB) if folder.is_dir() else ():
        tmp.unlink(missing_ok=True)
