"""The errors a user can see, and the exit code each one means.

Every error curate reports on purpose is a `CurateError` with a one-line message and an exit
code; the CLI maps them in one place (`curate.cli.main`). Anything else that escapes is a bug:
the CLI prints one line and writes the traceback to a log file, never to the terminal.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # the run finished but failed: a shard raised, nothing could be read, documents unaccounted
EXIT_USAGE = 2  # bad arguments, config, input or model: nothing was done
EXIT_TEMPFAIL = 75  # EX_TEMPFAIL: another run holds the lock; try again later
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)


class CurateError(Exception):
    """An error with a message for the user and the process exit code it maps to."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(CurateError):
    """The configuration file is invalid; the message names the file and key."""


class InputError(CurateError):
    """An input the user named cannot be used; the message says which and why."""


class StageError(CurateError):
    """A stage cannot run as configured (missing model, bad option)."""


class ShardError(CurateError):
    """A shard could not be read or written; the message names the file."""


class ShardFailed(CurateError):
    """A stage raised while processing a shard; finished shards stay done, so a rerun resumes."""

    exit_code = EXIT_FAILED


class RunFailed(CurateError):
    """A run finished but its result is not usable (nothing read, documents unaccounted)."""

    exit_code = EXIT_FAILED
