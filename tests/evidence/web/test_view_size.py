"""Views stay thin: no route function in evidence/web/views/ has a body over 25 lines.

A view reads the request, calls plain functions (in literature/, practice/, synthesis/,
output/ or web/ helpers) and renders; logic that grows past that belongs in those functions,
where it can be tested without a request.
"""

from __future__ import annotations

import ast
from pathlib import Path

import evidence.web.views

MAX_BODY_LINES = 25
VIEWS = Path(evidence.web.views.__file__).parent

# Views allowed to be longer, each with why. Keep this list short (ideally empty).
KNOWN_LONG: dict[str, str] = {}

ROUTE_DECORATORS = {"route", "get", "post", "put", "patch", "delete"}


def _is_route(decorator: ast.expr) -> bool:
    """True for @bp.route(...), @bp.get(...) and the like."""
    return (
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and decorator.func.attr in ROUTE_DECORATORS
    )


def body_lines(func: ast.FunctionDef) -> int:
    """Lines from the first statement after the docstring to the function's end."""
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:] or body
    assert func.end_lineno is not None
    return func.end_lineno - body[0].lineno + 1


def view_sizes() -> dict[str, int]:
    """Return each route function's body length, keyed "module.function"."""
    sizes: dict[str, int] = {}
    for path in sorted(VIEWS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any(map(_is_route, node.decorator_list)):
                sizes[f"{path.stem}.{node.name}"] = body_lines(node)
    return sizes


def test_views_are_at_most_25_lines() -> None:
    sizes = view_sizes()
    assert len(sizes) > 50  # the walk found the views (there are over 80 routes)
    too_long = {
        name: n for name, n in sizes.items() if n > MAX_BODY_LINES and name not in KNOWN_LONG
    }
    assert too_long == {}


def test_known_long_views_are_still_long() -> None:
    """An entry that has been thinned leaves the list."""
    sizes = view_sizes()
    assert {name for name in KNOWN_LONG if sizes.get(name, 0) <= MAX_BODY_LINES} == set()


def test_the_measure_counts_a_long_view() -> None:
    source = "@bp.get('/x')\ndef x():\n    '''Doc.'''\n" + "    a = 1\n" * 26
    (func,) = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    assert _is_route(func.decorator_list[0]) and body_lines(func) == 26
