"""The heuristic filter stage: Gopher, C4, FineWeb, URL-blocklist and character rules in one pass.

Every active rule measures the document from shared `Features` (tokenized once) and compares
the measurement with its threshold, resolved per document language. `--mode drop` rejects a
document at its first failing rule (`filter:<rule>`, all failing rules in `filter_failed`);
`--mode tag` keeps everything (the runner writes the first failing rule to `filter_reason`) and
also writes each measurement and pass/fail as columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal, Optional

import pyarrow as pa
from pydantic import Field, create_model, model_validator

from curate.records import TEXT
from curate.stage import Stage, StageConfig, StageSummary
from curate.stages import register
from curate.stages.filter import c4
from curate.stages.filter.features import Features
from curate.stages.filter.presets import ALL_RULES, PRESETS, THRESHOLDS
from curate.stages.filter.rule import Params, Rule

FAILED = "filter_failed"


def value_column(rule: str) -> str:
    return f"filter_{rule}"


def pass_column(rule: str) -> str:
    return f"filter_{rule}_pass"


class _FilterOptions(StageConfig):
    preset: Literal["fineweb", "gopher", "c4", "refinedweb", "none"] = Field(
        "fineweb", description="Which published recipe's rules and thresholds to start from.")
    enable: list[str] = Field([], description="Rules to add to the preset's, by name.")
    disable: list[str] = Field([], description="Rules of the preset to skip, by name.")
    all_failures: bool = Field(
        True, description="drop mode: evaluate every rule so filter_failed lists all failing ones; "
                          "false stops at the first failure (faster, as datatrove's chain does).")
    per_language: dict[str, dict[str, Any]] = Field(
        {},
        description="Per-language overrides, e.g. {zh: {min_stop_words: 0, disable: [gopher_mean_word_length]}}; "
                    "keys are threshold names or `disable`; the language is the document's `language` column.")

    @model_validator(mode="after")
    def _known_names(self):
        for key in ("enable", "disable"):
            unknown = set(getattr(self, key)) - set(ALL_RULES)
            if unknown:
                raise ValueError(f"{key}: unknown rule(s) {sorted(unknown)}; rules: {', '.join(ALL_RULES)}")
        for lang, overrides in self.per_language.items():
            unknown = set(overrides) - set(THRESHOLDS) - {"disable"}
            if unknown:
                raise ValueError(f"per_language.{lang}: unknown threshold(s) {sorted(unknown)}")
            if set(overrides.get("disable", [])) - set(ALL_RULES):
                raise ValueError(f"per_language.{lang}.disable: unknown rule(s)")
        return self


# One optional field per threshold (None: the preset's value), generated so that presets,
# config keys, CLI flags and docs never disagree.
FilterConfig = create_model(
    "FilterConfig",
    __base__=_FilterOptions,
    **{name: (Optional[t.type if t.type is not list else list[str]],
              Field(None, description=f"{t.doc} Default {t.default!r}."))
       for name, t in THRESHOLDS.items()},
)


@register
class FilterStage(Stage):
    """Heuristic quality filters (Gopher, C4, FineWeb, URL blocklist) with published thresholds."""

    name = "filter"
    Config = FilterConfig
    version = "1"
    reads = {"language": str}
    columns = {
        FAILED: pa.list_(pa.string()),
        **{value_column(r): pa.float64() for r in ALL_RULES},
        **{pass_column(r): pa.bool_() for r in ALL_RULES},
    }
    examples = (
        "curate filter extracted/ -o filtered/                      # FineWeb's rules, failures to rejected/\n"
        "curate filter extracted/ -o tagged/ --mode tag --preset gopher   # measure only, choose thresholds later\n"
        "curate filter in/ -o out/ --enable word_salad,nonprintable_ratio --min-doc-words 100"
    )

    def __init__(self, config=None, **options):
        super().__init__(config, **options)
        self._by_language: dict[str | None, tuple[Params, list[Rule]]] = {}

    def rules_for(self, language: str | None) -> tuple[Params, list[Rule]]:
        """Thresholds and active rules for documents in `language` (cached)."""
        if language not in self._by_language:
            cfg = self.config
            preset = PRESETS[cfg.preset]
            params = {name: t.default for name, t in THRESHOLDS.items()}
            params.update(preset.thresholds)
            params.update({name: getattr(cfg, name) for name in THRESHOLDS if getattr(cfg, name) is not None})
            overrides = dict(cfg.per_language.get(language, {})) if language else {}
            skip = set(cfg.disable) | set(overrides.pop("disable", []))
            params.update(overrides)
            names = [*preset.rules, *[r for r in cfg.enable if r not in preset.rules]]
            active = [rule for name, rule in ALL_RULES.items() if name in names and name not in skip]
            params["_uses_c4"] = any(r.name.startswith("c4_") for r in active)  # once, not per document
            self._by_language[language] = (params, active)
        return self._by_language[language]

    def measure(self, doc: dict, stop_at_failure: bool = False
                ) -> tuple[list[tuple[Rule, float | None, bool]], Features, Params]:
        """Every active rule's (rule, measured value, failed) for one document (up to the first
        failure with `stop_at_failure`)."""
        params, rules = self.rules_for(doc.get("language"))
        text = doc.get(TEXT) or ""
        f = Features(text, doc.get("url"))
        if len(text) > params["max_doc_chars"] and any(r.name == "too_large" for r in rules):
            # measure nothing else on a runaway document: bounded time and memory
            return [(r, float(len(text)), True) for r in rules if r.name == "too_large"], f, params
        uses_c4 = params["_uses_c4"]
        clean = None
        results = []
        for rule in rules:
            view = f
            if rule.reads_c4_text and uses_c4:
                clean = clean or c4.clean_features(f, params)
                view = clean
            value = rule.measure(view, params)
            failed = value is not None and rule.fails(value, params)
            results.append((rule, value, failed))
            if failed and stop_at_failure:
                return results, f, params
        if uses_c4:
            f.memo["clean"] = clean or c4.clean_features(f, params)
        return results, f, params

    def process(self, docs: Iterable[dict]) -> Iterator[dict]:
        tag = self.config.mode == "tag"
        stop = not tag and not self.config.all_failures
        for doc in docs:
            results, f, params = self.measure(doc, stop_at_failure=stop)
            failed = [rule.name for rule, _, bad in results if bad]
            doc[FAILED] = failed
            if tag:
                for rule, value, bad in results:
                    doc[value_column(rule.name)] = None if value is None else float(value)
                    doc[pass_column(rule.name)] = not bad
            if failed:
                yield self.reject(doc, failed[0])
            else:
                if not tag and "clean" in f.memo and params["c4_clean_text"]:
                    doc[TEXT] = f.memo["clean"].text
                yield doc

    def fingerprint_extra(self) -> dict:
        from importlib.metadata import version

        return {"datatrove": version("datatrove")}  # its word lists, blocklists and punctuation sets

    def summary(self, stats) -> StageSummary | None:
        reasons = {k: v for k, v in stats.reasons.items() if k.startswith("filter:")}
        if not reasons:
            return None
        by_lang = stats.reasons_by_language
        totals: dict[str, int] = {}
        for reason in reasons:
            for lang, n in by_lang.get(reason, {}).items():
                totals[lang] = totals.get(lang, 0) + n
        langs = sorted(totals, key=lambda lang: -totals[lang])[:8]
        other = len(totals) > len(langs) or any(sum(by_lang.get(r, {}).values()) < n for r, n in reasons.items())
        rows = []
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            row = by_lang.get(reason, {})
            cells = [reason.removeprefix("filter:"), n, *[row.get(lang, 0) for lang in langs]]
            if other:
                cells.append(n - sum(row.get(lang, 0) for lang in langs))
            rows.append(cells)
        return StageSummary("filter: documents removed per rule (first failing rule), by language",
                            ["rule", "all", *langs, *(["other"] if other else [])], rows)
