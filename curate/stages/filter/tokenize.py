"""A fast regex word tokenizer that splits text the way spaCy's blank English tokenizer does.

The reference filters (datatrove's Gopher/C4/FineWeb) count words with spaCy; matching its
splits decides parity on documents near a threshold (the alphabetic-word ratio counts
punctuation tokens too). spaCy costs ~90% of datatrove's filter time. spaCy splits on spaces,
peels punctuation off both ends of each chunk and splits a few infixes; this one regex
reproduces the rules that matter on web text:
- hyphens split letter-letter and digit-digit ("well|-|known", "2020|-|2021") but not
  letter-digit ("COVID-19") or at a chunk's ends ("-m", "re-"); "..." and "--" stay one token;
- contractions split ("do|n't", "it|'s"); other apostrophes stay inside ("o'clock");
- numbers with separators ("1,000.5", "10:30", "9/11"), dotted words ("file.txt", "e.g.", "U.S."),
  URLs, e-mails and "@handles" stay whole; so do spaCy's abbreviations ("Mr.", "Jan.") and a period
  after a single capital ("J.") or a letter of a script spaCy does not know ("છે."), which it never splits off;
- every Chinese/Japanese ideograph or kana is a word of its own, so texts without spaces get
  meaningful word counts (spaCy's English tokenizer would keep a whole sentence as one "word");
- spaCy's emoticons (":-)", "<3", "o.O") are one token; primes ("2.00″", "5′") and invisible
  format characters (left-to-right marks, zero-width spaces, soft hyphens) are word characters,
  as they are neither prefixes nor suffixes to spaCy; ":" and ";" split only where spaCy's
  rules do, so CSS-like runs ("size:18px}.x{font") stay whole.
The first alternative is a fast path for plain ASCII words, which are most tokens.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import chain

# spaCy's English special cases ending in a period that it keeps attached (tokenizer exceptions).
_ABBREVIATIONS = (
    "Adm|Ak|Ala|Apr|Ariz|Ark|Aug|Bros|Calif|Co|Colo|Conn|Corp|Dec|Del|Dr|Feb|Fla|Ga|Gen|Gov|Ia|Id|Ill|Inc|"
    "Ind|Jan|Jr|Jul|Jun|Kan|Kans|Ky|La|Ltd|Mar|Mass|Md|Messrs|Mich|Minn|Miss|Mo|Mont|Mr|Mrs|Ms|Mt|Neb|Nebr|"
    "Nev|Nov|Oct|Okla|Ore|Pa|Prof|Rep|Rev|Sen|Sep|Sept|St|Tenn|Va|Wash|Wis|co|vs|[a-z]|[äöü]"
)
_CJK_RANGES = ("\u3040-\u30ff", "\u3400-\u4dbf", "\u4e00-\u9fff", "\uf900-\ufaff")
# spaCy 3's emoticons (spacy/lang/tokenizer_exceptions.py, MIT licence), special cases it never splits.
_EMOTICONS = (
    "(*_*) (-8 (-: (-; (-_-) (._.) (: (; (= (>_<) (^_^) (o: (¬_¬) (ಠ_ಠ) (╯°□°）╯︵┻━┻ )-: ): -_- -__- ._. 0.0 0.o 0_0 0_o "
    "8) 8-) 8-D 8D :'( :') :'-( :'-) :( :(( :((( :() :) :)) :))) :* :-( :-(( :-((( :-) :-)) :-))) :-* :-/ :-0 :-3 :-> "
    ":-D :-O :-P :-X :-] :-o :-p :-x :-| :-} :/ :0 :1 :3 :> :D :O :P :X :] :o :o) :p :x :| :} ;) ;-) ;-D ;D ;_; <.< </3 "
    "<3 <33 <333 =( =) =/ =3 =D =[ =] =| >.< >.> >:( >:o ><(((*> @_@ O.O O.o O_O O_o V.V V_V XD XDD [-: [: [= ]= ^_^ "
    "^__^ ^___^ o.0 o.O o.o o_0 o_O o_o v.v v_v xD xDD ¯\\(ツ)/¯ ಠ_ಠ ಠ︵ಠ"
).split()
# Characters spaCy's English rules treat like letters at a token's ends: primes, and invisible
# format characters (category Cf: left-to-right marks, zero-width spaces, soft hyphens, BOMs).
_PRIMES = (0x2032, 0x2033, 0x2034)
_CJK = "".join(_CJK_RANGES)




# Scripts spaCy treats as lower-case letters although they have no case (its `_uncased`):
# Ethiopic, Bengali, Hebrew, Arabic/Persian, Sinhala, Devanagari, Kannada, Tamil, Telugu, Hangul, kana, CJK.
_SPACY_UNCASED = [(0x1200, 0x137F), (0x0980, 0x09FF), (0x0591, 0x05F4), (0xFB1D, 0xFB4F), (0x0620, 0x06FF),
                  (0x0750, 0x077F), (0x08A0, 0x08BD), (0xFB50, 0xFDFB), (0xFE70, 0xFEFC), (0x0D80, 0x0DFF),
                  (0x0900, 0x097F), (0x0C80, 0x0CFF), (0x0B80, 0x0BFF), (0x0C00, 0x0C7F), (0xAC00, 0xD7AF),
                  (0x1100, 0x11FF), (0x3040, 0x30FF), (0x3400, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F)]
# where spaCy's lower-case Latin, Greek and Cyrillic letters are
_SPACY_CASED = [(0, 0x052F), (0x1D00, 0x1FFF), (0x2C60, 0x2C7F), (0xA720, 0xA7FF), (0xAB30, 0xAB6F)]


def _char_classes() -> tuple[str, str]:
    """Two character classes, built in one pass over Unicode at import (~0.3 s):

    - word characters: letters, digits, combining marks (Indic vowel signs: not `\\w` for re)
      and private-use symbols; not "_" (spaCy splits it off a word's ends) and not CJK
      ideographs / kana (one-character words). One class, so matching stays fast.
    - letters after which spaCy does not split off a final period: it splits after its
      lower-case letters (Latin, Greek, Cyrillic) and its "uncased" scripts; letters of other
      scripts (Gujarati, Thai, Armenian...) and their marks keep it ("છે."). Capitals apart.
    """
    size = 0x2FFFF
    cjk, uncased, cased = bytearray(size), bytearray(size), bytearray(size)  # membership masks
    for mask, ranges in ((cjk, [tuple(map(ord, r.split("-"))) for r in _CJK_RANGES]),
                         (uncased, _SPACY_UNCASED), (cased, _SPACY_CASED)):
        for a, b in ranges:
            b = min(b, size - 1)
            mask[a:b + 1] = b"\x01" * (b + 1 - a)
    word: list[list[int]] = []
    keeps: list[list[int]] = []

    def add(ranges: list[list[int]], cp: int) -> None:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])

    category = unicodedata.category
    for cp in range(0x30, size):
        cat = category(chr(cp))
        kind = cat[0]
        if kind not in "LMN" and not 0xE000 <= cp <= 0xF8FF and cat != "Cf" and cp not in _PRIMES:
            continue
        if not cjk[cp]:
            add(word, cp)
        if (kind in "LM" or cat == "Cf" or cp in _PRIMES) and cat not in ("Lu", "Lt") and cp >= 0x80 \
                and not uncased[cp] and not (cat == "Ll" and cased[cp]):
            add(keeps, cp)

    def as_class(ranges: list[list[int]]) -> str:
        return "[" + "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges) + "]"

    return as_class(word), as_class(keeps)


_W, _KEEPS_PERIOD = _char_classes()
_UNITS = "(?:km|m|dm|cm|mm|ha|µm|nm|yd|in|ft|kg|g|mg|µg|t|lb|oz|mph|kmh|hPa|Pa|mbar|mb|MB|kb|KB|gb|GB|tb|TB|T|G|M|K)"
_CLITIC = r"(?:[sSdDmMtT]|re|ve|ll|RE|VE|LL)(?!\w)"
# Where spaCy splits inside a whitespace-separated chunk (its English infix rules); any other
# non-space characters between two word-character runs stay inside the token ("AT&T",
# "page#top", "avg(n", "10:30", "COVID-19").
_INFIX = rf"""(?:
      (?<=[^\W\d_]),(?=[^\W\d_])          # "a,b"
    | (?<=[a-z])\.(?=[A-Z])                # "end.Start"
    | \.\.                                 # "a...b"
    | (?<=[^\W_])[-–—](?=[^\W\d_])         # "well-known", "5-year"
    | (?<=\d)[-+*^](?=[\d-])               # "2020-2021"
    | (?<=[^\W_])[:<>=/](?=[^\W\d_])       # "a/b", "key:value"
    | ['’]{_CLITIC}                        # "it's"
)"""
_JOIN = rf"(?:_|(?!{_INFIX})[^\s\w…\u2600-\u27bf\U0001f000-\U0001faff])+"

# spaCy's exceptions for contractions written without the apostrophe ("dont" -> "do" "nt"),
# lower-case and capitalised; fixed up after matching, which is faster than a regex branch.
_GLUED_PARTS = [
    *[(verb, "nt") for verb in ("do", "does", "did", "ca", "wo", "is", "are", "was", "were", "could", "should",
                                "would", "have", "has", "had", "must", "might", "need")],
    *[("i", c) for c in ("m", "d", "ve")], *[("you", c) for c in ("re", "ve", "ll", "d")],
    *[("they", c) for c in ("re", "ve", "ll", "d")], *[(w, "s") for w in ("he", "she", "that", "what")],
    ("we", "ve"), ("can", "not"), ("gon", "na"), ("got", "ta"),
]
GLUED = {a + b: [a, b] for a, b in _GLUED_PARTS} | {
    a.capitalize() + b: [a.capitalize(), b] for a, b in _GLUED_PARTS
}
_APOSTROPHE_T = frozenset(("'t", "’t", "'T", "’T"))
_FIX_UP = frozenset(GLUED) | _APOSTROPHE_T

_EMOTICON = "|".join(map(re.escape, sorted(_EMOTICONS, key=len, reverse=True)))  # longest first
_EMOTICON_FIRST = re.escape("".join(sorted({e[0] for e in _EMOTICONS})))  # a cheap guard before the alternation

# The alternatives, tried in order at each token start.
ALTERNATIVES = [
    # fast path: a plain ASCII word (before punctuation that spaCy splits off: at the chunk's end, or
    # "," / ":" before a letter, its infixes; "a;b", "size:18px" stay whole)
    r"[a-zA-Z]++(?=\s|$|[,;:!?)\]}]++(?:\s|$)|[,:](?=[^\W\d_]))|(?!www\.)[a-z]{3,}+(?=\.(?!\w))",
    # an emoticon (spaCy's special cases), alone or with punctuation split off around it; and the ones
    # spaCy merges from split-off pieces: "[:emk]", "(=a", "nice:)", "(a):". One first-character
    # guard for all of them keeps the cost off the other tokens.
    rf"(?=[{_EMOTICON_FIRST}])(?:(?<![^\s(\[\"'“‘])(?:(?:{_EMOTICON})(?=[.,;:!?\"'”’)\]]*+(?:\s|$))"
    r"|[(\[][:=;](?=[^\W\d_]))|(?<=\w)(?::[()DPpOo*\]]|;\)|\):)(?=\s|$))",
    r"(?:https?://|www\.)\S+?(?=[.,;:!?)\]}\"'>]*(?:\s|$))", # URL, without trailing punctuation
    # fast path: punctuation spaCy always splits off at the start of a token
    r"[,;!?()\"“”«»*•|&#$%\[\]{}<>=:…·–—、。，：；！？【】「」─│►©]|\.(?![.\w])|-(?=\s|$)|(?<!\w)'(?!')"
    r"|(?<=\w)[-/^](?![-/])",                               # and the infix a word was split at
    rf"(?=[^\W\d_]){_W}++(?=\s|$|[,;!?)\]}}]++(?:\s|$))",    # fast path: a word in any script
    rf"[{_CJK}]",                                           # one ideograph / kana per word
    r"\d++(?=\s|$|[,;!?)\]}]++(?:\s|$))",                  # fast path: a plain number
    rf"(?=[A-Za-zäöü][a-z]{{0,6}}\.)(?<![\w.])(?:{_ABBREVIATIONS})\.(?!\w)",  # Mr.  Jan.  a.
    r"(?:[A-Za-z]\.){2,}",                                  # e.g.  U.S.  a.m.
    rf"(?<=\w)['’]{_CLITIC}",                               # "'s" "'re" "'ve" "'ll" "'d" "'m" ("'t": see spacy_tokens())
    rf"(?<!\S)@{_W}+",                                      # "@handle"
    rf"\d+(?:[.,]\d+)*(?={_UNITS}(?!\w))",                  # "9.14" of "9.14m": spaCy splits off units
    r"and/or|Ph\.D\.",                                     # more spaCy exceptions
    # a word, with the leading characters spaCy does not split off ("-m", "/dev", "+1")
    # and the ends it keeps ("J.", "re-", "Worker/", "Google+")
    rf"(?:(?<![^\s(\[{{\"'])(?:[-/\\]+|\+(?=\d)))?{_W}+(?:{_JOIN}{_W}+)*"
    rf"(?:(?<=[A-Z])(?<![A-Z][A-Z])\.(?!\w)|(?<={_KEEPS_PERIOD})\.(?!\w)|[-/+=@\\|^~$]+(?=[\s)\]}}\"'.,;:!?]|$))?",
    r"/{2,}|''|\.{2,}|-{2,}",                               # "//", "''", "...", "--" stay one token
    r"\S",                                                  # any other symbol is a token
]
# Whitespace is skipped by a possessive prefix, so the alternatives are tried at token starts only.
TOKEN = re.compile(r"\s*+(" + "|".join(ALTERNATIVES) + ")", re.VERBOSE)

# spaCy's sentencizer ends a sentence at a token that is one of these characters, when a
# non-punctuation token follows (its default punct_chars, the common ones).
SENTENCE_END = frozenset("!.?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？｡。")
_SENTENCE_END_CHAR = re.compile("[" + re.escape("".join(sorted(SENTENCE_END))) + "]")


def spacy_tokens(text: str) -> list[str]:
    """The word tokens of `text`, punctuation tokens included (as spaCy gives them)."""
    tokens = TOKEN.findall(text)
    return tokens if _FIX_UP.isdisjoint(tokens) else _fix_up(tokens)


def words_per_line(lines: list[str]) -> list[list[str]]:
    """`words` of each line, with one fix-up check for the whole text.

    Each distinct line is tokenized once: menus, footers and repeated lines recur on a page
    (the lists are shared between equal lines and never modified).
    """
    distinct = list(dict.fromkeys(lines))
    tokens = list(map(TOKEN.findall, distinct))
    if not _FIX_UP.isdisjoint(chain.from_iterable(tokens)):
        tokens = [t if _FIX_UP.isdisjoint(t) else _fix_up(t) for t in tokens]
    if len(distinct) == len(lines):
        return tokens
    return list(map(dict(zip(distinct, tokens)).__getitem__, lines))


def _fix_up(tokens: list[str]) -> list[str]:
    """Split glued contractions ("dont") and move the "n" of "don" "'t" to "n't"."""
    out: list[str] = []
    for t in tokens:
        if t in GLUED:
            out += GLUED[t]
        elif t in _APOSTROPHE_T and out and out[-1][-1:] in ("n", "N") and len(out[-1]) > 1:
            out[-1:] = [out[-1][:-1], out[-1][-1] + t]  # "don" "'t" -> "do" "n't"
        else:
            out.append(t)
    return out


def count_sentences(line: str, tokens: list[str], is_punct) -> int:
    """Sentences spaCy's sentencizer would find in a line of these tokens."""
    if not _SENTENCE_END_CHAR.search(line):
        return 1
    n, seen_end = 1, False
    for t in tokens:
        if t in SENTENCE_END:
            seen_end = True
        elif seen_end and not is_punct(t):
            n += 1
            seen_end = False
    return n


