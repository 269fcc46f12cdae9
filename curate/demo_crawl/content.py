"""The main text of each kind of page: what a perfect extractor should return.

A page's main text is a title plus blocks; a block is ("p", text) for prose or
("code", listing) for a <pre><code> listing. Boilerplate is added later by
``pages.py`` and is never part of the main text.
"""

import random
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

from . import english, snippets, vocab
from .languages import LANGUAGES

HUGE_BYTES = 2_000_000
REPLACEMENT_WORDS = vocab.NOUNS + vocab.ADJECTIVES  # what near duplicates swap words for


@dataclass
class MainText:
    title: str
    blocks: list[tuple[str, str]]

    @property
    def gold(self) -> str:
        """Title and blocks, one per line group, as labels.jsonl records it."""
        return "\n".join(t for t in [self.title, *(text for _, text in self.blocks)] if t)


def prose(title: str, paragraphs: list[str]) -> MainText:
    return MainText(title, [("p", p) for p in paragraphs])


def article(rng: random.Random, seed: int) -> MainText:
    return prose(*english.article(rng, seed))


def foreign_title(rng: random.Random, code: str) -> str:
    lang = LANGUAGES[code]
    return f"{rng.choice(lang.subjects)}{lang.space}{rng.choice(lang.predicates)}"


def foreign_article(rng: random.Random, code: str) -> MainText:
    lang = LANGUAGES[code]

    def sentence() -> str:
        s = f"{rng.choice(lang.subjects)}{lang.space}{rng.choice(lang.predicates)}"
        if rng.random() < 0.4:
            adverbial = rng.choice(lang.adverbials)
            if lang.adverbial_first:
                s = f"{adverbial}{lang.comma}{s}"
            else:
                s = f"{s} {adverbial}"
        return s + lang.stop

    title = foreign_title(rng, code)
    paragraphs = [lang.space.join(sentence() for _ in range(rng.randint(2, 5)))
                  for _ in range(rng.randint(3, 8))]
    return prose(title, paragraphs)


def spam(rng: random.Random) -> MainText:
    """Keyword stuffing, repeated lines, all caps, word salad: what quality rules reject."""
    blocks = []
    for style in rng.sample(["stuffing", "repeat", "caps", "salad", "links"], 3):
        if style == "stuffing":
            blocks += [" ".join(rng.choices(snippets.SPAM_KEYWORDS, k=rng.randint(15, 30)))
                       for _ in range(rng.randint(3, 8))]
        elif style == "repeat":
            blocks += [rng.choice(snippets.SPAM_LINES)] * rng.randint(10, 30)
        elif style == "caps":
            blocks += [" ".join(rng.choices(snippets.SPAM_KEYWORDS, k=12)).upper() for _ in range(5)]
        elif style == "salad":
            words = vocab.NOUNS + vocab.ADJECTIVES
            blocks += [" ".join(rng.choices(words, k=rng.randint(20, 40))) for _ in range(4)]
        else:
            words = rng.choices(snippets.SPAM_KEYWORDS, k=75)  # one draw: this runs a million times
            blocks += [f"{' '.join(words[3 * i:3 * i + 3])} {i}" for i in range(25)]
    title = " ".join(rng.choices(snippets.SPAM_KEYWORDS, k=6)).upper()
    return prose(title, blocks)


SHORT_PAGES = [
    ("404 Not Found", ["The page you are looking for does not exist."]),
    ("Loading...", []),
    ("Sign in", ["Please sign in to continue."]),
    ("Access denied", ["You do not have permission to view this page."]),
    ("Page moved", ["This page has moved."]),
]


def short(rng: random.Random, seed: int) -> MainText:
    if rng.random() < 0.3:  # a title and one line of real text
        return prose(rng.choice(english.title_pool(seed)), [rng.choice(english.sentence_pool(seed))])
    return prose(*rng.choice(SHORT_PAGES))


def code_tutorial(rng: random.Random, seed: int) -> MainText:
    listings = rng.sample(snippets.CODE, rng.randint(2, 3))
    language, task, _ = listings[0]
    blocks = [("p", p) for p in english.paragraphs(rng, seed, 1, 2)]
    for _, _, code in listings:
        blocks.append(("code", code))
        blocks += [("p", p) for p in english.paragraphs(rng, seed, 1, 2)]
    return MainText(f"How to {task} in {language}", blocks)


def link_titles(rng: random.Random, seed: int, n: int) -> list[str]:
    """Titles for a category index or a related-links box."""
    return rng.sample(english.title_pool(seed), n)


def category_index(rng: random.Random, seed: int) -> MainText:
    """A heading and 30 teaser links. Its gold text is empty (it has no main
    text); ``gold`` is what a naive extractor would keep, used for JSONL."""
    heading = rng.choice(["Latest news", "Archive", "More stories", "Category: Local"])
    return MainText(heading, [("link", t) for t in link_titles(rng, seed, 30)])


def huge(rng: random.Random, seed: int) -> MainText:
    """An article whose paragraphs repeat until the page is about 2 MB."""
    base = article(rng, seed)
    size = sum(len(t) for _, t in base.blocks) + 1
    return MainText(base.title, base.blocks * (HUGE_BYTES // size + 1))


def edit_words(text: str, fraction: float, rng: random.Random) -> str:
    """Replace round(fraction * words) distinct words, keeping punctuation and lines.

    The word count and positions stay the same, so comparing word lists
    position by position recovers exactly the edited fraction.
    """
    lines = [line.split(" ") for line in text.split("\n")]
    starts = list(accumulate((len(line) for line in lines), initial=0))  # flat index of each line's first word
    k = max(1, round(fraction * starts[-1]))
    # One batched draw of candidates; a candidate equal to the old word is redrawn.
    for flat, new in zip(rng.sample(range(starts[-1]), k), rng.choices(REPLACEMENT_WORDS, k=k)):
        i = bisect_right(starts, flat) - 1
        j = flat - starts[i]
        old = lines[i][j]
        core = old.rstrip(".,?!")
        while new == core.lower():
            new = rng.choice(REPLACEMENT_WORDS)
        if core[:1].isupper():
            new = new.capitalize()
        lines[i][j] = new + old[len(core):]
    return "\n".join(" ".join(line) for line in lines)
