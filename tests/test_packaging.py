"""A non-editable install (the wheel) carries everything the app reads: templates, static
files, migrations and the snapshot."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_SOURCE = (".git", ".venv", "build", "dist", "instance", "*.egg-info", "__pycache__", ".*_cache")

SERVE_FROM_WHEEL = """
import sys, evidence
from evidence import create_app, migrate, snapshot
from evidence.db import session_scope
assert evidence.__file__.startswith(sys.argv[1]), evidence.__file__
url = "sqlite:///" + sys.argv[2]
migrate.upgrade(url)
app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "x"})
with app.app_context(), session_scope() as session:
    snapshot.load(session)
client = app.test_client()
for path in ("/", "/treatments/microneedling", "/static/style.css", "/about/evidence-levels"):
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
print("served", app.template_folder)
"""


def test_the_wheel_serves_pages_without_the_checkout(tmp_path: Path) -> None:
    """Build the wheel offline, install it apart from the checkout, and serve pages from it."""
    # Built from a copy: an in-tree build would leave build/ and *.egg-info in the checkout.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(dist), str(source)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "evidence/templates/base.html" in names
    assert "evidence/templates/main/home.html" in names
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
         "--target", str(target), str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-c", SERVE_FROM_WHEEL, str(target), str(tmp_path / "db.sqlite3")],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "EVIDENCE_INSTANCE_PATH": str(tmp_path / "instance")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"served {target}/evidence/templates" in run.stdout
