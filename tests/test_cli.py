import sqlalchemy as sa
from click.testing import CliRunner

from qms.cli import verify_trail
from qms.trail.models import TrailEntry


def test_verify_trail_names_an_altered_entry(app, users):
    runner = CliRunner()
    with app.app_context():
        result = runner.invoke(verify_trail, [])
        assert result.exit_code == 0, result.output
        assert "intact" in result.output
        from qms.db import get_session

        s = get_session()
        s.execute(sa.update(TrailEntry).where(TrailEntry.seq == 3).values(actor_name="mallory"))
        s.commit()
        result = runner.invoke(verify_trail, [])
    assert result.exit_code == 1
    assert "entry 3" in result.output
