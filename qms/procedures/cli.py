"""`qms import DIR`, and the import of the document set on the first `qms init`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from qms.db import get_session
from qms.documents.models import Document
from qms.procedures import importer


def run_import(session: Session, directory: Path) -> importer.ImportReport:
    files = importer.source_files(directory)
    with click.progressbar(length=len(files), label="Importing documents",
                           file=sys.stderr) as bar:
        report = importer.import_directory(
            session, directory, on_file=lambda _r: bar.update(1),
            on_index=lambda: click.echo(" updating the search index …", err=True))
    for line in importer.iter_results(report):
        click.echo(line)
    click.echo(f"{len(report.results)} files: {report.summary()}")
    return report


@click.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@with_appcontext
def import_command(directory: Path) -> None:
    """Import the documents of DIRECTORY (Markdown with YAML front matter). Safe to repeat:
    unchanged files are left alone, a changed file becomes a new draft revision."""
    report = run_import(get_session(), directory)
    if report.errors:
        sys.exit(1)


def import_on_first_start(session: Session, documents_dir: str | None) -> None:
    """`qms init --documents DIR`: import the set when the database holds no documents."""
    if not documents_dir:
        return
    if session.scalar(sa.select(sa.func.count()).select_from(Document)):
        click.echo(f"documents already imported; run `qms import {documents_dir}` "
                   "to bring in changed files")
        return
    run_import(session, Path(documents_dir))


def _register_init_hook() -> None:
    from qms.cli import INIT_HOOKS

    if import_on_first_start not in INIT_HOOKS:
        INIT_HOOKS.append(import_on_first_start)


# `commands` first: qms.cli may import this module while it is still being imported here
commands = [import_command]
_register_init_hook()
