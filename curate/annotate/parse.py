"""Reading an LLM's answer to a task: the value, or why there is none.

An answer that does not parse is never a score: it becomes a `Failure` with a reason and the raw
text, counted and kept by the import, so a model that refuses or rambles cannot silently pull
documents down to 0.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from curate.annotate.tasks import Task

# Typical openings of a refusal; such answers are counted apart from plain parse failures.
REFUSAL = re.compile(r"^\W*(i\s*(am|'m)\s*(sorry|unable|not able)|i\s*(cannot|can't|can not|won't|will not)|"
                     r"sorry\b|as an ai\b|i\s*apologi[sz]e)", re.IGNORECASE)


@dataclass(frozen=True)
class Failure:
    reason: str  # missing | error | refused | no_answer | out_of_range | truncated
    detail: str = ""


def _extract(task: Task, text: str) -> str | None:
    """The raw answer token: the regex's group 1, or the JSON field."""
    if task.answer_regex is not None:
        # the last match: a justification may quote the answer format before the real answer line
        matches = list(re.finditer(task.answer_regex, text, re.MULTILINE))
        return matches[-1].group(1) if matches else None
    try:
        obj = json.loads(text.strip().removeprefix("```json").removeprefix("```").removesuffix("```"))
    except ValueError:
        return None
    if not isinstance(obj, dict) or task.json_field not in obj or obj[task.json_field] is None:
        return None
    return str(obj[task.json_field])


def parse_answer(task: Task, text: str | None, error: str | None = None, finish_reason: str | None = None,
                 letters: list[str] | None = None):
    """A score task: float; a pairwise task: "A" or "B"; a choice task: the letter. Else a Failure."""
    if error:
        return Failure("error", error)
    if text is None or not text.strip():
        return Failure("no_answer", f"empty answer (finish_reason {finish_reason})")
    if finish_reason == "content_filter" or REFUSAL.match(text):
        return Failure("refused", text[:200])
    raw = _extract(task, text)
    if raw is None:
        why = "answer cut off by max_tokens" if finish_reason == "length" else "answer not in the expected form"
        return Failure("truncated" if finish_reason == "length" else "no_answer", why)
    raw = raw.strip()
    if task.kind == "score":
        try:
            value = float(raw)
        except ValueError:
            return Failure("no_answer", f"{raw!r} is not a number")
        if not math.isfinite(value) or (task.levels and value not in task.levels):
            return Failure("out_of_range", f"{raw} not in {list(task.levels)}")
        return value
    allowed = list(task.choices) if task.kind == "pairwise" else (letters or [])
    answer = raw.upper()
    if answer not in allowed:
        return Failure("out_of_range", f"{raw!r} not one of {allowed}")
    return answer


def choice_probability(raw_line: dict, first: str = "A", second: str = "B") -> float | None:
    """P(first) from the answer token's top log-probabilities, when the server returned them
    (QuRating used these probabilities rather than the sampled letter); None otherwise."""
    try:
        choice = raw_line["response"]["body"]["choices"][0]
        content = choice["logprobs"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    for token in content or []:  # the first token that is one of the letters
        tops = {t.get("token", "").strip(): t.get("logprob") for t in token.get("top_logprobs") or []}
        if first in tops or second in tops:
            pa = math.exp(tops[first]) if tops.get(first) is not None else 0.0
            pb = math.exp(tops[second]) if tops.get(second) is not None else 0.0
            return pa / (pa + pb) if pa + pb > 0 else None
    return None
