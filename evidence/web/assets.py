"""Compressed responses, and static files cached for a year behind content-hashed URLs."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from flask import Flask, Response, request
from flask_compress import Compress

compress = Compress()

# A year: the URL carries the file's hash (?v=...), so a changed file gets a new URL at once.
STATIC_MAX_AGE = 365 * 24 * 3600


def _hasher(app: Flask) -> Any:
    """Return a function giving a static file's short content hash, re-read when it changes."""
    cache: dict[str, tuple[float, str]] = {}

    def static_hash(filename: str) -> str | None:
        """Return the first 12 hex digits of the file's SHA-256, or None for a missing file."""
        folder = app.static_folder
        if not folder:
            return None
        path = os.path.join(folder, filename)
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return None
        known = cache.get(path)
        if known and known[0] == mtime:
            return known[1]
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()[:12]
        cache[path] = (mtime, digest)
        return digest

    return static_hash


def init_app(app: Flask) -> None:
    """Compress responses (gzip/brotli as the client accepts) and version static URLs."""
    app.config.setdefault(
        "COMPRESS_MIMETYPES",
        [
            "text/html",
            "text/css",
            "text/csv",
            "text/plain",
            "text/xml",
            "application/json",
            "application/javascript",
            "text/javascript",
            "image/svg+xml",
            "application/x-research-info-systems",
            "application/x-bibtex",
        ],
    )
    app.config.setdefault("COMPRESS_MIN_SIZE", 500)
    compress.init_app(app)
    static_hash = _hasher(app)
    app.extensions["evidence.static_hash"] = static_hash

    # Registered after Compress's hook, so it runs before it (Flask runs them in reverse).
    @app.after_request
    def buffer_static(response: Response) -> Response:
        """Read a small static file into the response, so it is gzipped and its file closed."""
        if request.endpoint == "static" and response.status_code == 200:
            response.direct_passthrough = False
            data = response.get_data()  # reads the file wrapper to its end
            response.close()  # closes the file; the data stays on the response
            response.set_data(data)
        return response

    @app.url_defaults
    def add_static_version(endpoint: str, values: dict[str, Any]) -> None:
        """Append ?v=<content hash> to every url_for('static', ...)."""
        if endpoint == "static" and "filename" in values and "v" not in values:
            digest = static_hash(values["filename"])
            if digest:
                values["v"] = digest

    original = app.get_send_file_max_age

    def max_age(filename: str | None) -> int | None:
        """Cache static files for a year: their URLs change whenever their content does."""
        if filename is not None:
            return STATIC_MAX_AGE
        return original(filename)

    app.get_send_file_max_age = max_age  # type: ignore[method-assign]


def static_version(app: Flask) -> str:
    """Name the content of every static file: a page cached whole puts this in its key.

    The page links its stylesheet and scripts by content-hashed URL, so a cached copy made
    before a file changed would point browsers at the old file.
    """
    folder = app.static_folder
    if not folder or not os.path.isdir(folder):
        return ""
    static_hash = app.extensions["evidence.static_hash"]
    with os.scandir(folder) as entries:
        names = sorted(entry.name for entry in entries if entry.is_file())
    return ",".join(f"{name}={static_hash(name)}" for name in names)
