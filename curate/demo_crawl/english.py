"""Grammatical-looking English prose from templates.

Building a sentence word by word is too slow for the million-document JSONL
load, so each seed gets a pool of template sentences built once; a document
is then a handful of random picks from the pool. With 32k sentences two
unrelated documents share almost no sentence, so MinHash sees them as
unrelated, while each sentence still reads as real English with real stop
words and terminal punctuation (what Gopher, C4 and FineWeb rules look for).
"""

import random
from functools import lru_cache

from . import vocab as v

POOL_SIZE = 1 << 15
SENTENCES_PER_PARAGRAPH = range(2, 7)


def _np(rng: random.Random) -> str:
    """A noun phrase: determiner, optional adjective, noun (sometimes 'of' + noun)."""
    if rng.random() < 0.6:
        det = rng.choice(v.SINGULAR_DETERMINERS)
        words = [rng.choice(v.ADJECTIVES)] if rng.random() < 0.35 else []
        words.append(rng.choice(v.NOUNS))
        if det == "a":
            det = v.article_for(words[0])
    else:
        det = rng.choice(v.PLURAL_DETERMINERS)
        words = [rng.choice(v.ADJECTIVES)] if rng.random() < 0.35 else []
        words.append(v.plural(rng.choice(v.NOUNS)))
    if rng.random() < 0.2:
        words += ["of", "the", rng.choice(v.NOUNS)]
    return " ".join([det, *words])


def _subject(rng: random.Random) -> str:
    # Short pronouns pull the mean word length down to that of real prose.
    return rng.choice(v.PRONOUNS) if rng.random() < 0.5 else _np(rng)


def _pp(rng: random.Random) -> str:
    if rng.random() < 0.35:
        return rng.choice(v.ADVERBIALS)
    adjective = rng.choice(v.ADJECTIVES) + " " if rng.random() < 0.4 else ""
    return f"{rng.choice(v.PREPOSITIONS)} the {adjective}{rng.choice(v.NOUNS)}"


def _past(rng: random.Random) -> str:
    return rng.choice(v.VERBS)[1]


def _sentence(rng: random.Random) -> str:
    np, pp, past, subj = _np, _pp, _past, _subject
    r = rng.randrange(12)
    if r == 0:
        s = f"{subj(rng)} {past(rng)} {np(rng)} {pp(rng)}."
    elif r == 1:
        s = f"{rng.choice(v.CONNECTORS)}, {subj(rng)} {past(rng)} {np(rng)}."
    elif r == 2:
        s = f"{rng.choice(v.ADVERBIALS)}, {np(rng)} {past(rng)} {np(rng)} {pp(rng)}."
    elif r == 3:
        verb = rng.choice(v.VERBS)[0]
        s = (f"{np(rng)} {rng.choice(v.SAY_VERBS)} that {np(rng)} "
             f"{rng.choice(v.MODALS)} {verb} {np(rng)}.")
    elif r == 4:
        s = f"{np(rng)} {past(rng)} {np(rng)}, and {np(rng)} {past(rng)} {np(rng)} to the {rng.choice(v.NOUNS)}."
    elif r == 5:
        s = f"it is {rng.choice(v.ADJECTIVES)} that {np(rng)} {rng.choice(v.ADVERBS)} {past(rng)} {np(rng)}."
    elif r == 6:
        s = f"{np(rng)} {past(rng)} {np(rng)} because {np(rng)} {past(rng)} {np(rng)} {pp(rng)}."
    elif r == 7:
        verb = rng.choice(v.VERBS)[0]
        s = f"why did {np(rng)} {verb} {np(rng)} {pp(rng)}?"
    elif r == 8:
        s = f"{subj(rng)} wanted to {rng.choice(v.VERBS)[0]} {np(rng)} {pp(rng)}, but it was not easy."
    elif r == 9:
        s = (f"it was not {rng.choice(v.ADJECTIVES)} to {rng.choice(v.VERBS)[0]} {np(rng)}, "
             f"so {subj(rng)} did it {rng.choice(v.ADVERBIALS)}.")
    elif r == 10:
        s = f"there was a lot of {rng.choice(v.NOUNS)} in the {rng.choice(v.NOUNS)}, and {subj(rng)} had to {rng.choice(v.VERBS)[0]} it."
    else:
        s = f"{subj(rng)} {rng.choice(v.ADVERBS)} {past(rng)} {np(rng)} with {np(rng)} {pp(rng)}."
    return s[0].upper() + s[1:]


def _title(rng: random.Random) -> str:
    """Headline-style title: no final punctuation, capitalised content words."""
    verb = v.plural(rng.choice(v.VERBS)[0])  # third person singular, same rule
    words = [rng.choice(v.ADJECTIVES), rng.choice(v.NOUNS), verb,
             v.plural(rng.choice(v.NOUNS)) if rng.random() < 0.5 else "the " + rng.choice(v.NOUNS),
             rng.choice(["for", "in", "with", "after"]), rng.choice(v.NOUNS)]
    small = {"the", "for", "in", "with", "after", "a"}
    return " ".join(w if w in small else w.capitalize() for w in " ".join(words).split())


@lru_cache(maxsize=4)
def sentence_pool(seed: int) -> tuple[str, ...]:
    rng = random.Random(seed)
    return tuple(_sentence(rng) for _ in range(POOL_SIZE))


@lru_cache(maxsize=4)
def title_pool(seed: int) -> tuple[str, ...]:
    rng = random.Random(~seed)
    return tuple(_title(rng) for _ in range(POOL_SIZE // 8))


def paragraphs(rng: random.Random, seed: int, n_min: int = 5, n_max: int = 15) -> list[str]:
    """n_min..n_max paragraphs of 2-6 sentences each."""
    pool = sentence_pool(seed)
    # choices() over a range is several times faster than repeated randint().
    sizes = rng.choices(SENTENCES_PER_PARAGRAPH, k=rng.randint(n_min, n_max))
    picks = rng.choices(pool, k=sum(sizes))
    out, at = [], 0
    for size in sizes:
        out.append(" ".join(picks[at:at + size]))
        at += size
    return out


def article(rng: random.Random, seed: int) -> tuple[str, list[str]]:
    """(title, body paragraphs) of one English article."""
    return rng.choice(title_pool(seed)), paragraphs(rng, seed)
