"""`qms worker [--once] [--interval SECONDS]`."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--once", is_flag=True, help="Run one round and exit.")
@click.option("--interval", default=5.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between rounds.")
@with_appcontext
def worker(once: bool, interval: float) -> None:
    """Send mail, update the search index and run the daily jobs (QMS_WORKER=1 in the web
    process leaves them to this). Stops cleanly on SIGTERM or SIGINT."""
    from qms.worker.jobs import run_round

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    app.config["WORKER"] = True  # what this process queues, it sends itself, with retries
    if not logging.getLogger().handlers:  # warnings and failed jobs, with their traceback
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        _log(f"{signal.Signals(signum).name}: stopping after this round")
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stop)
    _log("worker started" + ("" if once else f", a round every {interval:g} s"))
    while not stop.is_set():
        for line in run_round(app):
            _log(line)
        if once:
            break
        stop.wait(interval)
    _log("worker stopped")


def _log(line: str) -> None:
    click.echo(f"{datetime.now().astimezone().isoformat(timespec='seconds')} {line}")


commands = [worker]
