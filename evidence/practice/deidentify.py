"""Personal names in free text: titles and given names from maintained lists, in linear time.

Titles come from nameparser's constants (the honorifics among them), given names from
gender-guesser's bundled dictionary of about 45,000 first names from many countries (Jörg
Michael's nam_dict). The text is split into words once and read pair by pair: no regular
expression, so no input can make the check slow.
"""

from __future__ import annotations

import functools
import string

# Honorifics that stand before a person's name; only those nameparser also lists are used,
# so the spelling variants stay nameparser's.
_HONORIFICS = (
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "mister",
    "missus",
    "madam",
    "madame",
    "mme",
    "mlle",
    "sir",
    "dame",
    "lady",
    "lord",
    "master",
    "dr",
    "doctor",
    "prof",
    "professor",
    "herr",
    "frau",
    "sr",
    "sra",
    "srta",
    "shri",
    "smt",
)
_PUNCTUATION = string.punctuation + "“”‘’«»"


@functools.cache
def titles() -> frozenset[str]:
    """Return the honorifics (lower case, no dot) that nameparser knows as titles."""
    from nameparser.config import CONSTANTS

    known = {str(t).lower().rstrip(".") for t in CONSTANTS.titles}
    return frozenset(t for t in _HONORIFICS if t in known)


@functools.cache
def given_names() -> frozenset[str]:
    """Return gender-guesser's first names (lower case), loaded once on first use."""
    from gender_guesser.detector import Detector

    return frozenset(name.lower() for name in Detector().names if name.isalpha())


def _name_like(word: str) -> bool:
    """True for a capitalised word such as "Sharma" (not "CO2", "PRP" or "laser")."""
    return len(word) > 1 and word.isalpha() and word[0].isupper() and word[1:].islower()


def find_personal_names(text: str | None) -> list[str]:
    """Return a message for each title + name or given name + surname found in `text`."""
    if not text:
        return []
    words = [w.strip(_PUNCTUATION) for w in text.split()]
    raw = text.split()
    honorifics, names = titles(), given_names()
    problems: list[str] = []
    i = 0
    while i < len(words) - 1:
        word, following = words[i], words[i + 1]
        # A sentence boundary between the two words means they are not one name.
        ends_sentence = raw[i].rstrip("”’\"')").endswith((".", "!", "?", ",", ";", ":"))
        is_title = word.lower() in honorifics and (
            not ends_sentence or raw[i].rstrip(".").lower() in honorifics
        )
        if is_title and _name_like(following):
            end = i + 2
            if end < len(words) and _name_like(words[end]) and not _ends(raw[i + 1]):
                end += 1
            shown = " ".join(words[i:end])
            problems.append(
                f"Remove the name “{shown}”: reports must not name a patient or anyone else "
                "(write “the patient” instead)."
            )
            i = end
            continue
        if (
            _name_like(word)
            and word.lower() in names
            and _name_like(following)
            and not ends_sentence
        ):
            shown = f"{word} {following}"
            problems.append(
                f"Remove the name “{shown}”: it reads as a person's given name and surname "
                "(write “the patient” instead)."
            )
            i += 2
            continue
        i += 1
    return problems


def _ends(word: str) -> bool:
    """True when a raw word closes a clause (a name does not run on past it)."""
    return word.rstrip("”’\"')").endswith((".", "!", "?", ",", ";", ":"))
