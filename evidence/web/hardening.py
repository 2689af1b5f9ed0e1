"""Hostile input answered with a clear 400 or 404, never a 500, on SQLite and PostgreSQL.

- Ids in URLs are bounded to PostgreSQL's INTEGER (1 to 2^31-1): larger ones are not found.
- A NUL byte in the path, a query argument or a form field is refused (PostgreSQL text
  cannot hold one).
- Request JSON is parsed with limits: size, nesting depth, no lone surrogates or NUL bytes
  in strings, no NaN or Infinity.
"""

from __future__ import annotations

import json
import math
import unicodedata
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter, ValidationError

MAX_ID = 2**31 - 1  # PostgreSQL INTEGER, the type of every id column
MAX_JSON_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32


class BoundedIntConverter(IntegerConverter):
    """The `int` URL converter, refusing ids outside 1..2^31-1 (so they are simply not found)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        """Default the bounds to those of an INTEGER id column."""
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> Any:
        """Refuse over-long digit strings before converting (int() of 5,000 digits raises)."""
        if len(value) > len(str(MAX_ID)):
            raise ValidationError()
        return super().to_python(value)


NUL_MESSAGE = "Remove the NUL character (\\0) from {where}: it cannot be stored or searched."


def refuse_nul_bytes() -> None:
    """Answer 400 when the path, a query argument or a form field holds a NUL byte."""
    if "\x00" in request.path:
        raise BadRequest(NUL_MESSAGE.format(where="the address"))
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            raise BadRequest(NUL_MESSAGE.format(where=f"the query parameter {key!r}"))
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        for key, value in request.form.items(multi=True):
            if "\x00" in key or "\x00" in value:
                raise BadRequest(NUL_MESSAGE.format(where=f"the field {key!r}"))


def _json_depth_ok(text: str, limit: int) -> bool:
    """Return True when brackets nest at most `limit` deep (strings skipped), in one pass."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return False
        elif char in "]}":
            depth -= 1
    return True


def _check_strings(value: Any) -> None:
    """Refuse lone surrogates and NUL bytes anywhere in parsed JSON (keys included)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise BadRequest("The JSON holds a NUL character (\\u0000): remove it.")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise BadRequest(
                    "The JSON holds a lone surrogate (such as \\ud800): send valid Unicode text."
                ) from None


def _no_constant(name: str) -> Any:
    """Refuse NaN and Infinity, which are not JSON."""
    raise BadRequest(f"{name} is not a JSON number: send a finite number.")


class LimitedJSONProvider(DefaultJSONProvider):
    """Flask's JSON with limits on what requests may send."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON, answering 400 for oversized, too deeply nested or invalid text."""
        if isinstance(s, bytes):
            if len(s) > MAX_JSON_BYTES:
                raise BadRequest(f"The JSON body is larger than {MAX_JSON_BYTES:,} bytes.")
            try:
                s = s.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest("The JSON body is not UTF-8 text.") from None
        if len(s) > MAX_JSON_BYTES:
            raise BadRequest(f"The JSON body is larger than {MAX_JSON_BYTES:,} characters.")
        if not _json_depth_ok(s, MAX_JSON_DEPTH):
            raise BadRequest(f"The JSON nests deeper than {MAX_JSON_DEPTH} levels.")
        kwargs.setdefault("parse_constant", _no_constant)
        value = json.loads(s, **kwargs)
        _check_strings(value)
        return value


def finite_float(value: int | float) -> float | None:
    """Return a JSON number as a float, or None when it is too large or not finite."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def safe_upload_name(filename: str) -> str:
    """Return a safe file name that keeps non-ASCII letters (werkzeug's turns 微针.xml into xml).

    Only the last path part is kept; anything but letters, digits, dot, dash and underscore
    becomes "_"; leading dots go (no hidden files), and the name is at most 120 characters
    with its suffix kept.
    """
    name = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).lstrip("._")
    if len(cleaned) > 120:
        stem, dot, suffix = cleaned.partition(".")
        cleaned = stem[: max(1, 119 - len(suffix))] + dot + suffix[-(119 - 1) :]
    return cleaned[:120]


def init_app(app: Flask) -> None:
    """Bound URL ids, refuse NUL bytes, and parse request JSON with limits (before the views)."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.json = LimitedJSONProvider(app)
    app.before_request(refuse_nul_bytes)
    from evidence.web.params import ignored_filters

    app.jinja_env.globals["ignored_filters"] = ignored_filters
