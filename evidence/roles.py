"""Role ranks: each role holds the rights of the roles below it."""

from __future__ import annotations

from evidence.models import ROLES


def role_includes(role: str | None, *roles: str) -> bool:
    """Return True when `role` holds the rights of any of `roles`.

    Roles are cumulative (ROLES is ordered viewer < practitioner < curator < admin): promoting
    a practitioner to curator keeps their report rights, and an admin can do everything.
    """
    if role not in ROLES:
        return False
    rank = ROLES.index(role)
    return any(r in ROLES and rank >= ROLES.index(r) for r in roles)
