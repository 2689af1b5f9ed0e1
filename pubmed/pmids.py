"""Reader for plain PMID lists: one per line, or separated by whitespace or commas."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SEPARATORS = re.compile(r"[\s,;]+")
_PREFIX = re.compile(r"^pmid:?", re.IGNORECASE)
MAX_PMID = 999_999_999


@dataclass
class InvalidToken:
    """A token that is not a PMID, with where it was found."""

    line: int
    token: str
    reason: str


@dataclass
class PmidList:
    """PMIDs read from a list (unique, in first-seen order) and the tokens refused."""

    pmids: list[int] = field(default_factory=list)
    invalid: list[InvalidToken] = field(default_factory=list)
    duplicates: int = 0


def parse_pmid_text(text: str) -> PmidList:
    """Read PMIDs from text; '#' starts a comment; 'PMID:' prefixes are accepted."""
    result = PmidList()
    seen: set[int] = set()
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.split("#", 1)[0]
        for token in _SEPARATORS.split(line):
            if not token:
                continue
            digits = _PREFIX.sub("", token)
            if not digits.isdigit() or not digits.isascii():
                result.invalid.append(InvalidToken(number, token, "not a number"))
                continue
            value = int(digits)
            if not 0 < value <= MAX_PMID:
                result.invalid.append(InvalidToken(number, token, "out of PMID range"))
                continue
            if value in seen:
                result.duplicates += 1
                continue
            seen.add(value)
            result.pmids.append(value)
    return result


def looks_like_pmid_list(head: str) -> bool:
    """Guess whether a file's first characters are a PMID list (bad tokens are reported later)."""
    body = "\n".join(line.split("#", 1)[0] for line in head.splitlines())
    tokens = [_PREFIX.sub("", t) for t in _SEPARATORS.split(body) if t][:50]
    if not tokens or not tokens[0].isdigit():
        return False
    return sum(t.isdigit() for t in tokens) * 2 >= len(tokens)
