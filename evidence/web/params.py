"""One parser for filter arguments in query strings, shared by pages, exports and the API.

Every value that cannot be used is recorded with the reason: the API answers 400 with
those messages; pages apply the rest and say what they ignored (base.html shows it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from flask import g, has_request_context

MAX_TEXT = 500  # longer filter text (a search box, a slug) is ignored with a message


class ArgParser:
    """Read filter arguments (optionally prefixed), collecting what was ignored and why."""

    def __init__(self, args: Any, prefix: str = "") -> None:
        """Wrap request args (a MultiDict or a plain mapping)."""
        self.args = args
        self.prefix = prefix
        self.ignored: list[str] = []

    def ignore(self, name: str, raw: str, why: str) -> None:
        """Record one ignored value."""
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        self.ignored.append(f"{self.prefix}{name}={shown!r} was ignored: {why}")

    def text(self, name: str, *, max_length: int = MAX_TEXT) -> str | None:
        """Return a trimmed text argument, None when absent or too long."""
        raw = str(self.args.get(self.prefix + name) or "").strip()
        if not raw:
            return None
        if len(raw) > max_length:
            self.ignore(name, raw, f"it is longer than {max_length} characters.")
            return None
        return raw

    def choice(
        self, name: str, allowed: Iterable[str], *, default: str | None = None
    ) -> str | None:
        """Return the argument when it is one of `allowed`, else `default` (recorded)."""
        raw = self.text(name)
        if raw is None:
            return default
        options = list(allowed)
        if raw in options:
            return raw
        self.ignore(name, raw, f"choose one of {', '.join(options)}.")
        return default

    def integer(self, name: str, low: int, high: int) -> int | None:
        """Return a whole number from low to high, else None (recorded)."""
        raw = self.text(name)
        if raw is None:
            return None
        if (
            not (raw.isascii() and raw.isdigit())
            or len(raw) > len(str(high))
            or not (low <= int(raw) <= high)
        ):
            self.ignore(name, raw, f"give a whole number from {low} to {high}.")
            return None
        return int(raw)

    def iso_date(self, name: str) -> date | None:
        """Return a date written YYYY-MM-DD, else None (recorded)."""
        raw = self.text(name, max_length=10)
        if raw is None:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            self.ignore(name, raw, "give a date as YYYY-MM-DD, e.g. 2024-03-31.")
            return None

    def ids(self, name: str, *, high: int, most: int) -> tuple[int, ...]:
        """Return a comma-separated list of ids (at most `most`), ignoring bad ones (recorded)."""
        raw = self.text(name, max_length=most * 12)
        if raw is None:
            return ()
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        good = [p for p in parts if p.isascii() and p.isdigit() and len(p) <= 10]
        out = tuple(int(p) for p in good if 1 <= int(p) <= high)
        if len(out) != len(parts):
            self.ignore(name, raw, f"give ids from 1 to {high}, separated by commas.")
        return out[:most]

    def publish(self) -> tuple[str, ...]:
        """Return what was ignored, also telling the current page (for base.html)."""
        if self.ignored and has_request_context():
            shown: list[str] = g.setdefault("ignored_filters", [])
            shown.extend(m for m in self.ignored if m not in shown)
        return tuple(self.ignored)


def ignored_filters() -> list[str]:
    """Return what the current request's filters ignored (a template global)."""
    found: list[str] = g.get("ignored_filters", [])
    return found
