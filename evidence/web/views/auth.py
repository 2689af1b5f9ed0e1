"""Accounts: register, log in, log out, change password, and user management for admins."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_limiter import RequestLimit
from flask_login import login_user, logout_user
from sqlmodel import col, select
from werkzeug.wrappers import Response

from evidence.db import get_session
from evidence.models import ROLES, OutcomeReport, Role, User
from evidence.web import auth, ratelimit
from evidence.web.auth import AccountError, current_account, roles_required
from evidence.web.forms import ChangePasswordForm, LoginForm, LogoutForm, RegisterForm, RoleForm

bp = Blueprint("auth", __name__)

FAILED_LOGIN = "E-mail or password not recognised."


def init_app(app: Flask) -> None:
    """Bind Flask-Login and give every template the log-out form."""
    auth.init_app(app)

    @app.context_processor
    def _logout_form() -> dict[str, Any]:
        return {"logout_form": LogoutForm}


def _minutes(seconds: int) -> str:
    """Return a wait as whole minutes, rounded up."""
    minutes = (seconds + 59) // 60
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def _safe_next(target: str | None) -> str:
    """Return a same-site path to go to after logging in (never another host)."""
    if target:
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith("/")
            and not target.startswith("//")
            and "\\" not in target
        ):
            return target
    return url_for("main.home")


def _too_many(template: str, form_class: type, message: str) -> Callable[[RequestLimit], Any]:
    """Return an on_breach handler: the page again, with what was typed, a message and 429."""

    def breach(limit: RequestLimit) -> Any:
        wait = max(1, math.ceil(limit.reset_at - time.time()))
        flash(message.format(wait=_minutes(wait)), "error")
        page = render_template(template, form=form_class())
        return make_response(page, 429, {"Retry-After": str(wait)})

    return breach


@bp.route("/register", methods=["GET", "POST"])
# Each attempt counts, so one address cannot create accounts (or probe e-mails) in bulk.
@ratelimit.limited(
    "REGISTER_LIMIT",
    methods=["POST"],
    scope="register",
    on_breach=_too_many(
        "auth/register.html", RegisterForm, "Too many sign-ups from here. Try again in {wait}."
    ),
)
def register() -> Any:
    """Create an account: a viewer, or a practitioner when the person says they treat patients."""
    if current_account() is not None:
        return redirect(url_for("main.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        session = get_session()
        role = Role.PRACTITIONER if form.practitioner.data else Role.VIEWER
        try:
            user = auth.create_user(
                session,
                email=form.email.data or "",
                password=form.password.data or "",
                role=role,
                name=form.name.data or "",
            )
        except AccountError as exc:
            session.rollback()
            form.email.errors = [*form.email.errors, str(exc)]
        else:
            session.commit()
            login_user(auth.Account.from_user(user))
            flash(f"Welcome. Your account is a {role} account.", "success")
            return redirect(url_for("main.home"))
    status = 400 if form.errors else 200
    return render_template("auth/register.html", form=form), status


_LOGIN_BREACH = _too_many(
    "auth/login.html", LoginForm, "Too many failed attempts. Try again in {wait}."
)


@bp.route("/login", methods=["GET", "POST"])
# Failed logins (401) count per address and e-mail pair, with tiers that back off, and per
# address across e-mails; the owner logging in from elsewhere is never held up.
@ratelimit.limited(
    "LOGIN_PAIR_LIMIT",
    key_func=ratelimit.login_pair_key,
    methods=["POST"],
    scope="login-pair",
    deduct_when=ratelimit.failed_login,
    on_breach=_LOGIN_BREACH,
)
@ratelimit.limited(
    "LOGIN_ADDRESS_LIMIT",
    methods=["POST"],
    scope="login-address",
    deduct_when=ratelimit.failed_login,
    on_breach=_LOGIN_BREACH,
)
def login() -> Any:
    """Log in; a failure never says whether the e-mail address has an account."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        email = auth.normalize_email(form.email.data or "")
        user = auth.authenticate(get_session(), email=email, password=form.password.data or "")
        if user is None:
            form.password.errors = [FAILED_LOGIN]
            return render_template("auth/login.html", form=form), 401
        login_user(auth.Account.from_user(user))
        return redirect(_safe_next(form.next.data))
    status = 400 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout() -> Response:
    """Log out (POST with a CSRF token); the account's earlier cookies stop working too."""
    account = current_account()
    if account is not None:
        session = get_session()
        auth.end_sessions(session, account.id)
        session.commit()
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("main.home"))


@bp.route("/account/password", methods=["GET", "POST"])
@roles_required(*ROLES)
def change_password() -> Any:
    """Change one's own password; other sessions are logged out by the new hash."""
    account = current_account()
    assert account is not None
    form = ChangePasswordForm()
    if form.validate_on_submit():
        session = get_session()
        user = session.get(User, account.id)
        if user is None:
            abort(404)
        try:
            auth.change_password(
                session, user=user, current=form.current.data or "", new=form.new.data or ""
            )
        except AccountError as exc:
            session.rollback()
            form.current.errors = [*form.current.errors, str(exc)]
        else:
            session.commit()
            # Re-issue this session's id so it survives the fingerprint change.
            login_user(auth.Account.from_user(user))
            flash("Your password is changed.", "success")
            return redirect(url_for("main.home"))
    status = 400 if form.errors else 200
    return render_template("auth/password.html", form=form), status


@bp.get("/admin/users")
@roles_required(Role.ADMIN)
def users() -> str:
    """List the accounts with their roles and report counts."""
    session = get_session()
    accounts = list(session.exec(select(User).order_by(col(User.created_at), col(User.id))))
    counts: dict[int, int] = {}
    for report in session.exec(
        select(OutcomeReport).where(col(OutcomeReport.reporter_id).is_not(None))
    ):
        assert report.reporter_id is not None
        counts[report.reporter_id] = counts.get(report.reporter_id, 0) + 1
    forms = {u.id: RoleForm(formdata=None, role=u.role, prefix=f"u{u.id}") for u in accounts}
    return render_template("auth/users.html", users=accounts, forms=forms, counts=counts)


@bp.post("/admin/users/<int:user_id>/role")
@roles_required(Role.ADMIN)
def set_role(user_id: int) -> Any:
    """Change one user's role."""
    session = get_session()
    user = session.get(User, user_id)
    if user is None:
        abort(404, description="No such account.")
    form = RoleForm(prefix=f"u{user_id}")
    account = current_account()
    assert account is not None
    admin = session.get(User, account.id)
    assert admin is not None
    if not form.validate_on_submit():
        flash("Choose one of the roles.", "error")
        return redirect(url_for("auth.users")), 303
    try:
        auth.set_role(session, user=user, role=form.role.data or "", by=admin)
    except AccountError as exc:
        session.rollback()
        flash(str(exc), "error")
    else:
        session.commit()
        flash(f"{user.email} is now a {user.role}.", "success")
    return redirect(url_for("auth.users")), 303
