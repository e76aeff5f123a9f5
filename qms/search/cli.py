"""`qms reindex` and `qms search`."""

from __future__ import annotations

import json
import sys
from typing import cast

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from qms.auth import service as auth
from qms.auth.models import User
from qms.auth.permissions import Permission, Role, permissions_for
from qms.db import get_session
from qms.search import service


@click.command("reindex")
@click.option("--check", is_flag=True,
              help="Only check and repair: clean up after an interrupted rebuild, re-index "
                   "revisions whose content hash or state differs, and search the index the "
                   "way the server does (rebuilt when that fails).")
@with_appcontext
def reindex(check: bool) -> None:
    """Rebuild the search index from the database and swap it in (searches go on)."""
    session = get_session()
    if check:
        report = service.check(session)
        for what in report.debris:
            click.echo(f"removed {what}, left by an interrupted rebuild")
        for which, found in report.reconciliation.items():
            wrong = len(found.stale) + len(found.missing) + len(found.extra)
            click.echo(f"{which}: {len(found.stale)} stale, {len(found.missing)} missing, "
                       f"{len(found.extra)} extra — " + ("repaired" if wrong else "in step"))
        for problem in report.problems:
            click.echo(f"searching as the server does: {problem}")
        if report.problems and not report.remaining:
            click.echo("index rebuilt — searches as the server runs them now succeed")
        for problem in report.remaining:
            click.echo(f"error: still wrong after the rebuild: {problem}", err=True)
        if report.remaining:
            sys.exit(1)
        if not report.debris and not report.problems and not any(
                f.stale or f.missing or f.extra for f in report.reconciliation.values()):
            click.echo("index is sound: nothing to repair")
        return
    total = service.rebuild_size(session)
    session.close()
    with click.progressbar(length=total, label="indexing revisions") as bar:
        gen = service.rebuild(progress=bar.update)
    click.echo(f"index {gen} is in use ({total} entries)")


@click.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of hits.")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--all-revisions", is_flag=True, help="Include superseded and obsolete revisions.")
@click.option("--user", "username", default=None,
              help="Search as this user (default: document control sees everything).")
@with_appcontext
def search(query: tuple[str, ...], as_json: bool, limit: int, all_revisions: bool,
           username: str | None) -> None:
    """Search the controlled documents from the command line."""
    session = get_session()
    user = _cli_user(session, username)
    result = service.search(session, user, " ".join(query), per_page=limit,
                            all_revisions=all_revisions)
    if result.refused is not None:
        click.echo(f"error: {result.refused}", err=True)
        sys.exit(2)
    if as_json:
        items = [h.as_json() for h in result.hits]
        for item in items:
            item["snippet"] = service.plain_snippet(item["snippet"])
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    for note in result.notes:
        click.echo(str(note), err=True)
    if not result.hits:
        hint = f" Did you mean: {', '.join(result.did_you_mean)}?" if result.did_you_mean else ""
        click.echo("No documents found." + hint)
        return
    for h in result.hits:
        mark = "" if not h.marked else f"  [{h.status.upper()}]"
        click.echo(f"{h.number}  {h.revision}  {h.title}{mark}  ({h.kind}, {h.department}, "
                   f"{h.effective_date or '-'})")
        click.echo("    " + service.plain_snippet(str(h.snippet)))
    click.echo(f"{result.total} in all")


class _Operator:
    """The person at the console: document control's rights (sees every revision)."""

    id = 0

    def can(self, permission: Permission) -> bool:
        return permission in permissions_for([Role.QUALITY_CLERK])


def _cli_user(session: Session, username: str | None) -> User:
    if username:
        user = auth.user_by_username(session, username)
        if user is None:
            click.echo(f"error: no user {username}", err=True)
            sys.exit(2)
        return user
    return cast(User, _Operator())


commands = [reindex, search]
