"""The app's shared cache (Flask-Caching): Redis when configured, else files under instance/.

Every worker process of one deployment reads and writes the same store, so a chart drawn or a
comparison computed by one worker serves all of them. Keys name the database (two apps on
different databases never share an entry) and the data versions the value was computed from
(`evidence.db.data_versions`), so a write makes the next request compute afresh; entries of
superseded versions are never read again and expire after CACHE_DEFAULT_TIMEOUT.
"""

from __future__ import annotations

import hashlib
import os
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
    cache.init_app(app, config=settings(app))


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

    `timeout` in seconds (default CACHE_DEFAULT_TIMEOUT).
    """
    found: T | None = cache.get(name)
    if found is None:
        found = compute()
        cache.set(name, found, timeout=timeout)
    return found


def visitor_page(kind: str, render: Callable[[], str], *parts: str) -> str:
    """Return a page as every anonymous visitor sees it, from the cache per address and data.

    The page must hold nothing personal for a visitor (no form token, no per-visit marks):
    signed-in users, and anyone with flashed messages pending, get `render()` afresh.
    `parts` add what else the page depends on to its key.
    """
    from flask import request
    from flask import session as flask_session

    from evidence.db import data_versions, get_session
    from evidence.web.auth import current_account

    if current_account() is not None or "_flashes" in flask_session:
        return render()
    versions = data_versions(get_session())
    name = key(f"{kind}-page", request.url, *(versions[side] for side in sorted(versions)), *parts)
    return remember(name, render, timeout=PAGE_TIMEOUT)


def clear() -> None:
    """Forget every entry of this app's cache (benchmarks measure cold requests this way)."""
    cache.clear()
