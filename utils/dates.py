"""Dates as people write them, and the same dates in ISO 8601: a translation task generated on the spot.

"monday, the twenty-third of november, two thousand twenty-six" -> "2026-11-23". The input
comes in eight styles (digits, month names, abbreviations, ordinals and years in words, with
or without the weekday), so a model has to learn where in the input each part of the answer
is, which is what attention makes visible. Nothing is downloaded: the pairs are generated
from Python's ``datetime``, with a seeded random generator.

Pieces: :func:`write_date` (one date in one style), :func:`date_pairs` (a data set, split
by date so that no test date is ever seen in training), :func:`encode_sources` and
:func:`encode_targets` (strings -> padded id tensors), :func:`decode_targets` (back).
"""
import datetime
import random

import torch

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINAL_ENDINGS = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                    "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}

FIRST_DAY, LAST_DAY = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)
SOURCE_CHARS = " ,-.0123456789abcdefghijklmnopqrstuvwxyz"  # id 0 is padding, so char i has id i + 1
TARGET_CHARS = "-0123456789"                                # id 0 is <start>, so char i has id i + 1
TARGET_LENGTH = len("yyyy-mm-dd")


def number_words(n: int) -> str:
    """0 <= n < 100 in words: 7 -> "seven", 42 -> "forty-two"."""
    if not 0 <= n < 100:
        raise ValueError(f"n must lie in [0, 100), got {n}")
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")


def ordinal_words(n: int) -> str:
    """1 <= n < 100 as an ordinal: 1 -> "first", 23 -> "twenty-third", 30 -> "thirtieth"."""
    if not 1 <= n < 100:
        raise ValueError(f"n must lie in [1, 100), got {n}")
    *head, last = number_words(n).split("-")
    if last in _ORDINAL_ENDINGS:
        last = _ORDINAL_ENDINGS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return "-".join(head + [last])


def year_words(year: int) -> str:
    """A year of 1900-2099 as it is said: 1984 -> "nineteen eighty-four", 1905 -> "nineteen oh five",
    2006 -> "two thousand six", 2026 -> "two thousand twenty-six"."""
    century, rest = divmod(year, 100)
    if century == 19:
        return "nineteen " + ("hundred" if rest == 0 else f"oh {_ONES[rest]}" if rest < 10 else number_words(rest))
    if century == 20:
        return "two thousand" + (f" {number_words(rest)}" if rest else "")
    raise ValueError(f"year must lie in 1900-2099, got {year}")


STYLES = {  # each writes a date its own way; ISO is always yyyy-mm-dd
    "23 november 2026": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "november 23, 2026": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    "nov 23 2026": lambda d: f"{MONTHS[d.month - 1][:3]} {d.day} {d.year}",
    "23.11.2026": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    "monday, 23 november 2026": lambda d: f"{WEEKDAYS[d.weekday()]}, {d.day} {MONTHS[d.month - 1]} {d.year}",
    "the twenty-third of november, 2026":
        lambda d: f"the {ordinal_words(d.day)} of {MONTHS[d.month - 1]}, {d.year}",
    "nov. twenty-third two thousand twenty-six":
        lambda d: f"{MONTHS[d.month - 1][:3]}. {ordinal_words(d.day)} {year_words(d.year)}",
    "monday, the twenty-third of november, two thousand twenty-six":
        lambda d: f"{WEEKDAYS[d.weekday()]}, the {ordinal_words(d.day)} of {MONTHS[d.month - 1]}, {year_words(d.year)}",
}


def write_date(date: datetime.date, style: str) -> str:
    """``date`` written in one of :data:`STYLES` (each style is named by an example of itself)."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; expected one of {list(STYLES)}")
    return STYLES[style](date)


def style_of(text: str, iso: str) -> str:
    """Which of :data:`STYLES` writes the date ``iso`` (yyyy-mm-dd) as ``text``."""
    date = datetime.date.fromisoformat(iso)
    for style, write in STYLES.items():
        if write(date) == text:
            return style
    raise ValueError(f"no style writes {iso} as {text!r}")


def is_test_date(date: datetime.date) -> bool:
    """One day in ten is kept for testing: those whose day number since 1 January 1 AD ends in 0."""
    return date.toordinal() % 10 == 0


def date_pairs(n: int, split: str = "train", seed: int = 0) -> list[tuple[str, str]]:
    """``n`` random (written date, ISO date) pairs, e.g. ("nov 23 2026", "2026-11-23").

    Dates are uniform over 1900-2099 and styles uniform over :data:`STYLES`, drawn with
    ``random.Random(seed)``. ``split="train"`` draws only from the nine days in ten that
    :func:`is_test_date` rejects and ``split="test"`` only from the tenth, so a model is
    tested on dates it has never seen in any style.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    rng = random.Random(seed)
    styles = list(STYLES)
    pairs = []
    while len(pairs) < n:
        date = datetime.date.fromordinal(rng.randint(FIRST_DAY.toordinal(), LAST_DAY.toordinal()))
        if is_test_date(date) == (split == "test"):
            pairs.append((write_date(date, rng.choice(styles)), date.isoformat()))
    return pairs


def encode_sources(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Written dates -> ids (B, T) int64, padded on the left with 0, and a mask (B, T), True on real characters.

    Left padding puts every text's last character in the last column, so a recurrent
    encoder's final state comes right after the real text in every row.
    """
    unknown = {c for text in texts for c in text} - set(SOURCE_CHARS)
    if unknown:
        raise ValueError(f"characters outside SOURCE_CHARS: {sorted(unknown)}")
    length = max(len(text) for text in texts)
    ids = torch.zeros(len(texts), length, dtype=torch.int64)
    for row, text in enumerate(texts):
        ids[row, length - len(text):] = torch.tensor([SOURCE_CHARS.index(c) + 1 for c in text])
    return ids, ids != 0


def encode_targets(isos: list[str]) -> torch.Tensor:
    """ISO dates -> ids (B, 1 + 10) int64: the <start> id 0, then one id per character."""
    if any(len(iso) != TARGET_LENGTH or set(iso) - set(TARGET_CHARS) for iso in isos):
        raise ValueError(f"targets must be dates written yyyy-mm-dd, got e.g. {isos[0]!r}")
    return torch.tensor([[0] + [TARGET_CHARS.index(c) + 1 for c in iso] for iso in isos])


def decode_targets(ids: torch.Tensor) -> list[str]:
    """Ids (B, L) without the <start> column -> B strings; the <start> id shows as "?"."""
    return ["".join("?" if i == 0 else TARGET_CHARS[i - 1] for i in row) for row in ids.tolist()]
