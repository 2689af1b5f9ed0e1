"""The app behind the `evidence` command, built only as far as a command needs.

`evidence --help` lists the commands without building the app, and a command that only
reads and writes the database (`evidence pubmed import`, `evidence db upgrade`) runs in
`create_app(web=False)`: no blueprint, template, cache or rate limit is set up, so the
modules behind the pages (charts, statistics, exports) are never imported. Commands that
serve or render (`serve`, `worker`, `routes`, `run`, `shell`) get the whole app.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo

F = TypeVar("F", bound=Callable[..., Any])


def web_app() -> Flask:
    """The whole app (pages, caches, rate limits): `FlaskGroup`'s factory."""
    from evidence import create_app

    return create_app()


def database_app() -> Flask:
    """The app without its web side, for commands that only use the database and queue."""
    from evidence import create_app

    return create_app(web=False)


class EvidenceGroup(FlaskGroup):
    """A FlaskGroup that lists its commands without building the app.

    FlaskGroup builds the app to list the commands an app may add (`app.cli`); this app adds
    none, so `--help` and the lookup of a command need only the commands registered here.
    """

    _plugins: dict[str, Any]

    def _load_plugin_commands(self) -> None:
        """Note the `flask.commands` entry points (Flask-Limiter's `limiter`); load on use."""
        if self._loaded_plugin_commands:
            return
        from importlib import metadata

        self._plugins = {
            ep.name: ep
            for ep in metadata.entry_points(group="flask.commands")
            if ep.name not in self.commands
        }
        self._loaded_plugin_commands = True

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """Return a command, importing a plugin's only when it is the one asked for."""
        self._load_plugin_commands()
        entry = self._plugins.pop(name, None)
        if entry is not None:
            self.add_command(entry.load(), name)
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the built-in, plugin and registered commands; the app is not built."""
        self._load_plugin_commands()
        return sorted({*self.commands, *self._plugins})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands as click does; a plugin's is named by its package, not imported."""
        self._load_plugin_commands()
        rows: list[tuple[str, click.Command | str]] = []
        for name in self.list_commands(ctx):
            entry = self._plugins.get(name)
            if entry is not None:
                package = entry.dist.name if entry.dist else entry.module
                rows.append((name, f"Commands from {package}."))
            elif (command := self.get_command(ctx, name)) is not None and not command.hidden:
                rows.append((name, command))
        if not rows:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section("Commands"):
            formatter.write_dl(
                [
                    (name, text if isinstance(text, str) else text.get_short_help_str(limit))
                    for name, text in rows
                ]
            )


class LazyGroup(click.Group):
    """A command group whose commands are attached on first use, by `load(group)`.

    For groups whose options are built from heavy modules (the export formats, the roles):
    `evidence --help` shows the group's own help without importing them.
    """

    def __init__(self, *args: Any, load: Callable[[click.Group], None], **kwargs: Any) -> None:
        """Make the group; `load` attaches its commands when they are first asked for."""
        super().__init__(*args, **kwargs)
        self._load: Callable[[click.Group], None] | None = load

    def _attach(self) -> None:
        """Attach the commands (once)."""
        if self._load is not None:
            load, self._load = self._load, None
            load(self)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """Return a command of the group, attaching them first."""
        self._attach()
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """List the group's commands, attaching them first."""
        self._attach()
        return super().list_commands(ctx)


def with_database(f: F) -> F:
    """Like `flask.cli.with_appcontext`, in `create_app(web=False)` unless an app is given.

    A caller that passes its own app (a test's `ScriptInfo(create_app=...)`) keeps it.
    """

    @click.pass_context
    def wrapper(ctx: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        if not current_app:
            info = ctx.ensure_object(ScriptInfo)
            if info.create_app is web_app:
                info.create_app = database_app
            ctx.with_resource(info.load_app().app_context())
        return ctx.invoke(f, *args, **kwargs)

    return update_wrapper(wrapper, f)  # type: ignore[return-value]
