"""Run as a separate process: publish documents into a shared database and index."""

from __future__ import annotations

import sys
import time

from sqlalchemy.exc import OperationalError

from qms import create_app
from tests.factories import make_document


def main(database_url: str, data_dir: str, prefix: str, count: int) -> None:
    app = create_app("testing", DATABASE_URL=database_url, DATA_DIR=data_dir)
    with app.test_request_context():
        from qms.db import get_session

        session = get_session()
        for i in range(count):
            for attempt in range(50):
                try:
                    make_document(session, state="effective", title=f"并发发布{prefix}{i}",
                                  body=f"并发发布的正文 {prefix}x{i}")
                    session.commit()
                    break
                except OperationalError:  # SQLite: the other process holds the write lock
                    session.rollback()
                    time.sleep(0.02 * (attempt + 1))
            else:
                raise SystemExit(f"{prefix}{i} could not be published")
    app.extensions["qms.engine"].dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
