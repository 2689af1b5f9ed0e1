"""Browser-test helpers: axe-core accessibility checks."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

_AXE = Axe()


def serious_violations(page: Any) -> list[str]:
    """Run axe-core on the page and return its serious and critical violations, described."""
    results = _AXE.run(page)
    out = []
    for violation in results.response["violations"]:
        if violation.get("impact") in ("serious", "critical"):
            targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
            out.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}"
            )
    return out
