"""`evidence users ...`: create accounts (the first admin) and set roles from the shell."""

from __future__ import annotations

import sys

import click

from evidence.cli._app import LazyGroup, with_database


def _attach(users: click.Group) -> None:
    """Attach the `users` commands (their --role choices come from the models)."""
    from evidence.models import ROLES

    @users.command("create")
    @click.argument("email")
    @click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
    @click.option("--name", default="", help="Display name.")
    @click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of standard input instead of prompting.",
    )
    @with_database
    def create(email: str, role: str, name: str, password_stdin: bool) -> None:
        """Create an account, e.g. the first admin: evidence users create EMAIL --role admin."""
        from evidence.db import session_scope
        from evidence.web import auth

        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            with session_scope() as session:
                user = auth.create_user(
                    session, email=email, password=password, role=role, name=name
                )
                created = (user.email, user.role)
        except auth.AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"created {created[0]} ({created[1]})")

    @users.command("set-role")
    @click.argument("email")
    @click.argument("role", type=click.Choice(ROLES))
    @with_database
    def set_role(email: str, role: str) -> None:
        """Change an existing account's role."""
        from evidence.db import session_scope
        from evidence.web import auth

        with session_scope() as session:
            user = auth.find_user(session, email)
            if user is None:
                raise click.ClickException(f"no account for {email}")
            user.role = role
            session.add(user)
        click.echo(f"{email} is now {role}")


@click.group("users", cls=LazyGroup, load=_attach)
def users() -> None:
    """User accounts."""


def register(main: click.Group) -> None:
    """Attach the `users` group to the `evidence` command."""
    main.add_command(users)
