"""Accounts: registration, login, logout, password change, roles and the CLI.

Rate limits are in test_ratelimit.py.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from evidence.db import session_scope
from evidence.models import User
from evidence.web import auth
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"


def make_user(app: Flask, email: str, role: str, password: str = PASSWORD) -> int:
    """Create an account directly and return its id."""
    with app.app_context(), session_scope() as session:
        user = auth.create_user(session, email=email, password=password, role=role)
        assert user.id is not None
        return user.id


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    """Log in through the form."""
    page = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(page.text)},
    )


def register(client: FlaskClient, **fields: str) -> Any:
    """Register through the form."""
    page = client.get("/register")
    data = {"csrf_token": csrf_token(page.text), "password": PASSWORD, "confirm": PASSWORD}
    data.update(fields)
    return client.post("/register", data=data)


def user_row(app: Flask, email: str) -> User | None:
    """Return the stored account for an e-mail address."""
    with app.app_context(), session_scope() as session:
        return session.exec(select(User).where(User.email == email)).first()


def test_register_creates_a_viewer_unless_practitioner_declared(app: Flask) -> None:
    """Self-registration gives viewer; ticking the practitioner box gives practitioner."""
    viewer = register(app.test_client(), email="Reader@Example.org")
    assert viewer.status_code == 302
    practitioner = register(app.test_client(), email="doc@example.org", practitioner="y")
    assert practitioner.status_code == 302
    reader = user_row(app, "reader@example.org")
    doc = user_row(app, "doc@example.org")
    assert reader is not None and reader.role == "viewer"
    assert doc is not None and doc.role == "practitioner"
    # Stored as a salted modern hash, never the password itself.
    assert doc.password_hash.startswith(("scrypt:", "pbkdf2:"))
    assert PASSWORD not in doc.password_hash


def test_registration_logs_in_and_shows_the_account(app: Flask) -> None:
    """After registering, the header shows the e-mail, the role and a log-out button."""
    client = app.test_client()
    register(client, email="doc@example.org", practitioner="y")
    home = client.get("/").text
    assert "doc@example.org" in home and "practitioner" in home
    assert 'action="/logout"' in home


def test_register_refuses_bad_input_and_keeps_what_was_typed(app: Flask) -> None:
    """Short passwords, mismatches and taken addresses are explained beside the fields."""
    make_user(app, "taken@example.org", "viewer")
    client = app.test_client()
    short = register(client, email="new@example.org", password="short", confirm="short")
    assert short.status_code == 400 and "at least 10" in short.text
    assert 'value="new@example.org"' in short.text
    mismatch = register(client, email="new@example.org", confirm="something else entirely")
    assert "The passwords differ." in mismatch.text
    taken = register(client, email="TAKEN@example.org")
    assert taken.status_code == 400 and "already exists" in taken.text
    assert user_row(app, "new@example.org") is None


def test_login_failure_does_not_reveal_whether_the_email_exists(app: Flask) -> None:
    """A wrong password and an unknown address get the same answer."""
    make_user(app, "doc@example.org", "practitioner")
    wrong_password = login(app.test_client(), "doc@example.org", "not the password")
    unknown_email = login(app.test_client(), "nobody@example.org", "not the password")
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert "E-mail or password not recognised." in wrong_password.text
    assert "E-mail or password not recognised." in unknown_email.text
    strip = lambda html: html.replace("doc@example.org", "").replace("nobody@example.org", "")  # noqa: E731
    import re

    token = re.compile(r'name="csrf_token" type="hidden" value="[^"]+"')
    assert token.sub("", strip(wrong_password.text)) == token.sub("", strip(unknown_email.text))


def test_login_logout_and_next(app: Flask) -> None:
    """Logging in goes to the page asked for (same site only); logging out is a POST."""
    make_user(app, "doc@example.org", "practitioner")
    client = app.test_client()
    page = client.get("/login?next=/citations")
    response = client.post(
        "/login",
        data={
            "email": "DOC@example.org ",
            "password": PASSWORD,
            "next": "/citations",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/citations")
    home = client.get("/").text
    assert "doc@example.org" in home
    # GET does not log out; a POST without CSRF token is refused.
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert "doc@example.org" in client.get("/").text
    client.post("/logout", data={"csrf_token": csrf_token(home)})
    assert "doc@example.org" not in client.get("/").text


def test_login_next_never_leaves_the_site(app: Flask) -> None:
    """An attacker's next= link cannot send a user to another host after login."""
    make_user(app, "doc@example.org", "practitioner")
    client = app.test_client()
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        page = client.get("/login")
        response = client.post(
            "/login",
            data={
                "email": "doc@example.org",
                "password": PASSWORD,
                "next": target,
                "csrf_token": csrf_token(page.text),
            },
        )
        assert response.headers["Location"] == "/"
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})


def test_session_cookie_is_httponly(app: Flask) -> None:
    """The session cookie cannot be read by scripts."""
    make_user(app, "doc@example.org", "practitioner")
    response = login(app.test_client(), "doc@example.org")
    cookie = response.headers.get("Set-Cookie", "")
    assert "session=" in cookie and "HttpOnly" in cookie


def test_change_password_logs_out_other_sessions(app: Flask) -> None:
    """A new password works, the old one stops working, and other sessions end."""
    make_user(app, "doc@example.org", "practitioner")
    here, elsewhere = app.test_client(), app.test_client()
    login(here, "doc@example.org")
    login(elsewhere, "doc@example.org")
    page = here.get("/account/password")
    wrong = here.post(
        "/account/password",
        data={
            "current": "not it at all",
            "new": "a brand new passphrase",
            "confirm": "a brand new passphrase",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert wrong.status_code == 400 and "current password is not right" in wrong.text
    done = here.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "new": "a brand new passphrase",
            "confirm": "a brand new passphrase",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert done.status_code == 302
    assert "doc@example.org" in here.get("/").text
    assert "doc@example.org" not in elsewhere.get("/").text
    assert login(app.test_client(), "doc@example.org").status_code == 401
    assert login(app.test_client(), "doc@example.org", "a brand new passphrase").status_code == 302


def test_password_page_needs_login(app: Flask) -> None:
    """Anonymous visitors are sent to log in."""
    response = app.test_client().get("/account/password")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]


def test_admin_changes_roles_and_others_cannot(app: Flask) -> None:
    """Only admins list users and change roles; an admin cannot demote themself."""
    make_user(app, "admin@example.org", "admin")
    doc_id = make_user(app, "doc@example.org", "viewer")
    curator = app.test_client()
    make_user(app, "curator@example.org", "curator")
    login(curator, "curator@example.org")
    assert curator.get("/admin/users").status_code == 403
    admin = app.test_client()
    login(admin, "admin@example.org")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and "doc@example.org" in page.text
    token = csrf_token(page.text)
    response = admin.post(
        f"/admin/users/{doc_id}/role", data={f"u{doc_id}-role": "practitioner", "csrf_token": token}
    )
    assert response.status_code == 303
    assert (row := user_row(app, "doc@example.org")) is not None and row.role == "practitioner"
    admin_row = user_row(app, "admin@example.org")
    assert admin_row is not None
    admin.post(
        f"/admin/users/{admin_row.id}/role",
        data={f"u{admin_row.id}-role": "viewer", "csrf_token": token},
    )
    assert (row := user_row(app, "admin@example.org")) is not None and row.role == "admin"
    assert "cannot remove your own admin role" in admin.get("/admin/users").text


def test_cli_creates_the_first_admin(app: Flask) -> None:
    """`evidence users create EMAIL --role admin --password-stdin` makes a working account."""
    from evidence.cli import main

    runner = app.test_cli_runner()
    result = runner.invoke(
        main,
        ["users", "create", "boss@example.org", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "created boss@example.org (admin)" in result.output
    assert login(app.test_client(), "boss@example.org").status_code == 302
    again = runner.invoke(
        main, ["users", "create", "boss@example.org", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert again.exit_code != 0 and "already exists" in again.output
    prompted = runner.invoke(
        main,
        ["users", "create", "doc@example.org", "--role", "practitioner"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert prompted.exit_code == 0, prompted.output
    assert (row := user_row(app, "doc@example.org")) is not None and row.role == "practitioner"
    promoted = runner.invoke(main, ["users", "set-role", "DOC@example.org", "curator"])
    assert promoted.exit_code == 0 and "is now curator" in promoted.output
    assert (row := user_row(app, "doc@example.org")) is not None and row.role == "curator"
    short = runner.invoke(
        main, ["users", "create", "x@example.org", "--password-stdin"], input="abc\n"
    )
    assert short.exit_code != 0 and "at least 10" in short.output


def test_api_paths_get_401_json(app: Flask) -> None:
    """roles_required answers anonymous API calls with 401 JSON, not a login redirect."""
    from evidence.web.auth import roles_required

    @roles_required("curator")
    def write() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_url_rule("/api/test-write", "test_write", write, methods=["POST"])
    app.config["WTF_CSRF_ENABLED"] = False
    response = app.test_client().post("/api/test-write")
    assert response.status_code == 401 and response.json == {
        "error": "unauthorized",
        "message": "Log in or send an API token.",
    }
