"""`make audit`: pip-audit (known-vulnerable installed packages) and bandit (high findings).

pip-audit needs its vulnerability database (PyPI's JSON API, or OSV). When that cannot be
reached, or answers for none of the packages, this says "not run: <reason>" and does not
count it as a pass; bandit runs offline and fails the audit on any high-severity finding
(the few `# nosec` marks in the code each say why on their line).
"""

from __future__ import annotations

import json
import subprocess  # nosec B404 -- runs the two audit tools with argument lists, no shell
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def pip_audit() -> tuple[str, bool]:
    """Run pip-audit; return (what it found, whether the audit failed)."""
    done = subprocess.run(  # nosec B603 -- our own venv's tool, fixed arguments
        [str(BIN / "pip-audit"), "--skip-editable", "--progress-spinner", "off", "-f", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        report = json.loads(done.stdout or "null")
    except json.JSONDecodeError:
        report = None
    if not isinstance(report, dict):
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"pip-audit: not run: {last[:300]}", False
    deps = report.get("dependencies", [])
    audited = [d for d in deps if "skip_reason" not in d]
    if not audited:
        reason = deps[0]["skip_reason"] if deps else "no packages listed"
        return (
            f"pip-audit: not run: the vulnerability database answered for none of {len(deps)} "
            f"packages (first: {reason})",
            False,
        )
    vulnerable = [d for d in audited if d.get("vulns")]
    lines = [f"pip-audit: {len(audited)} packages audited, {len(vulnerable)} vulnerable"]
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        lines.append(f"  {dep['name']} {dep['version']}: {ids}")
    skipped = len(deps) - len(audited)
    if skipped:
        lines.append(f"  ({skipped} packages could not be audited)")
    return "\n".join(lines), bool(vulnerable)


def bandit() -> tuple[str, bool]:
    """Run bandit over the app and the PubMed library; high-severity findings fail."""
    done = subprocess.run(  # nosec B603 -- our own venv's tool, fixed arguments
        [str(BIN / "bandit"), "-q", "-r", "evidence", "pubmed", "-f", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    results = json.loads(done.stdout or "{}").get("results", [])
    high = [r for r in results if r["issue_severity"] == "HIGH"]
    counts = {s: sum(r["issue_severity"] == s for r in results) for s in ("HIGH", "MEDIUM", "LOW")}
    lines = [f"bandit: {counts['HIGH']} high, {counts['MEDIUM']} medium, {counts['LOW']} low"]
    for r in high:
        lines.append(f"  {r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}")
    return "\n".join(lines), bool(high)


def main() -> int:
    """Run both; exit 1 when either found something that fails the audit."""
    failed = False
    for run in (pip_audit, bandit):
        text, bad = run()
        print(text)
        failed = failed or bad
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
