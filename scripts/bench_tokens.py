"""The tokens stage's built-in chars-per-token ratios, and the estimate's error against a real tokenizer.

A byte-level BPE (32,000 tokens, the `tokenizers` library's trainer) is trained on the tuning half of
75 languages of real web sentences (../shared/data/lingua_lid_testdata/sentences; sentences grouped
10 to a document; halves split by a hash of language + document number). The ratios
(characters / tokens per language) come from the tuning half; the estimate's error is reported on
both halves (the check half is the honest figure). Prints the ratio table for
curate/stages/tokens/estimate.py and the error table for docs/tokens.md.

    .venv/bin/python scripts/bench_tokens.py [--vocab 32000] [--write-ratios]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import re
import statistics
import time
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from curate.stages.tokens.calibrate import estimate_errors, measure_ratios

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "lingua_lid_testdata" / "sentences"
PER_DOC = 10


def documents() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    tune, check = [], []
    for path in sorted(DATA.glob("*.txt.gz")):
        lang = path.name.split(".")[0]
        lines = [line.strip() for line in gzip.open(path, "rt", encoding="utf-8") if line.strip()]
        for i in range(0, len(lines), PER_DOC):
            doc = (lang, " ".join(lines[i:i + PER_DOC]))
            half = hashlib.sha1(f"{lang}:{i // PER_DOC}".encode()).digest()[0] % 2
            (tune if half == 0 else check).append(doc)
    return tune, check


def train(texts: list[str], vocab: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", type=int, default=32_000)
    ap.add_argument("--write-ratios", action="store_true", help="rewrite CHARS_PER_TOKEN in estimate.py")
    ap.add_argument("--save-tokenizer", type=Path, help="keep the trained tokenizer JSON here")
    args = ap.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"needs {DATA}")
    tune, check = documents()
    t0 = time.perf_counter()
    tok = train([t for _, t in tune], args.vocab)
    print(f"trained BPE {tok.get_vocab_size()} tokens on {len(tune)} tuning documents in {time.perf_counter() - t0:.1f} s")
    if args.save_tokenizer:
        tok.save(str(args.save_tokenizer))
    tallies = measure_ratios(tok, tune)
    ratios = {lang: round(t.ratio, 2) for lang, t in sorted(tallies.items())}
    default = round(statistics.median(ratios.values()), 2)
    print(f"ratios (tuning half): {len(ratios)} languages, median {default}, "
          f"min {min(ratios.values())} ({min(ratios, key=ratios.get)}), max {max(ratios.values())} ({max(ratios, key=ratios.get)})")
    print("\n| half | docs | median per-doc error | p90 per-doc error | error of the total | same, one ratio for all languages |")
    print("|---|---|---|---|---|---|")
    for name, docs in (("tuning", tune), ("check", check)):
        per_lang = estimate_errors(tok, docs, ratios, default)
        flat = estimate_errors(tok, docs, {}, default)["all"]
        a = per_lang["all"]
        print(f"| {name} | {len(docs):,} | {a.median:.1%} | {a.p90:.1%} | {a.total:+.1%} | median {flat.median:.1%}, total {flat.total:+.1%} |")
        if name == "check":
            worst = sorted(((lang, t.median) for lang, t in per_lang.items() if lang != "all"), key=lambda x: -x[1])[:5]
            print("\nworst languages on the check half (median per-doc error): "
                  + ", ".join(f"{lang} {m:.1%}" for lang, m in worst))
    if args.write_ratios:
        path = ROOT / "curate" / "stages" / "tokens" / "estimate.py"
        body = "{\n" + "".join(f'    "{lang}": {r},\n' for lang, r in ratios.items()) + "}"
        src = path.read_text()
        src = re.sub(r"CHARS_PER_TOKEN: dict\[str, float\] = \{.*?\n?\}", f"CHARS_PER_TOKEN: dict[str, float] = {body}", src, flags=re.S)
        src = re.sub(r"^DEFAULT = .*$", f"DEFAULT = {default}", src, flags=re.M)
        path.write_text(src)
        print(f"\nwrote {len(ratios)} ratios and DEFAULT = {default} to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
