"""Load extracted studies and published meta-analyses from the database into synthesis records.

Waiting on the extraction models (issue 9, extraction half): until they are merged there are no
extracted studies in the database, and every block says so ("No extracted study ...").
"""

from __future__ import annotations

from sqlmodel import Session

from evidence.findings import Published
from evidence.synthesis import Study


def load(session: Session, *, indication: str | None) -> tuple[list[Study], list[Published]]:
    """Return the extracted studies (retracted ones marked) and published pooled results."""
    return [], []
