"""Packaging beyond pyproject.toml: the top-level templates/ ship inside the wheel.

The project keeps its templates at the top (`templates/`, beside `evidence/`); a
non-editable install has no such folder, so the wheel carries them as `evidence/templates`,
where `evidence.template_folder()` looks first (package data: pyproject.toml).
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["evidence*", "pubmed*"]) + ["evidence.templates"],
    package_dir={"evidence.templates": "templates"},
)
