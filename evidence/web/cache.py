"""The app's shared cache (Flask-Caching): Redis when configured, else files under instance/.

Every worker process of one deployment reads and writes the same store, so a chart drawn or a
comparison computed by one worker serves all of them. Keys name the database (two apps on
different databases never share an entry) and the data versions the value was computed from
(`evidence.db.data_versions`), so a write makes the next request compute afresh; entries of
superseded versions are never read again and expire after CACHE_DEFAULT_TIMEOUT.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app
from flask_caching import Cache
from sqlalchemy.engine import make_url

T = TypeVar("T")
DEFAULT_TIMEOUT = 24 * 60 * 60  # seconds: long enough to outlive any data version's use
PAGE_TIMEOUT = 60 * 60  # whole pages are large and quick to rebuild from cached parts
# Files kept by the filesystem backend before it prunes (expired ones first): charts in two
# formats, comparisons and pages (about 200 KB each) for a few hundred selections.
FILE_THRESHOLD = 2000
# One caller computes a missing value; the others wait for it (see `remember`).
CLAIM_SECONDS = 60
WAIT_SECONDS = 30.0
WAIT_STEP = 0.02

cache = Cache()


def settings(app: Flask) -> dict[str, Any]:
    """Return Flask-Caching's settings for the app: RedisCache with REDIS_URL, else files."""
    config: dict[str, Any] = {
        "CACHE_DEFAULT_TIMEOUT": app.config.get("CACHE_DEFAULT_TIMEOUT", DEFAULT_TIMEOUT),
        "CACHE_KEY_PREFIX": "evidence:",
    }
    redis_url = app.config.get("CACHE_REDIS_URL") or app.config.get("REDIS_URL")
    if redis_url:
        config.update(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=redis_url)
    else:
        directory = app.config.get("CACHE_DIR") or os.path.join(app.instance_path, "cache")
        os.makedirs(directory, exist_ok=True)
        config.update(
            CACHE_TYPE="FileSystemCache", CACHE_DIR=directory, CACHE_THRESHOLD=FILE_THRESHOLD
        )
    return config


def init_app(app: Flask) -> None:
    """Bind the shared cache to the app, configured from its settings."""
    config = settings(app)
    cache.init_app(app, config=config)
    if config["CACHE_TYPE"] == "FileSystemCache":
        claims = os.path.normpath(config["CACHE_DIR"]) + "-claims"
        os.makedirs(claims, exist_ok=True)
        app.config["CACHE_CLAIMS_DIR"] = claims


def backend_name(app: Flask | None = None) -> str:
    """Return the cache backend's class name (RedisCache or FileSystemCache)."""
    app = app or current_app
    return type(app.extensions["cache"][cache]).__name__


def key(kind: str, *parts: str) -> str:
    """Return a cache key for `kind` from its parts and the app's database URL."""
    database = make_url(current_app.config["DATABASE_URL"]).render_as_string(hide_password=True)
    digest = hashlib.sha256("\x1f".join((database, *parts)).encode()).hexdigest()[:40]
    return f"{kind}:{digest}"


def remember(name: str, compute: Callable[[], T], *, timeout: int | None = None) -> T:
    """Return the value cached under `name`, computing and storing it when absent.

    `timeout` in seconds (default CACHE_DEFAULT_TIMEOUT). One caller computes a missing
    value while the others (threads or worker processes) wait for it, up to WAIT_SECONDS:
    after a write, sixteen visitors asking for the same cold page cost one computation, not
    sixteen at once. A claim expires after CLAIM_SECONDS, so a worker that dies while
    computing holds up the others no longer than that.
    """
    found: T | None = cache.get(name)
    if found is not None:
        return found
    claims = _claims()
    owner = claims.take(name)
    if not owner:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(WAIT_STEP)
            found = cache.get(name)
            if found is not None:
                return found
            if not claims.held(name):  # the computing caller failed: compute here
                break
    try:
        found = compute()
        cache.set(name, found, timeout=timeout)
    finally:
        if owner:
            claims.release(name)
    return found


class _StoreClaims:
    """Claims kept in the cache store itself: `add` is atomic there (Redis SET NX)."""

    def take(self, name: str) -> bool:
        return bool(cache.add(f"{name}:computing", os.getpid(), timeout=CLAIM_SECONDS))

    def held(self, name: str) -> bool:
        return bool(cache.has(f"{name}:computing"))

    def release(self, name: str) -> None:
        cache.delete(f"{name}:computing")


class _FileClaims:
    """Claims as files created with O_EXCL beside the cache directory.

    The file cache's own `add` checks, then writes, so two processes can both succeed;
    creating a file exclusively cannot. (Beside, not inside: the file cache prunes what its
    directory holds.)
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, hashlib.sha256(name.encode()).hexdigest()[:40])

    def take(self, name: str) -> bool:
        path = self._path(name)
        for _ in range(2):
            try:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            except FileExistsError:
                if not self._stale(path):
                    return False
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            else:
                return True
        return False

    def _stale(self, path: str) -> bool:
        try:
            return time.time() - os.path.getmtime(path) > CLAIM_SECONDS
        except FileNotFoundError:
            return True

    def held(self, name: str) -> bool:
        return not self._stale(self._path(name))

    def release(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(name))


def _claims() -> _StoreClaims | _FileClaims:
    """Return the app's claims: in Redis with Redis, else files beside the cache directory."""
    directory = current_app.config.get("CACHE_CLAIMS_DIR")
    return _FileClaims(directory) if directory else _StoreClaims()


def visitor_page(kind: str, render: Callable[[], str], *parts: str) -> str:
    """Return a page as every anonymous visitor sees it, from the cache per address and data.

    The key holds the address, the static files' content (the page links them by hashed
    URL), the data versions and `parts` (whatever else the page depends on). The page must
    hold nothing personal for a visitor (no form token, no per-visit marks): signed-in
    users, and anyone with flashed messages pending, get `render()` afresh.
    """
    from flask import request
    from flask import session as flask_session

    from evidence.db import data_versions, get_session
    from evidence.web.assets import static_version
    from evidence.web.auth import current_account

    if current_account() is not None or "_flashes" in flask_session:
        return render()
    versions = data_versions(get_session())
    name = key(
        f"{kind}-page",
        request.url,
        static_version(current_app),
        *(versions[side] for side in sorted(versions)),
        *parts,
    )
    return remember(name, render, timeout=PAGE_TIMEOUT)


def clear() -> None:
    """Forget every entry of this app's cache (benchmarks measure cold requests this way)."""
    cache.clear()
