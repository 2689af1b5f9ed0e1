"""Settings read from the environment, with defaults that work offline on one machine."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any

NCBI_EUTILS_DEFAULT = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"


def instance_secret_key(instance_path: str) -> str:
    """Return the secret key kept under instance/, generating it on first use.

    Several workers may start at once on a fresh instance folder: each writes a candidate
    key to its own temporary file and links it into place, which succeeds for exactly one;
    every process then reads the winner, so all of them sign with the same key.
    """
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
    # Created with owner-only permissions: the key signs sessions and CSRF tokens.
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        # Atomic: the file appears whole or not at all. FileExistsError: another worker won
        # the race, and its key is the one to use.
        with contextlib.suppress(FileExistsError):
            os.link(candidate, path)
    finally:
        candidate.unlink(missing_ok=True)
    return path.read_text().strip()


def from_environment(instance_path: str) -> dict[str, Any]:
    """Build the app's settings from EVIDENCE_* and NCBI_* environment variables."""
    env = os.environ
    default_db = "sqlite:///" + str(Path(instance_path) / "evidence.sqlite3")
    return {
        "DATABASE_URL": env.get("EVIDENCE_DATABASE_URL") or default_db,
        "SECRET_KEY": env.get("EVIDENCE_SECRET_KEY") or instance_secret_key(instance_path),
        "REDIS_URL": env.get("EVIDENCE_REDIS_URL") or None,
        # The shared cache (evidence/web/cache.py): Redis at REDIS_URL when set, else files here
        # (default instance/cache), shared by every worker process on the machine.
        "CACHE_DIR": env.get("EVIDENCE_CACHE_DIR") or None,
        "NCBI_EMAIL": env.get("NCBI_EMAIL") or None,
        "NCBI_API_KEY": env.get("NCBI_API_KEY") or None,
        "NCBI_EUTILS_URL": env.get("NCBI_EUTILS_URL") or NCBI_EUTILS_DEFAULT,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Secure cookies unless explicitly served over plain HTTP (the local demo).
        "SESSION_COOKIE_SECURE": env.get("EVIDENCE_INSECURE_COOKIES", "1") != "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        # E-mail digests (evidence/literature/digests.py): none are sent without a host.
        "SMTP_HOST": env.get("EVIDENCE_SMTP_HOST") or None,
        "SMTP_PORT": int(env.get("EVIDENCE_SMTP_PORT") or 25),
        "SMTP_FROM": env.get("EVIDENCE_SMTP_FROM") or "evidence-tracker@localhost",
        "SMTP_USER": env.get("EVIDENCE_SMTP_USER") or None,
        "SMTP_PASSWORD": env.get("EVIDENCE_SMTP_PASSWORD") or None,
        "SMTP_STARTTLS": env.get("EVIDENCE_SMTP_STARTTLS") == "1",
        "PUBLIC_URL": env.get("EVIDENCE_PUBLIC_URL") or "http://127.0.0.1:5000",
        # Requests (uploads included) above this are refused with 413 before they are read.
        "MAX_CONTENT_LENGTH": int(env.get("EVIDENCE_MAX_UPLOAD_BYTES") or 64 * 1024 * 1024),
        # A gzip import may inflate to this at most (a decompression bomb is refused whole).
        "IMPORT_MAX_INFLATED_BYTES": int(
            env.get("EVIDENCE_MAX_INFLATED_BYTES") or 2 * 1024 * 1024 * 1024
        ),
        # How many reverse proxies set X-Forwarded-* (0: trust none); HSTS follows their proto.
        "TRUSTED_PROXIES": int(env.get("EVIDENCE_TRUSTED_PROXIES") or 0),
    }
