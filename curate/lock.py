"""One writer per folder: a lock a run holds on each folder it writes, for as long as it runs.

Two runs writing one folder (a cron job overlapping the previous one) corrupt each other's
shards, manifests and dedup index. So a run locks its run directory, each stage's output
folder and a dedup index before it touches anything in them; a second run finds the lock
held and stops at once (`LockHeld`, exit code 75, EX_TEMPFAIL: "try again later").

The lock is `fcntl.flock` on `FOLDER/.curate.lock`. The kernel releases it when the holding
process dies, however it dies, so a killed run never leaves a folder locked for good. The
file also records who holds it (pid, host, start time, command line), which is what the
second run's message shows. A clean release empties the file; a non-empty record under a
free lock was therefore left by a run that was killed, and taking it over says so.

Deleting a flock'ed file lets a second process create a new file of the same name and lock
that, and both would run; so a run never deletes the lock file of a folder it works in
(`empty_locked_folder` clears a folder for `--fresh` but keeps it), and whoever takes a lock
checks that the file it locked is still the one the folder holds. The one deletion: a
folder the lock itself created and nothing else wrote to (the run failed before any work)
is removed again, lock file included, so a failed run leaves no trace.

Locks are re-entrant within a process: a run that holds its run directory may lock the
same folder again (a nested call) without deadlocking itself. They belong to the process
that took them, not to processes it forks (see `_forget_in_child`).
"""

from __future__ import annotations

import fcntl
import functools
import inspect
import json
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

from curate.errors import EXIT_TEMPFAIL, EXIT_USAGE, CurateError
from curate.logs import log

LOCK_NAME = ".curate.lock"


class LockHeld(CurateError):
    """Another live process holds the folder's lock; nothing was written. Exit code 75 (EX_TEMPFAIL)."""

    exit_code = EXIT_TEMPFAIL


class LockUnavailable(CurateError):
    """The folder cannot be locked at all (a file is in the way, no permission). Exit code 2."""

    exit_code = EXIT_USAGE


_held: dict[str, list] = {}  # real path of a folder -> [fd, depth, folder, created] for locks this process holds
_held_guard = threading.Lock()


def _forget_in_child() -> None:
    """A forked child (datatrove's multiprocess Manager, a fork pool) gets copies of the lock
    descriptors, and a flock lasts while any copy is open: a child that outlives a killed run
    would keep its folders locked for good. Children close their copies (the parent's lock stays)."""
    global _held_guard
    for fd, *_ in _held.values():
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()
    _held_guard = threading.Lock()


os.register_at_fork(after_in_child=_forget_in_child)


def _holder_record(what: str) -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name if sys.argv else "python", *sys.argv[1:]]),
        "what": what,
    }


def _read_record(fd: int) -> dict | None:
    """The holder record in the lock file; None when the file is empty (released cleanly)."""
    data = os.pread(fd, 1 << 16, 0)
    if not data.strip():
        return None
    try:
        record = json.loads(data)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def process_alive(pid) -> bool:
    """Whether process `pid` exists on this host (False for a bad or missing pid)."""
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True  # exists, another user's
    return True


def _describe(record: dict | None) -> str:
    if not record:
        return "holder unknown (no record in the lock file yet)"
    host = record.get("host")
    on_host = f" on {host}" if host and host != socket.gethostname() else ""
    parts = [f"pid {record.get('pid', '?')}{on_host}", f"started {record.get('started', '?')}"]
    if record.get("command"):
        parts.append(f"command: {record['command']}")
    return ", ".join(parts)


def _open_lock_file(folder: Path, what: str) -> int:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except (FileExistsError, NotADirectoryError):
        raise LockUnavailable(f"{what} {folder}: a file is in the way, not a folder") from None
    except OSError as e:
        raise LockUnavailable(f"{what} {folder}: cannot create {LOCK_NAME} there ({e.strerror})") from None


def _same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the file open as `fd` (a releasing run may have removed it)."""
    try:
        st, mine = os.stat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _acquire(folder: Path, what: str) -> tuple[int, bool]:
    """(descriptor holding the lock, whether this call created the folder)."""
    for _attempt in range(20):
        created = not folder.exists()
        try:
            fd = _open_lock_file(folder, what)
        except FileNotFoundError:  # removed between mkdir and open by a run releasing it: again
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _refuse(fd, folder, what)
        except OSError as e:
            os.close(fd)
            raise LockUnavailable(f"{what} {folder}: cannot lock {LOCK_NAME} ({e.strerror})") from None
        if not _same_file(fd, folder / LOCK_NAME):  # we locked a file its holder had just removed
            os.close(fd)
            continue
        previous = _read_record(fd)
        if previous is not None and previous.get("pid") != os.getpid():
            log.warning(f"taking over the lock on {what} {folder} left by a run that is gone ({_describe(previous)})")
        data = json.dumps(_holder_record(what)).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        return fd, created
    raise LockUnavailable(f"{what} {folder}: its {LOCK_NAME} keeps being removed while this run tries to lock it")


def _refuse(fd: int, folder: Path, what: str) -> None:
    # the holder writes its record just after taking the lock: give it a moment
    record = _read_record(fd)
    for _ in range(20):
        if record:
            break
        time.sleep(0.05)
        record = _read_record(fd)
    os.close(fd)
    gone = ""
    if record and record.get("host") == socket.gethostname() and not process_alive(record.get("pid")):
        gone = f"; pid {record.get('pid')} has ended but a process it started still holds the lock"
    raise LockHeld(f"{what} {folder} is in use by another curate run ({_describe(record)}{gone}); "
                   f"nothing was changed: wait for that run to end, or stop it, then run again") from None


def _release(fd: int, folder: Path, created: bool) -> None:
    """Unlock. A folder this lock created and nothing else wrote to (the run failed before any
    work: a missing model, a bad input) is removed again, so a refused or failed run leaves no trace."""
    try:
        if created and [p.name for p in folder.iterdir()] == [LOCK_NAME]:
            (folder / LOCK_NAME).unlink()  # still holding the lock: a waiter re-checks the path (_same_file)
            try:
                folder.rmdir()
            except OSError:
                pass  # another run created something there meanwhile
        else:
            os.ftruncate(fd, 0)  # an empty record: released cleanly, nothing to take over
    finally:
        os.close(fd)  # closing the last descriptor releases the flock


@contextmanager
def folder_lock(folder: Path | str, what: str = "folder") -> Iterator[Path]:
    """Hold the lock on `folder` (created if missing) for the body of the `with`.

    Raises `LockHeld` at once if another live process holds it; takes over, with a warning,
    a lock left by a killed run. Re-entrant within this process.
    """
    folder = Path(folder)
    key = os.path.realpath(folder)
    with _held_guard:
        mine = _held.get(key)
        if mine is None:
            fd, created = _acquire(folder, what)
            mine = _held[key] = [fd, 0, folder, created]
        mine[1] += 1
    try:
        yield folder
    finally:
        with _held_guard:
            mine[1] -= 1
            if mine[1] == 0:
                del _held[key]
                _release(mine[0], mine[2], mine[3])


@contextmanager
def folder_locks(folders: list[tuple[Path, str]]) -> Iterator[None]:
    """Hold the locks on several (folder, what) pairs, taken in order; all released at the end."""
    with ExitStack() as stack:
        for folder, what in folders:
            stack.enter_context(folder_lock(folder, what))
        yield


def hold_locks(folders_of: Callable[[dict], list[tuple[Path, str]]]):
    """Decorator: hold the locks on `folders_of(arguments)` for the whole call.

    `arguments` maps the decorated function's parameter names to this call's values (defaults
    included), e.g. `@hold_locks(lambda a: [(a["out_dir"], "output folder")])`.
    """

    def decorate(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def locked(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            with folder_locks(folders_of(bound.arguments)):
                return fn(*args, **kwargs)

        return locked

    return decorate


def stage_folders(stage) -> list[tuple[Path, str]]:
    """The folders a stage writes besides its output folder (`Stage.locks()`), for `folder_locks`."""
    return [(Path(p), f"{stage.name} folder") for p in stage.locks()]


def empty_locked_folder(folder: Path) -> None:
    """Remove everything in `folder` except its lock file (what `--fresh` does to a locked folder)."""
    if not folder.is_dir():
        return
    for child in folder.iterdir():
        if child.name == LOCK_NAME:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
