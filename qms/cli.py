"""The `qms` command: init, serve, db, user, verify-trail (features add more)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NoReturn

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.orm import Session

from qms import create_app
from qms.auth import service as auth
from qms.auth.models import User
from qms.auth.permissions import Role
from qms.db import get_session, utcnow
from qms.errors import DomainError


def _app_factory() -> Flask:
    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_app_factory,
    add_default_commands=True,
    load_dotenv=False,
    set_debug_flag=False,
)
def main() -> None:
    """QMS — document control and quality management."""


def _fail(err: DomainError) -> NoReturn:
    click.echo(f"error: {err.message}", err=True)
    sys.exit(2)


# -- database ---------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.option("--revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Migrate the database to the latest schema."""
    from qms.migrate import upgrade

    upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo("database is at " + revision)
    if revision == "head":
        _fix_trail_key_boundary()


def _fix_trail_key_boundary() -> None:
    """Creates the trail key on first use (not in production) and writes a checkpoint at
    once, so that entries written before the keyed chain are known from the start."""
    from qms.trail.service import write_checkpoint

    write_checkpoint(get_session())


@db.command("current")
@with_appcontext
def db_current() -> None:
    from qms.migrate import current

    current(current_app.config["DATABASE_URL"])


@main.command()
@click.option(
    "--documents",
    "documents_dir",
    default=None,
    help="Import this folder of documents on first start.",
)
@with_appcontext
def init(documents_dir: str | None) -> None:
    """Migrate, create demo departments and users (first run), import the documents."""
    from qms.demo import create_demo_data
    from qms.migrate import upgrade

    upgrade(current_app.config["DATABASE_URL"])
    _fix_trail_key_boundary()
    session = get_session()
    password = create_demo_data(session)
    session.commit()
    if password:
        from qms.demo import DEMO_USERS

        click.echo("Demo users created: " + ", ".join(u[0] for u in DEMO_USERS))
        click.echo(f"Their password (shown once): {password}")
    for hook in INIT_HOOKS:
        hook(session, documents_dir)


INIT_HOOKS: list[Callable[[Session, str | None], None]] = []


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def serve(host: str, port: int) -> None:
    """Serve the app (development server; use gunicorn in production)."""
    from werkzeug.serving import run_simple

    # run_simple, not app.run: Flask ignores app.run() inside its own CLI.
    click.echo(f"Serving QMS on http://{host}:{port}/ (Ctrl+C to stop)")
    run_simple(host, port, create_app(), threaded=True, use_reloader=False)


# -- trail ------------------------------------------------------------------------------


def _cli_locale() -> str:
    """The language of the person at the terminal: LC_ALL, LC_MESSAGES or LANG."""
    import os

    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value.lower().startswith("en"):
            return "en"
        if value.lower().startswith("zh"):
            return "zh_CN"
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


@main.command("verify-trail")
@with_appcontext
def verify_trail() -> None:
    """Check the audit trail (keyed chain, head, checkpoints) and every signature against
    the content it signed; exit 1 naming each problem (entry, time, signer)."""
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from qms.auth.signatures import check_signatures
    from qms.distribution.integrity import periodic_review_content
    from qms.documents.integrity import revision_content
    from qms.reviews.integrity import review_plan_content, review_report_content
    from qms.trail import service as trail
    from qms.trail import verification
    from qms.trail.checkpoints import checkpoint_path
    from qms.trail.keys import current_key

    session = get_session()
    with force_locale(_cli_locale()):
        key = current_key()
        report = trail.verify_trail(session, key, checkpoint_path(trail.data_dir()))
        for finding in report.findings:
            click.echo(finding.message(), err=True)
        if report.count > len(report.findings):
            more = report.count - len(report.findings)
            click.echo(_("… and %(count)s more problems in the trail.", count=more), err=True)
        hashers = {
            "revision": revision_content,
            "document_review": periodic_review_content,
            "review_plan": review_plan_content,
            "review_report": review_report_content,
        }
        bad_signatures = 0
        for problem in check_signatures(session, hashers):
            bad_signatures += 1
            click.echo(problem.message(), err=True)
        verification.save(
            trail.data_dir(),
            verification.Verification(
                at=datetime.now(UTC),
                intact=report.intact and not bad_signatures,
                entries=report.entries,
                last_seq=report.last_seq,
                trail_problems=report.count,
                bad_signatures=bad_signatures,
            ),
        )
        if report.intact and not bad_signatures:
            seq = trail.write_checkpoint(session)
            click.echo(
                _(
                    "Audit trail intact: %(entries)s entries, every signature matches what "
                    "it signed; checkpoint of entry %(seq)s written to %(file)s.",
                    entries=report.entries,
                    seq=seq,
                    file=str(report.checkpoint_file),
                )
            )
            return
        click.echo(
            _(
                "Audit trail NOT intact: %(trail)s problems in the trail, %(signatures)s "
                "invalid signatures.",
                trail=report.count,
                signatures=bad_signatures,
            ),
            err=True,
        )
    sys.exit(1)


@main.group("trail")
def trail_group() -> None:
    """The audit trail's key and checkpoints."""


@trail_group.command("checkpoint")
@with_appcontext
def trail_checkpoint() -> None:
    """Append a signed checkpoint of the trail's head to the checkpoint file (cron, backups)."""
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from qms.trail import service as trail
    from qms.trail.checkpoints import checkpoint_path

    with force_locale(_cli_locale()):
        seq = trail.write_checkpoint(get_session())
        path = checkpoint_path(trail.data_dir())
        if seq:
            click.echo(
                _("Checkpoint of entry %(seq)s written to %(file)s.", seq=seq, file=str(path))
            )
        else:
            click.echo(_("The audit trail is empty: no checkpoint written."))


@trail_group.command("new-key", with_appcontext=False)
@click.option(
    "--print", "print_only", is_flag=True, help="Print a new key (for QMS_TRAIL_KEY) instead."
)
def trail_new_key(print_only: bool) -> None:
    """Create the trail key file in the data directory (readable by its owner only)."""
    import os
    import secrets
    from pathlib import Path

    from qms.config import PROJECT_ROOT
    from qms.trail.keys import create_key_file, key_path

    if print_only:
        click.echo(secrets.token_hex(32))
        return
    path = key_path(Path(os.environ.get("QMS_DATA_DIR") or PROJECT_ROOT / "instance"))
    if path.exists():
        click.echo(f"error: {path} exists already; a new key would break the trail", err=True)
        sys.exit(2)
    create_key_file(path)
    click.echo(f"trail key written to {path} (mode 0600); keep a copy apart from backups")


# -- users ------------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Manage users."""


def _user(session: Session, username: str) -> User:
    found = auth.user_by_username(session, username)
    if found is None:
        click.echo(f"error: no user {username}", err=True)
        sys.exit(2)
    return found


ROLE_CHOICE = click.Choice([str(r) for r in Role])


@user.command("create")
@click.argument("username")
@click.option("--name", "display_name", default="")
@click.option("--role", "roles", multiple=True, type=ROLE_CHOICE, default=["staff"])
@click.option("--department", default="")
@click.option("--email", default="")
@click.password_option()
@with_appcontext
def user_create(
    username: str,
    display_name: str,
    roles: tuple[str, ...],
    department: str,
    email: str,
    password: str,
) -> None:
    session = get_session()
    dept = auth.department_by_code(session, department) if department else None
    try:
        auth.create_user(
            session,
            None,
            username=username,
            display_name=display_name,
            password=password,
            roles=[Role(r) for r in roles],
            department=dept,
            email=email,
        )
    except DomainError as err:
        _fail(err)
    session.commit()
    click.echo(f"created {username}")


@user.command("list")
@with_appcontext
def user_list() -> None:
    for u in get_session().scalars(sa.select(User).order_by(User.username)):
        state = "active" if u.active else "disabled"
        if u.is_locked():
            state = "locked"
        dept = u.department.code if u.department else "-"
        click.echo(f"{u.username}\t{u.display_name}\t{dept}\t{','.join(sorted(u.roles))}\t{state}")


@user.command("roles")
@click.argument("username")
@click.option("--add", multiple=True, type=ROLE_CHOICE)
@click.option("--remove", multiple=True, type=ROLE_CHOICE)
@click.option("--reason", default="")
@with_appcontext
def user_roles(username: str, add: tuple[str, ...], remove: tuple[str, ...], reason: str) -> None:
    session = get_session()
    u = _user(session, username)
    roles = (set(u.roles) | {Role(r) for r in add}) - {Role(r) for r in remove}
    try:
        auth.update_user(
            session,
            None,
            u,
            display_name=u.display_name,
            email=u.email,
            department=u.department,
            roles=roles,
            active=u.active,
            reason=reason,
        )
    except DomainError as err:
        _fail(err)
    session.commit()
    click.echo(f"{username}: {','.join(sorted(roles))}")


@user.command("password")
@click.argument("username")
@click.password_option()
@with_appcontext
def user_password(username: str, password: str) -> None:
    session = get_session()
    try:
        auth.set_password(session, None, _user(session, username), password)
    except DomainError as err:
        _fail(err)
    session.commit()
    click.echo("password set")


@user.command("deactivate")
@click.argument("username")
@click.option("--reason", default="")
@with_appcontext
def user_deactivate(username: str, reason: str) -> None:
    _set_active(username, False, reason)


@user.command("activate")
@click.argument("username")
@click.option("--reason", default="")
@with_appcontext
def user_activate(username: str, reason: str) -> None:
    _set_active(username, True, reason)


def _set_active(username: str, active: bool, reason: str) -> None:
    session = get_session()
    u = _user(session, username)
    auth.update_user(
        session,
        None,
        u,
        display_name=u.display_name,
        email=u.email,
        department=u.department,
        roles=u.roles,
        active=active,
        reason=reason,
    )
    session.commit()
    click.echo(f"{username}: {'active' if active else 'disabled'}")


@user.command("unlock")
@click.argument("username")
@with_appcontext
def user_unlock(username: str) -> None:
    session = get_session()
    u = _user(session, username)
    auth.unlock(session, None, u)
    session.commit()
    click.echo(f"{username}: unlocked")


@user.command("token")
@click.argument("username")
@click.option("--name", "--label", "name", default="cli", help="What the token is for.")
@click.option("--days", type=click.IntRange(1, 366), default=None, help="Days until it expires.")
@with_appcontext
def user_token(username: str, name: str, days: int | None) -> None:
    """Create a named, expiring API token and print it once."""
    session = get_session()
    u = _user(session, username)
    try:
        _row, token = auth.issue_token(
            session, None, u, name, days=days or current_app.config["TOKEN_DAYS"]
        )
    except DomainError as err:
        _fail(err)
    session.commit()
    # Only the token on the output, so that a script can take it as it is.
    click.echo(token)


@user.command("tokens")
@click.argument("username")
@with_appcontext
def user_tokens(username: str) -> None:
    """List a user's API tokens: id, name, created, expires, state."""
    session = get_session()
    now = utcnow()
    for t in auth.tokens_of(session, _user(session, username)):
        expires = f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "never"
        click.echo(f"{t.id}\t{t.name}\t{t.created_at:%Y-%m-%d}\t{expires}\t{t.state(now)}")


@user.command("revoke-token")
@click.argument("token_id", type=int)
@with_appcontext
def user_revoke_token(token_id: int) -> None:
    """Revoke an API token by its id (see `qms user tokens`)."""
    session = get_session()
    try:
        row = auth.get_token(session, token_id)
        auth.revoke_token(session, None, row, "revoked with the CLI")
    except DomainError as err:
        _fail(err)
    session.commit()
    click.echo(f"token #{row.id} {row.name} of {row.user.username}: revoked")


def _register_feature_commands() -> None:
    """Each feature may offer qms/<feature>/cli.py with a list `commands`."""
    import importlib
    import importlib.util

    from qms import FEATURES

    for name in FEATURES:
        if importlib.util.find_spec(f"qms.{name}.cli") is not None:
            for command in importlib.import_module(f"qms.{name}.cli").commands:
                main.add_command(command)


_register_feature_commands()
