"""The account page's API tokens: practitioners create and revoke them; each is shown once."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from evidence.db import get_session
from evidence.models import ROLES, User
from evidence.web import api, ratelimit
from evidence.web.auth import current_account, roles_required

bp = Blueprint("tokens", __name__)


def _account_key() -> str:
    """Key token creation by account (roles_required has checked the login)."""
    account = current_account()
    return f"account:{account.id if account else request.remote_addr}"


class TokenForm(FlaskForm):
    """Name a new token (e.g. the script or machine that will use it)."""

    name = StringField(
        "Token name", validators=[DataRequired(), Length(max=200)], description="e.g. clinic laptop"
    )
    submit = SubmitField("Create token")


class RevokeForm(FlaskForm):
    """Revoke one token (the CSRF token is the only field)."""

    submit = SubmitField("Revoke")


def _page(form: TokenForm, *, new_token: str | None = None, status: int = 200) -> Any:
    """Render the token page for the logged-in account."""
    account = current_account()
    assert account is not None
    tokens = api.user_tokens(get_session(), user_id=account.id)
    may_write = account.has_role(*api.WRITE_ROLES)
    return (
        render_template(
            "account/tokens.html",
            form=form,
            revoke_form=RevokeForm(),
            tokens=tokens,
            new_token=new_token,
            may_write=may_write,
        ),
        status,
    )


@bp.get("/account/tokens")
@roles_required(*ROLES)
def index() -> Any:
    """List the account's tokens, with a form to create one (practitioners)."""
    return _page(TokenForm())


@bp.post("/account/tokens")
@roles_required(*api.WRITE_ROLES)
@ratelimit.limited("TOKEN_LIMIT", key_func=_account_key, scope="tokens")
def create() -> Any:
    """Create a token and show it once: only its hash is kept."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    account = current_account()
    assert account is not None
    session = get_session()
    user = session.get(User, account.id)
    if user is None:
        abort(404)
    _token, raw = api.create_token(session, user=user, name=form.name.data or "")
    session.commit()
    return _page(TokenForm(formdata=None), new_token=raw, status=201)


@bp.post("/account/tokens/<int:token_id>/revoke")
@roles_required(*ROLES)
def revoke(token_id: int) -> Any:
    """Revoke one of the account's own tokens (any role: a demoted user may still revoke)."""
    if not RevokeForm().validate_on_submit():
        abort(400, description="The form expired: reload the page and try again.")
    account = current_account()
    assert account is not None
    session = get_session()
    if not api.revoke_token(session, token_id=token_id, user_id=account.id):
        abort(404, description="You have no live token with that id.")
    session.commit()
    flash("The token is revoked: requests using it are now refused.", "success")
    return redirect(url_for("tokens.index"))
