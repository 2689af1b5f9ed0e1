"""The one page-number parser and pager of the paged lists (citations, reports, audit log)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Beyond this many digits a number is past any last page: read it as "the last page" without
# turning it into an int (Python refuses over 4,300 digits, databases over 2^63).
MAX_DIGITS = 9
PAST_THE_END = 10_000_000_000  # what a longer number is read as: clamped to the last page


def page_number(raw: Any) -> int:
    """Read a requested page number: 1 when absent or malformed, huge numbers kept huge.

    Only ASCII digits count ("²" is a digit to str.isdigit, and int() refuses it); a minus
    sign or anything else gives the first page.
    """
    text = str(raw or "").strip()
    if not (text.isascii() and text.isdigit()):
        return 1
    if len(text.lstrip("0")) > MAX_DIGITS:
        return PAST_THE_END
    return max(int(text), 1)


@dataclass(frozen=True)
class Pager:
    """Which page of a list is shown: the page (clamped to 1..pages), its size and offset.

    `param` is the query argument the page number travels in ("page", or "rep_page" for the
    reports section of a treatment page, which sits beside the citation table's pager).
    """

    total: int
    page: int
    per_page: int
    param: str = "page"

    @classmethod
    def from_args(
        cls, args: Mapping[str, Any], total: int, *, per_page: int, param: str = "page"
    ) -> Pager:
        """Return the pager for a request's page argument over `total` rows."""
        pages = max(1, -(-total // per_page))
        return cls(total, min(page_number(args.get(param)), pages), per_page, param)

    @property
    def pages(self) -> int:
        """The number of pages (1 for an empty list)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def offset(self) -> int:
        """The number of rows before this page."""
        return (self.page - 1) * self.per_page

    @property
    def has_prev(self) -> bool:
        """True when there is a page before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """True when there is a page after this one."""
        return self.page < self.pages
