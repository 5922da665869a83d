"""Find, in what the customer wrote, the words that change how at risk they are.

Pure: plain strings in, `PhraseHit`s out. No Django, no database. Grading turns each hit into a reason
that quotes the customer ("Customer wrote: 'I'll post this on Twitter'"), so an agent sees why.

Categories (and what grading does with them):
- `public_threat`  social media, review sites: like the agent's "threatens to go public" box
- `media_threat`   the press, TV, journalists: forces *ugly*, like a media threat
- `legal_threat`   lawyers, courts, regulators: forces *ugly*
- `wont_return`    "never again", "cancel my subscription", "won't come back": forces *ugly*
- `repeat_contact` "third time I write", "still no answer": points, they have had to chase us

Phrase syntax (the lists are editable in the grading settings): lower-case words separated by spaces;
a word `*` stands for up to four words ("post * on twitter" matches "post this whole story on Twitter");
a word ending in `*` matches any ending ("lawyer*" matches "lawyers"). Punctuation between words does not
matter ("1 star" matches "1-star"). Matches never cross a sentence.

Negations: a phrase does not count when a negation word governs it, i.e. stands before it in the same clause
with only filler words between ("I'm not going to sue", "I won't post this on Facebook", "no plans to cancel
my subscription"). A negation further away does not ("if this isn't fixed I will sue" still counts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

PUBLIC_THREAT = "public_threat"
MEDIA_THREAT = "media_threat"
LEGAL_THREAT = "legal_threat"
WONT_RETURN = "wont_return"
REPEAT_CONTACT = "repeat_contact"
CATEGORIES: tuple[str, ...] = (PUBLIC_THREAT, MEDIA_THREAT, LEGAL_THREAT, WONT_RETURN, REPEAT_CONTACT)

_SOCIAL = ("twitter", "x", "facebook", "instagram", "tiktok", "reddit", "linkedin", "youtube", "social media")

DEFAULT_PHRASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        PUBLIC_THREAT: (
            *(f"post* * on {site}" for site in _SOCIAL),
            *(f"share* * on {site}" for site in _SOCIAL),
            *(f"sharing * on {site}" for site in _SOCIAL),
            *(f"put* * on {site}" for site in _SOCIAL),
            "post this online",
            "post about this",
            "post about you",
            "tweet about",
            "tweet this",
            "all over social media",
            "all over the internet",
            "go viral",
            "tell all my followers",
            "tell my followers",
            "warn everyone",
            "warn others",
            "tell everyone i know",
            "bad review",
            "negative review",
            "terrible review",
            "1 star review",
            "one star review",
            "1 star",
            "one star",
            "review on google",
            "google review*",
            "trustpilot",
            "yelp",
            "tripadvisor",
        ),
        MEDIA_THREAT: (
            "go to the press",
            "contact the press",
            "tell the press",
            "to the press",
            "the papers",
            "the media",
            "journalist*",
            "newspaper*",
            "reporter*",
            "tv station",
            "local news",
            "consumer programme",
            "consumer program",
            "watchdog",
        ),
        LEGAL_THREAT: (
            "sue",
            "sue you",
            "suing",
            "lawsuit*",
            "lawyer*",
            "attorney*",
            "solicitor*",
            "legal action",
            "legal steps",
            "take you to court",
            "see you in court",
            "small claims",
            "class action",
            "ombudsman",
            "trading standards",
            "consumer protection",
            "better business bureau",
            "report you to",
            "chargeback",
        ),
        WONT_RETURN: (
            "never again",
            "never coming back",
            "never come back",
            "never be back",
            "not coming back",
            "won't come back",
            "won't be back",
            "won't be coming back",
            "will not come back",
            "will not be back",
            "will not return",
            "won't return",
            "never return",
            "never use you again",
            "never shop * again",
            "never order * again",
            "never buy * again",
            "never book * again",
            "never fly * again",
            "never stay * again",
            "last time i * with you",
            "cancel my subscription",
            "cancel my membership",
            "cancel my account",
            "cancel my contract",
            "cancelling my subscription",
            "canceling my subscription",
            "close my account",
            "take my business elsewhere",
            "taking my business elsewhere",
            "go to a competitor",
            "switch to * competitor",
            "you have lost a customer",
            "you've lost a customer",
            "lost a customer",
            "done with you",
            "done with your company",
        ),
        REPEAT_CONTACT: (
            "second time i",
            "third time i",
            "fourth time i",
            "fifth time i",
            "third time",
            "fourth time",
            "fifth time",
            "third email",
            "third call",
            "still no answer",
            "still no reply",
            "still no response",
            "still haven't heard",
            "still have not heard",
            "still waiting",
            "no one has replied",
            "no one has answered",
            "no one has got back",
            "no one got back",
            "nobody has replied",
            "nobody has answered",
            "nobody answered",
            "nobody replied",
            "written * times",
            "called * times",
            "emailed * times",
            "contacted you * times",
            "how many times do i have to",
            "again and again",
            "yet again",
        ),
    }
)

# Words that cancel a phrase they govern. Kept short on purpose: see the module docstring.
DEFAULT_NEGATIONS: tuple[str, ...] = (
    "not", "never", "no", "won't", "wont", "don't", "dont", "didn't", "wouldn't", "isn't", "can't", "cannot",
    "shan't", "hardly",
)

# Words that may stand between a negation and the phrase it governs ("not *going to* sue").
_FILLERS = frozenset(
    """i i'm im i'll i'd we we're we'll am is are be been will would shall should could going gonna to ever
    even really actually definitely honestly have want wanna need needed plan plans planning intend intending
    intention any of the a an this it about that you your at all then yet just bother feel like
    """.split()
)

MAX_PHRASES = 500
MAX_PHRASE_LENGTH = 100
QUOTE_LENGTH = 140
_PHRASE_RE = re.compile(r"^[a-z0-9'\-* ]+$")
# Clause boundaries for the negation check: punctuation and the words that start a new clause.
_CLAUSE_SPLIT = re.compile(r"[.!?;,:\n()\"]|\b(?:but|and|so|because|or|then|otherwise|however|although|though)\b")
_WORD = re.compile(r"[\w']+")
_SENTENCE_END = re.compile(r"[.!?\n]")
_SEP = r"[^\w'.!?;\n]+"  # between two words of a phrase: anything but a sentence end


@dataclass(frozen=True)
class PhraseHit:
    """One phrase found. `quote` is the customer's sentence around it, in their own spelling."""

    category: str
    phrase: str
    quote: str
    where: str  # subject, description or comment


# --- settings -----------------------------------------------------------------------------------


def phrase_error(phrase: Any) -> str | None:
    """Why a phrase cannot be used, or None."""
    if not isinstance(phrase, str) or not phrase.strip():
        return "Each phrase must be non-empty text."
    text = " ".join(phrase.split())
    if len(text) > MAX_PHRASE_LENGTH:
        return f"'{text[:40]}…' is longer than {MAX_PHRASE_LENGTH} characters."
    if text != text.lower() or not _PHRASE_RE.match(text.replace("’", "'")):
        return f"'{text}': use lower-case letters, digits, apostrophes, hyphens, spaces and *."
    words = text.split()
    if words[0] == "*" or words[-1] == "*":
        return f"'{text}': a * word must stand between two words."
    if any(w.strip("*'-") == "" and w != "*" for w in words):
        return f"'{text}': every word needs a letter or digit."
    return None


def parse_phrase_lists(key: str, raw: Any) -> Mapping[str, tuple[str, ...]]:
    """Stored phrase lists → a full mapping. Categories not given keep their defaults. ValueError if invalid."""
    shape = f"'{key}' must be an object of category: [phrases], e.g. {{\"legal_threat\": [\"lawyer*\", \"sue\"]}}."
    if not isinstance(raw, Mapping):
        raise ValueError(shape)
    merged = dict(DEFAULT_PHRASES)
    for category, phrases in raw.items():
        if category not in CATEGORIES:
            raise ValueError(f"Unknown phrase category '{category}' in '{key}'. Choose from: {', '.join(CATEGORIES)}.")
        if not isinstance(phrases, list | tuple):
            raise ValueError(shape)
        if len(phrases) > MAX_PHRASES:
            raise ValueError(f"'{key}.{category}' holds more than {MAX_PHRASES} phrases.")
        for phrase in phrases:
            error = phrase_error(phrase)
            if error:
                raise ValueError(f"'{key}.{category}': {error}")
        merged[category] = tuple(dict.fromkeys(" ".join(p.replace("’", "'").split()) for p in phrases))
    return merged


def parse_negations(key: str, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list | tuple) or not all(isinstance(w, str) and _WORD.fullmatch(w.strip()) for w in raw):
        raise ValueError(f"'{key}' must be a list of single words, e.g. [\"not\", \"never\", \"won't\"].")
    return tuple(dict.fromkeys(w.strip().lower().replace("’", "'") for w in raw))


# --- matching -----------------------------------------------------------------------------------


def _word_regex(word: str) -> str:
    if word.endswith("*"):
        return re.escape(word[:-1]) + r"[\w']*"
    return re.escape(word)


def _phrase_regex(phrase: str) -> str:
    words = phrase.split()
    out = ""
    for i, word in enumerate(words):
        if word == "*":
            # Up to four whole words, each followed by a separator; the next word follows directly.
            out += r"(?:[\w']+" + _SEP + r"){0,4}"
            continue
        out += _word_regex(word)
        if i < len(words) - 1:
            out += _SEP
    return r"(?<![\w'])" + out + r"(?![\w'])"


@dataclass(frozen=True)
class _Phrase:
    category: str
    text: str
    regex: re.Pattern[str]
    anchor: str  # a word the text must contain for the phrase to match (cheap test before the regex)
    prefix: bool  # the anchor is a prefix ("lawyer*")


@dataclass(frozen=True)
class _Category:
    name: str
    by_anchor: Mapping[str, tuple[_Phrase, ...]]  # whole-word anchors
    anchors: frozenset[str]
    by_prefix: tuple[_Phrase, ...]  # phrases anchored on a prefix ("lawyer*")
    order: Mapping[str, int]  # phrase → rank, longest first


@dataclass(frozen=True)
class _Matcher:
    by_category: tuple[_Category, ...]
    negations: frozenset[str]


def _anchor(phrase: str) -> tuple[str, bool]:
    words = [w for w in phrase.split() if w != "*"]
    whole = [w for w in words if not w.endswith("*")]
    if whole:
        return max(whole, key=len), False
    return max((w[:-1] for w in words), key=len), True


@lru_cache(maxsize=32)
def _matcher(lists: tuple[tuple[str, tuple[str, ...]], ...], negations: tuple[str, ...]) -> _Matcher:
    by_category = []
    for category, phrases in lists:
        if not phrases:
            continue
        # Longest first, so "sue you" wins over "sue" when both start at the same place.
        ordered = sorted(phrases, key=len, reverse=True)
        compiled = [_Phrase(category, p, re.compile(_phrase_regex(p)), *_anchor(p)) for p in ordered]
        by_anchor: dict[str, list[_Phrase]] = {}
        for phrase in compiled:
            if not phrase.prefix:
                by_anchor.setdefault(phrase.anchor, []).append(phrase)
        by_category.append(
            _Category(
                name=category,
                by_anchor=MappingProxyType({a: tuple(p) for a, p in by_anchor.items()}),
                anchors=frozenset(by_anchor),
                by_prefix=tuple(p for p in compiled if p.prefix),
                order=MappingProxyType({p.text: i for i, p in enumerate(compiled)}),
            )
        )
    return _Matcher(tuple(by_category), frozenset(negations))


def _normalise(text: str) -> str:
    """Lower case with straight apostrophes, keeping every character's offset (quotes come from the original)."""
    text = text.replace("’", "'").replace("‘", "'")
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _negated(low: str, start: int, negations: frozenset[str]) -> bool:
    clause = _CLAUSE_SPLIT.split(low[max(0, start - 200):start])[-1]
    for word in reversed(_WORD.findall(clause)):
        if word in negations or word.endswith("n't") and word not in _FILLERS:
            return True
        if word not in _FILLERS:
            return False
    return False


def _quote(original: str, start: int, end: int) -> str:
    """The sentence around [start, end), trimmed to QUOTE_LENGTH around the match."""
    before = [m.end() for m in _SENTENCE_END.finditer(original, 0, start)]
    s = before[-1] if before else 0
    after = _SENTENCE_END.search(original, end)
    e = after.start() if after else len(original)
    if e - s > QUOTE_LENGTH:
        room = max(0, (QUOTE_LENGTH - (end - start)) // 2)
        s2, e2 = max(s, start - room), min(e, end + room)
        # Widen to whole words.
        while s2 > s and original[s2 - 1].isalnum():
            s2 -= 1
        while e2 < e and original[e2].isalnum():
            e2 += 1
        text = original[s2:e2].strip()
        return ("…" if s2 > s else "") + " ".join(text.split()) + ("…" if e2 < e else "")
    return " ".join(original[s:e].split())


# The matcher of the last read-only lists (a grading config's): building the cache key hashes every phrase, a
# fifth of a detect() call, and a history import grades thousands of complaints with the same lists.
_last_matcher: tuple[Any, Any, _Matcher] | None = None


def _matcher_for(lists: Mapping[str, Iterable[str]], negations: Iterable[str]) -> _Matcher:
    global _last_matcher
    last = _last_matcher
    if last is not None and last[0] is lists and last[1] is negations:
        return last[2]
    key = tuple((c, tuple(lists.get(c, ()))) for c in CATEGORIES)
    matcher = _matcher(key, tuple(negations))
    if isinstance(lists, MappingProxyType) and isinstance(negations, tuple):
        # Only a read-only view and a tuple may be remembered by identity: a dict could change in place.
        # (A view of a dict someone else still holds could too; GradingConfig and DEFAULT_PHRASES own theirs.)
        _last_matcher = (lists, negations, matcher)
    return matcher


def detect(
    texts: Iterable[tuple[str, str]],
    lists: Mapping[str, Iterable[str]] = DEFAULT_PHRASES,
    negations: Iterable[str] = DEFAULT_NEGATIONS,
) -> tuple[PhraseHit, ...]:
    """The first un-negated hit of each category, looking through `texts` ((where, text) pairs) in order.

    Deterministic: the same texts and lists give the same hits, in CATEGORIES order.
    """
    matcher = _matcher_for(lists, negations)
    found: dict[str, PhraseHit] = {}
    for where, original in texts:
        if not original:
            continue
        low = _normalise(original)
        words = set(_WORD.findall(low))
        for cat in matcher.by_category:
            category = cat.name
            if category in found:
                continue
            # Only the phrases whose anchor word is in the text (a set intersection), longest first.
            candidates = [p for a in words & cat.anchors for p in cat.by_anchor[a]]
            candidates += [p for p in cat.by_prefix if p.anchor in low]
            if not candidates:
                continue
            candidates.sort(key=lambda p: cat.order[p.text])
            best: tuple[int, int, _Phrase, re.Match[str]] | None = None
            # A negated phrase also silences the shorter phrases inside it ("never go to the press").
            negated: list[tuple[int, int]] = []
            for phrase in candidates:
                for match in phrase.regex.finditer(low):
                    if any(match.start() < end and start < match.end() for start, end in negated):
                        continue
                    if _negated(low, match.start(), matcher.negations):
                        negated.append(match.span())
                        continue
                    # The earliest match in the text wins; at the same place, the longest phrase.
                    rank = (match.start(), -(match.end() - match.start()))
                    if best is None or rank < best[:2]:
                        best = (*rank, phrase, match)
                    break
            if best is not None:
                _, _, phrase, match = best
                found[category] = PhraseHit(category, phrase.text, _quote(original, match.start(), match.end()), where)
        if len(found) == len(matcher.by_category):
            break
    return tuple(found[c] for c in CATEGORIES if c in found)
