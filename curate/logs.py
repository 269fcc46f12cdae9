"""curate's one logging setup: loguru (datatrove's logger), warnings to stderr, everything to task logs.

Every module logs with `from curate.logs import log`. In the main process stderr shows warnings
and errors as one line each (`CURATE_LOG_LEVEL` or `-v` for more); datatrove's per-task log files
(`OUT/_logs/logs/task_NNNNN.log`) get every level with tracebacks. With `CURATE_LOG_FORMAT=json`
(`curate --log-format json`) stderr gets one JSON object per line instead, in workers too.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timezone

import datatrove.executor.base as _dt_base
import datatrove.utils.logging as _dt_logging
from loguru import logger as log

LOG_LEVEL_ENV = "CURATE_LOG_LEVEL"
LOG_FORMAT_ENV = "CURATE_LOG_FORMAT"  # text (default) | json
LOG_FORMATS = ("text", "json")


def _one_line(record) -> str:
    # a callable format leaves out the traceback: stderr gets one line, the task log the rest
    return "{level}: {message}\n"


def json_mode() -> bool:
    return os.environ.get(LOG_FORMAT_ENV, "text") == "json"


def _json_line(message) -> None:
    """`--log-format json`: one JSON object per line, no traceback (that stays in the task log).
    `stage`, `shard` and `counts` come from the record's bound context (`log.bind`, `contextualize`)."""
    r = message.record
    extra = r["extra"]
    line = {"time": r["time"].astimezone(timezone.utc).isoformat(timespec="milliseconds"),
            "level": r["level"].name, "stage": extra.get("stage"), "shard": extra.get("shard"),
            "message": r["message"], "counts": extra.get("counts"), "pid": r["process"].id}
    sys.stderr.write(json.dumps(line, default=str, ensure_ascii=False) + "\n")
    sys.stderr.flush()


def _not_datatrove_chatter(record) -> bool:
    # datatrove's per-task stats (SUCCESS, multi-line) belong in the task log, not in JSON logs
    return not (record["name"] or "").startswith("datatrove") or record["level"].no >= 30


def _stderr_sink(json_level: str = "INFO") -> int:
    # json in the main process: INFO by default (stage results and progress are INFO records);
    # text, and worker tasks (datatrove's chatter stays in the task log): warnings and errors
    if json_mode():
        return log.add(_json_line, level=os.environ.get(LOG_LEVEL_ENV, json_level), filter=_not_datatrove_chatter)
    return log.add(sys.stderr, level=os.environ.get(LOG_LEVEL_ENV, "WARNING"), format=_one_line)


# curate's own sinks, so reconfiguring removes only them (a test's or a library user's sinks stay)
_sinks: list[int] = []


def _remove_own_sinks() -> None:
    while _sinks:
        try:
            log.remove(_sinks.pop())
        except ValueError:  # already removed by someone else
            pass


def configure_main_logging() -> None:
    _remove_own_sinks()
    _sinks.append(_stderr_sink())


def _task_logger(logging_dir, rank: int, local_rank: int = 0, node_rank: int = -1):
    """datatrove logs every task at INFO to stderr; curate shows warnings only, and keeps all in the file."""
    _remove_own_sinks()
    logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
    _sinks.append(_stderr_sink(json_level="WARNING"))
    _sinks.append(log.add(logfile, level="DEBUG", diagnose=False))
    return logfile


# Applied in every process that imports curate (workers too: they unpickle steps from curate
# modules). datatrove resets its logger to INFO-on-stderr after each task; curate keeps its own.
_dt_base.add_task_logger = _task_logger
_dt_logging.setup_default_logger = configure_main_logging
log.remove()  # loguru's and datatrove's default stderr sinks (with tracebacks): curate's replace them
configure_main_logging()
