"""Clinical treatment evidence tracker: the Flask application factory.

Importing the package loads nothing heavy (every `evidence` command imports it): the
factory imports the web side when it builds a web app, and `csrf` is made on first use.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask
    from flask_wtf.csrf import CSRFProtect

    csrf: CSRFProtect


def __getattr__(name: str) -> Any:
    """Make `csrf` (the app's CSRFProtect) on first use: flask_wtf loads WTForms."""
    if name == "csrf":
        from flask_wtf.csrf import CSRFProtect

        protect = globals()["csrf"] = CSRFProtect()
        return protect
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def template_folder() -> str:
    """Return the templates folder: templates/ beside the package in a checkout or editable
    install, evidence/templates inside an installed wheel (setup.py puts them there)."""
    here = Path(__file__).resolve().parent
    installed = here / "templates"
    return str(installed if installed.is_dir() else here.parent / "templates")


def view_modules() -> list[str]:
    """Return the modules under evidence/web/views/: each exports `bp`, and may offer `init_app`."""
    from evidence.web import views

    return sorted(
        m.name for m in pkgutil.iter_modules(views.__path__) if not m.name.startswith("_")
    )


def create_app(test_config: dict[str, Any] | None = None, *, web: bool = True) -> Flask:
    """Create and configure the app; `test_config` overrides environment settings.

    With `web=False` (CLI commands that only use the database and the job queue) no
    blueprint, template filter, cache, asset or rate limit is set up: the app serves no page.
    """
    from flask import Flask

    from evidence import db, jobs
    from evidence.config import from_environment

    instance_path = os.environ.get("EVIDENCE_INSTANCE_PATH") or None
    app = Flask(
        __name__,
        template_folder=template_folder(),
        instance_relative_config=True,
        instance_path=instance_path,
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(from_environment(app.instance_path))
    if test_config:
        app.config.update(test_config)

    if not web:
        db.init_app(app)
        jobs.init_app(app)  # the background queue, configured from app.config
        for hook in app.config.get("EXTRA_INIT", ()):
            hook(app)
        return app
    from evidence import csrf
    from evidence.web import assets, cache, errors, filters, hardening, ratelimit

    hardening.init_app(app)  # first: the bounded int converter must exist before any route
    db.init_app(app)
    cache.init_app(app)  # the shared cache (Redis or instance/cache), configured from app.config
    csrf.init_app(app)
    jobs.init_app(app)  # the background queue, configured from app.config
    assets.init_app(app)

    filters.init_app(app)
    errors.init_app(app)
    from evidence.web import security

    security.init_app(app)
    for name in view_modules():
        module = importlib.import_module(f"evidence.web.views.{name}")
        if hasattr(module, "init_app"):
            module.init_app(app)
        app.register_blueprint(module.bp)
    ratelimit.init_app(app)  # after the blueprints: it applies the limits their views declare
    for hook in app.config.get("EXTRA_INIT", ()):
        hook(app)
    return app
