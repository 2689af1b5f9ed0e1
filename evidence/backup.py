"""Backups: SQLite through its online backup API, PostgreSQL through pg_dump / pg_restore.

SQLite's backup API copies a consistent snapshot while the app keeps serving (readers and
writers go on; the copy restarts pages a writer changed). PostgreSQL's own tools do the same
for a server; we run them with the app's URL, or print the command when they are missing.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess  # nosec B404 -- runs pg_dump/pg_restore with an argument list, no shell
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says why and what to do."""


@dataclass
class Outcome:
    """What a backup or restore did, for the command to print."""

    message: str
    command: list[str] | None = None


def _sqlite_path(url: str) -> Path:
    """Return the database file of a SQLite URL."""
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _check_sqlite_file(path: Path) -> None:
    """Refuse a file that is not a sound SQLite database."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} cannot be opened as SQLite: {exc}") from exc
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not an SQLite database: {exc}") from exc
    finally:
        conn.close()
    if not result or result[0] != "ok":
        raise BackupError(f"{path} failed SQLite's integrity check: {result}")
    if "alembic_version" not in tables:
        raise BackupError(f"{path} is not a backup of this app (no alembic_version table)")


def _copy(source: Path, dest: Path) -> None:
    """Copy one SQLite database into another with the online backup API."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    """Return libpq connection arguments and environment (the password via PGPASSWORD)."""
    u = make_url(url)
    args = ["--dbname", u.database or "postgres"]
    if u.host:
        args += ["--host", u.host]
    if u.port:
        args += ["--port", str(u.port)]
    if u.username:
        args += ["--username", u.username]
    env = {"PGPASSWORD": u.password} if u.password else {}
    return args, env


def _run(command: list[str], env: dict[str, str]) -> None:
    """Run a PostgreSQL client tool, raising with its message when it fails."""
    import os

    tool = shutil.which(command[0])
    if tool is None:
        printable = " ".join(command)
        raise BackupError(f"{command[0]} is not installed; run by hand: {printable}")
    done = subprocess.run(  # nosec B603 -- fixed tool, argument list, no shell
        [tool, *command[1:]], env={**os.environ, **env}, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()}")


def backup(url: str, dest: Path) -> Outcome:
    """Write a consistent copy of the database to `dest` (refusing to overwrite a file)."""
    if dest.exists():
        raise BackupError(f"{dest} exists; choose a new file (a backup never overwrites)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        _copy(_sqlite_path(url), dest)
        return Outcome(f"backed up {_sqlite_path(url)} to {dest} (SQLite online backup)")
    if url.startswith("postgresql"):
        args, env = _pg_args(url)
        command = ["pg_dump", "--format=custom", "--no-owner", "--file", str(dest), *args]
        _run(command, env)
        return Outcome(f"backed up to {dest} (pg_dump, custom format)", command)
    raise BackupError(f"no backup method for {make_url(url).drivername}")


def restore(url: str, source: Path) -> Outcome:
    """Replace the database's contents with a backup made by `backup`."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    if url.startswith("sqlite"):
        _check_sqlite_file(source)
        _copy(source, _sqlite_path(url))
        return Outcome(f"restored {_sqlite_path(url)} from {source} (SQLite online backup)")
    if url.startswith("postgresql"):
        args, env = _pg_args(url)
        command = [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            *args,
            str(source),
        ]
        _run(command, env)
        return Outcome(f"restored from {source} (pg_restore)", command)
    raise BackupError(f"no restore method for {make_url(url).drivername}")
