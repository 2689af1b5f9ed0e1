"""Packaging beyond pyproject.toml: the top-level templates/ ship inside the wheel.

The project keeps its templates at the top (`templates/`, beside `evidence/`); a
non-editable install has no such folder, so the wheel carries them as `evidence/templates`,
where `evidence.template_folder()` looks first (package data: pyproject.toml).

Data folders (migrations, the snapshot, static files, template subfolders) are listed as
namespace packages, so setuptools knows they are meant to ship and says nothing about them.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).parent
TEMPLATE_DIRS = sorted(p.name for p in (HERE / "templates").iterdir() if p.is_dir())

setup(
    packages=find_namespace_packages(
        include=["evidence*", "pubmed*"], exclude=["*.__pycache__", "*.__pycache__.*"]
    )
    + ["evidence.templates"]
    + [f"evidence.templates.{name}" for name in TEMPLATE_DIRS],
    package_dir={"evidence.templates": "templates"},
)
