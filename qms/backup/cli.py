"""`qms backup DEST` and `qms restore SRC [--force]`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask, current_app, has_app_context
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _

from qms.backup import service
from qms.backup.service import BackupError, BackupMade, RestoreReport

KINDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _locale() -> str:
    from qms.cli import _cli_locale  # here: qms.cli imports this module while it loads

    return _cli_locale()


def _refuse(err: BackupError) -> None:
    click.echo(str(err), err=True)
    sys.exit(2 if err.refused else 1)


@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@with_appcontext
def backup(dest: Path) -> None:
    """Back up the database, the keys, the trail checkpoints and the attachments into the
    new or empty folder DEST, while the application keeps running."""
    with force_locale(_locale()):
        try:
            made = service.make_backup(dest)
        except BackupError as err:
            _refuse(err)
            return
        _echo_backup(made)


def _echo_backup(made: BackupMade) -> None:
    manifest, snapshot = made.manifest, made.manifest.snapshot
    click.echo(
        _(
            "Backup written to %(path)s: %(kind)s database (schema %(revision)s) with "
            "%(documents)s documents and %(entries)s audit-trail entries (the last is entry "
            "%(seq)s), %(attachments)s attachment files; %(files)s files, %(size)s MB in all.",
            path=str(made.path),
            kind=KINDS[manifest.database_kind],
            revision=snapshot.alembic_revision or "-",
            documents=snapshot.counts["documents"],
            entries=snapshot.counts["trail_entries"],
            seq=snapshot.trail_seq,
            attachments=made.attachments,
            files=len(manifest.files),
            size=f"{made.size / 1_000_000:.1f}",
        )
    )
    click.echo(_("The search index is not in the backup: qms restore rebuilds it."))
    if manifest.trail_key == "environment":
        click.echo(
            _(
                "The trail key is set by QMS_TRAIL_KEY and is not in the backup: keep it "
                "safe apart from the backup; a restore needs it."
            )
        )
    elif manifest.trail_key == "in_backup":
        click.echo(
            _(
                "The backup holds the trail key: keep it where those who can change the "
                "database cannot reach it."
            )
        )


@contextmanager
def _restore_context() -> Iterator[Flask]:
    """The application to restore into. Production refuses to start without the trail
    key, which a new server gets from the backup itself: so its checks wait for the restore."""
    if has_app_context():
        yield current_app._get_current_object()  # type: ignore[attr-defined]
        return
    import os

    from qms import create_app
    from qms.config import Config, ProdConfig

    class RestoringConfig(ProdConfig):
        """Production settings without the start-up refusals: the keys come with the backup."""

        def __init__(self) -> None:
            Config.__init__(self)

    production = os.environ.get("QMS_ENV") == "production"
    app = create_app(RestoringConfig()) if production else create_app()
    try:
        with app.app_context():
            yield app
    finally:
        app.extensions["qms.engine"].dispose()
        if "qms.search.engine" in app.extensions:  # its searchers hold index files open
            app.extensions["qms.search.engine"].close_all()


@click.command("restore")
@click.argument("src", type=click.Path(path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Replace the database and files of a target that already holds records.",
)
def restore(src: Path, force: bool) -> None:
    """Restore the backup in folder SRC into the configured database and data folder:
    every file is checked first; the trail, signatures and search index after."""
    with _restore_context(), force_locale(_locale()):
        try:
            report = service.restore_backup(src, force=force)
        except BackupError as err:
            _refuse(err)
            return
        if not _echo_restore(src, report):
            sys.exit(1)


def _echo_restore(src: Path, report: RestoreReport) -> bool:
    manifest, said = report.manifest, report.manifest.snapshot
    click.echo(
        _(
            "Backup %(path)s checked: its %(files)s files match their size and SHA-256 in "
            "the manifest (made %(made)s by QMS %(version)s).",
            path=str(src),
            files=len(manifest.files),
            made=manifest.created_at,
            version=manifest.app_version,
        )
    )
    click.echo(
        _(
            "Database restored (%(kind)s, schema %(revision)s); keys, trail checkpoints and "
            "%(attachments)s attachment files restored to the data folder.",
            kind=KINDS[report.database_kind],
            revision=said.alembic_revision or "-",
            attachments=report.attachments,
        )
    )
    if report.upgraded_to:
        click.echo(
            _(
                "Database upgraded from schema %(old)s to %(new)s.",
                old=said.alembic_revision,
                new=report.upgraded_to,
            )
        )
    restored, records = report.restored, report.records
    assert restored is not None  # noqa: S101 - restore_backup sets both
    assert records is not None  # noqa: S101
    documents = restored.counts["documents"]
    if report.documents_match:
        click.echo(_("Documents: %(count)s, as in the backup.", count=documents))
    else:
        click.echo(
            _(
                "Documents: %(count)s, but the backup's manifest says %(expected)s.",
                count=documents,
                expected=said.counts["documents"],
            ),
            err=True,
        )
    trail = records.trail
    if report.head_matches:
        click.echo(
            _(
                "Audit trail: %(entries)s entries; the last, entry %(seq)s with hash "
                "%(hash)s…, is the one the backup's manifest names.",
                entries=trail.entries,
                seq=trail.last_seq,
                hash=trail.last_hash[:16],
            )
        )
    else:
        click.echo(
            _(
                "Audit trail: the last entry is %(seq)s with hash %(hash)s…, but the backup's "
                "manifest names entry %(expected_seq)s with hash %(expected_hash)s….",
                seq=trail.last_seq,
                hash=trail.last_hash[:16],
                expected_seq=said.trail_seq,
                expected_hash=said.trail_hash[:16],
            ),
            err=True,
        )
    for message in records.problem_messages():
        click.echo(message, err=True)
    if records.intact:
        click.echo(
            _(
                "Audit trail verified with the trail key and its checkpoints; %(count)s "
                "signatures verified, each matches what it signed.",
                count=records.signatures,
            )
        )
    else:
        click.echo(
            _(
                "Audit trail NOT intact: %(trail)s problems in the trail, %(signatures)s "
                "invalid signatures.",
                trail=trail.count,
                signatures=len(records.signature_problems),
            ),
            err=True,
        )
    if report.index_problems:
        for problem in report.index_problems:
            click.echo(_("Search index: %(problem)s", problem=problem), err=True)
    else:
        click.echo(
            _(
                "Search index rebuilt (%(entries)s entries) and checked: sound.",
                entries=report.index_entries,
            )
        )
    if report.verified:
        click.echo(_("Restore complete: everything above was verified."))
        return True
    click.echo(
        _(
            "Restore finished, but the checks above found problems: do not put the system "
            "back into use until they are resolved."
        ),
        err=True,
    )
    return False


commands = [backup, restore]
