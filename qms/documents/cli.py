"""`qms activate-due`: make revisions issued for today effective (run daily from cron;
the app also does it on the first request of each day)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from qms.db import get_session
from qms.documents import service


@click.command("activate-due")
@with_appcontext
def activate_due() -> None:
    session = get_session()
    done = service.activate_due(session)
    session.commit()
    for revision in done:
        click.echo(f"{revision.document.number} {revision.label} is now effective")
    click.echo(f"{len(done)} revision(s) made effective")


commands = [activate_due]
