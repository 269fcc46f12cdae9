"""What a filter rule is: a named measurement of a document and the threshold test on it.

The measurement is data (written as a column in `--mode tag`); the threshold is policy (a
config value, per language if wanted). Rules read shared `Features`, never the raw text
again, so adding a rule costs only its own measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from curate.stages.filter.features import Features

Params = dict[str, Any]  # threshold name -> value, resolved for one language


@dataclass(frozen=True)
class Rule:
    name: str  # "gopher_min_words": reject reason "filter:gopher_min_words"
    measure: Callable[[Features, Params], float | None]  # None: undefined for this text, passes
    fails: Callable[[float, Params], bool]
    thresholds: tuple[str, ...]  # the Params keys this rule reads (for docs and validation)
    doc: str
    # measured on the text C4's line pass keeps, when a C4 rule is active (FineWeb's order)
    reads_c4_text: bool = False
    # a reject detail better than "value op threshold" (e.g. which blocklist matched)
    explain: Callable[[Features, Params], str] | None = None


@dataclass(frozen=True)
class Threshold:
    default: Any  # the published value, used when the preset does not set another one
    type: type
    doc: str  # what it means and where the value comes from


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


# Threshold tests that know which bound they compare with, so a reject can say
# "gopher_alpha_words 0.723 < 0.8". `limits` is read only when explaining a failure.

def above(key: str | None) -> Callable[[float, Params], bool]:
    """Fails when the value is over `params[key]` (over 0 when `key` is None: a yes/no rule)."""
    test = (lambda v, p: v > 0) if key is None else (lambda v, p: v > p[key])
    test.limits = ((">", key),)
    return test


def below(key: str) -> Callable[[float, Params], bool]:
    """Fails when the value is under `params[key]`."""
    test = lambda v, p: v < p[key]  # noqa: E731
    test.limits = (("<", key),)
    return test


def outside(low: str, high: str) -> Callable[[float, Params], bool]:
    """Fails when the value is under `params[low]` or over `params[high]`."""
    test = lambda v, p: v < p[low] or v > p[high]  # noqa: E731
    test.limits = (("<", low), (">", high))
    return test


def _number(x: Any) -> str:
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.4g}"
    return str(int(x)) if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def explain(rule: Rule, value: float, params: Params, features: Features | None = None) -> str:
    """What was measured against which threshold, e.g. "gopher_alpha_words 0.723 < 0.8"."""
    if rule.explain is not None and features is not None:
        return rule.explain(features, params)
    for op, key in getattr(rule.fails, "limits", ()):
        limit = 0 if key is None else params[key]
        if (value < limit) if op == "<" else (value > limit):
            shown, bound = _number(value), _number(limit)
            if shown == bound:  # 0.80004 > 0.8 must not read "0.8 > 0.8"
                shown = repr(float(value))
            return f"{rule.name} {shown} {op} {bound}" + (f" ({key})" if key and key not in rule.name else "")
    # a test with its own logic: show the value and the thresholds it reads
    settings = ", ".join(f"{k}={_number(params[k])}" for k in rule.thresholds if not isinstance(params.get(k), list))
    return f"{rule.name} {_number(value)}" + (f" ({settings})" if settings else "")
