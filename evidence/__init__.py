"""Clinical treatment evidence tracker: the Flask application factory."""

from __future__ import annotations

import importlib
import os
import pkgutil
from pathlib import Path
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from evidence import db
from evidence.config import from_environment
from evidence.web import cache, hardening, ratelimit

csrf = CSRFProtect()


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


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the app; `test_config` overrides environment settings."""
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

    hardening.init_app(app)  # first: the bounded int converter must exist before any route
    db.init_app(app)
    cache.init_app(app)  # the shared cache (Redis or instance/cache), configured from app.config
    csrf.init_app(app)
    from evidence import jobs
    from evidence.web import assets, errors, filters

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
