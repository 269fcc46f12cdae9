"""Does the language push-down pay, and does it drop anything the late check would keep?

On the dev pages (../shared/data/trafilatura_eval and readability_testpages, each split into
tuning and check halves by a hash of the file name, as scripts/bench_extract.py does), for a
model-filter keeping only `--languages` (default en) at `--min-language-score` (FineWeb: 0.65):

- wrong drops: pages the gate stops early whose main text the late check would keep (must be 0);
- caught: of the pages the late check drops for language, how many the gate stops early;
- CPU seconds of extract's main-text pass plus language ID per page, with and without the gate,
  measured side by side in one process (best of --repeat).

    .venv/bin/python scripts/bench_language_gate.py [--scores 0.5,0.8,0.9] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_extract import HALVES, load_readability, load_trafeval  # noqa: E402

from curate.langid import predict_languages  # noqa: E402
from curate.records import TEXT  # noqa: E402
from curate.stages.extract import ExtractStage  # noqa: E402
from curate.stages.extract.language_gate import MIN_SCORE, LanguageGate  # noqa: E402


def late_keeps(text: str, languages: tuple[str, ...], min_score: float) -> bool:
    """What model-filter decides on extract's output without the gate."""
    if not text:
        return False
    [(lang, score)] = predict_languages([text], "lid176", 2000)
    return lang in languages and score >= min_score


def main_pass(stage: ExtractStage, pages: list[dict]) -> list[dict]:
    out = []
    for page in pages:
        fields = stage._main_text(page["html"])
        if fields[TEXT] and not fields.get("extract_language_early"):
            predict_languages([fields[TEXT]], stage.config.lid_model, stage.config.lid_max_chars)
        out.append(fields)
    return out


def timed(stage: ExtractStage, pages: list[dict], repeat: int) -> tuple[float, list[dict]]:
    best, result = float("inf"), []
    for _ in range(repeat):
        t = time.process_time()
        result = main_pass(stage, pages)
        best = min(best, time.process_time() - t)
    return best, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--languages", default="en")
    ap.add_argument("--min-language-score", type=float, default=0.65)
    ap.add_argument("--scores", default=f"0.5,{MIN_SCORE},0.9", help="gate scores to compare")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    languages = tuple(args.languages.split(","))
    sets = {"trafilatura_eval": load_trafeval(), "readability": load_readability()}

    print(f"late check: languages {','.join(languages)}, score >= {args.min_language_score}")
    print(f"{'set':<17} {'half':<6} {'gate':>5} {'pages':>6} {'late drops':>10} {'caught':>7} {'wrong':>6} "
          f"{'CPU s plain':>11} {'CPU s gated':>11} {'saved':>6}")
    for name, pages in sets.items():
        for half in HALVES:
            part = [p for p in pages if p["half"] == half]
            plain_s, plain = timed(ExtractStage(), part, args.repeat)
            keeps = [late_keeps(f[TEXT], languages, args.min_language_score) for f in plain]
            for score in map(float, args.scores.split(",")):
                stage = ExtractStage()
                stage.language_gate = LanguageGate(languages, score)
                gated_s, gated = timed(stage, part, args.repeat)
                early = [bool(f.get("extract_language_early")) for f in gated]
                wrong = sum(e and k for e, k in zip(early, keeps))
                drops = sum(not k for k in keeps)
                print(f"{name:<17} {half:<6} {score:>5.2f} {len(part):>6} {drops:>10} {sum(early):>7} {wrong:>6} "
                      f"{plain_s:>11.2f} {gated_s:>11.2f} {1 - gated_s / plain_s:>6.1%}")


if __name__ == "__main__":
    main()
