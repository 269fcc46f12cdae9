"""The registry of stages: finding every stage by its name.

Each module or package in this folder that defines a `@register`ed Stage is a built-in stage,
so adding a stage means adding a module; nothing else to edit. Stages from other packages
register through the `curate.stages` entry point group.

Modules are imported on first lookup, each on its own: a stage whose module fails to import
(a missing optional dependency, a bug) is reported by name when it is asked for, and every
other stage and command keeps working.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points

from curate.errors import StageError
from curate.logs import log
from curate.records import register_columns
from curate.stage import Stage

STAGES: dict[str, type[Stage]] = {}
BROKEN: dict[str, str] = {}  # module or entry point -> why it could not be imported
_loaded = False


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: make a stage available to `curate run` and the CLI by its name."""
    other = STAGES.get(cls.name)
    if other is not None and (other.__module__, other.__qualname__) != (cls.__module__, cls.__qualname__):
        raise StageError(f"two stages are named {cls.name!r}: {other.__module__}.{other.__qualname__} "
                         f"and {cls.__module__}.{cls.__qualname__}")
    STAGES[cls.name] = cls
    register_columns(cls.columns)
    register_columns({cls.reason_column(): cls.REASON_TYPE})
    return cls


def load_stages() -> dict[str, type[Stage]]:
    """Import the built-in stage modules and entry-point plugins once; remember the ones that fail."""
    global _loaded
    if not _loaded:
        _loaded = True
        for mod in pkgutil.iter_modules(__path__):
            _import(f"{__name__}.{mod.name}", lambda name=f"{__name__}.{mod.name}": importlib.import_module(name))
        for ep in entry_points(group="curate.stages"):
            _import(f"plugin {ep.name} ({ep.value})", ep.load)
    return STAGES


def _import(what: str, load) -> None:
    try:
        load()
    except Exception as e:  # noqa: BLE001 - one broken stage must not take the others down
        BROKEN[what] = f"{type(e).__name__}: {e}"
        log.warning("stage module {} could not be imported ({}); its stages are unavailable", what, BROKEN[what])


def get_stage(name: str) -> type[Stage]:
    stages = load_stages()
    try:
        return stages[name]
    except KeyError:
        broken = "".join(f"; {what} failed to import: {why}" for what, why in BROKEN.items())
        raise StageError(f"unknown stage {name!r}; known stages: {', '.join(sorted(stages))}{broken}") from None
