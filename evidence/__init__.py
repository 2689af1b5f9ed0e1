"""Clinical treatment evidence tracker: the Flask application factory."""

from __future__ import annotations

import importlib
import os
import pkgutil
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from evidence import db
from evidence.config import from_environment

csrf = CSRFProtect()


def view_modules() -> list[str]:
    """Return the modules under evidence/views/: each exports `bp`, and may offer `init_app`."""
    from evidence import views

    return sorted(
        m.name for m in pkgutil.iter_modules(views.__path__) if not m.name.startswith("_")
    )


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the app; `test_config` overrides environment settings."""
    instance_path = os.environ.get("EVIDENCE_INSTANCE_PATH") or None
    app = Flask(
        __name__,
        template_folder="../templates",
        instance_relative_config=True,
        instance_path=instance_path,
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(from_environment(app.instance_path))
    if test_config:
        app.config.update(test_config)

    db.init_app(app)
    csrf.init_app(app)
    from evidence import errors, filters

    filters.init_app(app)
    errors.init_app(app)
    from evidence import security

    security.init_app(app)
    for name in view_modules():
        module = importlib.import_module(f"evidence.views.{name}")
        if hasattr(module, "init_app"):
            module.init_app(app)
        app.register_blueprint(module.bp)
    for hook in app.config.get("EXTRA_INIT", ()):
        hook(app)
    return app
