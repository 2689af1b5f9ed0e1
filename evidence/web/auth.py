"""Accounts: Flask-Login wiring, password hashing, role checks and session versions.

Roles, from least to most: viewer (reads), practitioner (submits and edits own
reports), curator (links citations, hides reports, runs searches), admin (manages
users). `roles_required` lists the roles a route accepts; an admin passes every check.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, abort, redirect, request, url_for
from flask_login import AnonymousUserMixin, LoginManager, current_user
from sqlmodel import Session, col, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from evidence.db import get_session
from evidence.models import ROLES, Role, User
from evidence.roles import role_includes

F = TypeVar("F", bound=Callable[..., Any])


MIN_PASSWORD_LENGTH = 10
# Hashing a throwaway password on unknown e-mails keeps failed logins equally slow either way.


@functools.cache
def _dummy_hash() -> str:
    """Return a hash to check unknown usernames against (built on first use: scrypt is slow)."""
    return generate_password_hash("not-a-real-password-0000")


login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."
login_manager.login_message_category = "info"
# "basic" marks a session non-fresh when its client changes; "strong" would log out mobile users.
login_manager.session_protection = "basic"


@dataclass
class Account:
    """The logged-in user as Flask-Login sees it (a plain copy, detached from the session)."""

    id: int
    email: str
    name: str
    role: str
    password_hash: str
    active: bool = True
    session_version: int = 0

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        """Deactivated accounts cannot log in."""
        return self.active

    def get_id(self) -> str:
        """Return the session id: user id plus a fingerprint of the password hash and version.

        Changing the password changes the fingerprint, which logs out every other session;
        so does logging out, which bumps the account's session version.
        """
        return f"{self.id}.{password_fingerprint(self.password_hash, self.session_version)}"

    def has_role(self, *roles: str) -> bool:
        """Return True when the account's role is one of `roles` or ranks above one of them."""
        return role_includes(self.role, *roles)

    @classmethod
    def from_user(cls, user: User) -> Account:
        """Copy the fields the app needs from a User row."""
        assert user.id is not None
        return cls(
            user.id,
            user.email,
            user.name,
            user.role,
            user.password_hash,
            user.active,
            user.session_version,
        )


class Anonymous(AnonymousUserMixin):
    """A visitor who has not logged in: reads everything public, writes nothing."""

    id = None
    email = ""
    role = ""

    def has_role(self, *roles: str) -> bool:
        """Anonymous visitors hold no role."""
        return False


login_manager.anonymous_user = Anonymous


def password_fingerprint(password_hash: str, session_version: int = 0) -> str:
    """Return a short digest of a password hash and session version, safe for the cookie."""
    return hashlib.sha256(f"{password_hash}:{session_version}".encode()).hexdigest()[:16]


@login_manager.user_loader
def load_account(session_id: str) -> Account | None:
    """Load the account a session cookie names, if it still exists and matches its password."""
    raw_id, _, fingerprint = session_id.partition(".")
    if not raw_id.isdigit():
        return None
    user = get_session().get(User, int(raw_id))
    if user is None or not user.active:
        return None
    if fingerprint != password_fingerprint(user.password_hash, user.session_version):
        return None  # the password changed, or the account logged out since this cookie
    return Account.from_user(user)


def end_sessions(session: Session, user_id: int) -> None:
    """Bump an account's session version: every cookie issued before is refused from now."""
    user = session.get(User, user_id)
    if user is not None:
        user.session_version += 1
        session.add(user)
        session.flush()


@login_manager.unauthorized_handler
def unauthorized() -> Any:
    """Answer anonymous requests to protected routes: 401 JSON for the API, login otherwise."""
    if request.path.startswith("/api/"):
        return {"error": "unauthorized", "message": "Log in or send an API token."}, 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def current_account() -> Account | None:
    """Return the logged-in account, or None for an anonymous visitor."""
    if not current_user.is_authenticated:
        return None
    # Other loaders (an API token's request_loader) may hand back an Account too.
    return cast(Account, current_user._get_current_object())


def has_role(*roles: str) -> bool:
    """Return True when the current user holds one of the roles (admins hold them all)."""
    return bool(current_user.is_authenticated and current_user.has_role(*roles))


def roles_required(*roles: str) -> Callable[[F], F]:
    """Allow a view only to users holding one of `roles` (admins always pass).

    Anonymous visitors are sent to the login page (401 JSON under /api/); logged-in
    users without the role get 403.
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403, description="Your account's role does not allow this.")
            return view(*args, **kwargs)

        wrapped.roles_required = roles  # type: ignore[attr-defined]
        return cast(F, wrapped)

    return decorator


# --- accounts ------------------------------------------------------------------------------


class AccountError(ValueError):
    """An account could not be created or changed; the message says why."""


def normalize_email(email: str) -> str:
    """Return an e-mail address trimmed and lower-cased, so one address is one account."""
    return email.strip().lower()


def find_user(session: Session, email: str) -> User | None:
    """Return the user with this e-mail address (case-insensitive)."""
    stmt = select(User).where(func.lower(col(User.email)) == normalize_email(email))
    return session.exec(stmt).first()


def hash_password(password: str) -> str:
    """Hash a password with werkzeug's default (scrypt)."""
    return generate_password_hash(password)


def check_password_strength(password: str) -> None:
    """Refuse passwords too short to resist guessing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Use at least {MIN_PASSWORD_LENGTH} characters.")


def create_user(
    session: Session, *, email: str, password: str, role: str = Role.VIEWER, name: str = ""
) -> User:
    """Create an account; raises AccountError if the e-mail is taken or the input is invalid."""
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    email = normalize_email(email)
    if "@" not in email or len(email) > 320:
        raise AccountError("Enter a valid e-mail address.")
    check_password_strength(password)
    if find_user(session, email) is not None:
        raise AccountError("An account with this e-mail address already exists.")
    user = User(email=email, name=name.strip(), password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, *, email: str, password: str) -> User | None:
    """Return the user when the e-mail and password match an active account, else None."""
    user = find_user(session, email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def change_password(session: Session, *, user: User, current: str, new: str) -> None:
    """Change a password after checking the current one."""
    if not check_password_hash(user.password_hash, current):
        raise AccountError("The current password is not right.")
    check_password_strength(new)
    user.password_hash = hash_password(new)
    session.add(user)
    session.flush()


def set_role(session: Session, *, user: User, role: str, by: User) -> None:
    """Change a user's role; an admin cannot demote themself (someone must stay admin)."""
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}.")
    if user.id == by.id and role != Role.ADMIN:
        raise AccountError("You cannot remove your own admin role; ask another admin.")
    user.role = role
    session.add(user)
    session.flush()


def init_app(app: Flask) -> None:
    """Bind Flask-Login to the app; expose role checks to templates.

    Login attempts are rate limited by Flask-Limiter (evidence/web/ratelimit.py).
    """
    login_manager.init_app(app)
    app.jinja_env.globals["has_role"] = has_role
