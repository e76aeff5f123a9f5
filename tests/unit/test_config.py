import pytest

from qms.config import config_for


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("QMS_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="QMS_SECRET_KEY"):
        config_for("production")


def test_production_marks_cookies_secure(monkeypatch):
    monkeypatch.setenv("QMS_SECRET_KEY", "x" * 64)
    monkeypatch.setenv("QMS_TRAIL_KEY", "t" * 64)
    cfg = config_for("production")
    assert cfg.SESSION_COOKIE_SECURE is True
    assert cfg.SECRET_KEY == "x" * 64


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("QMS_SESSION_MINUTES", "45")
    monkeypatch.setenv("QMS_MAX_UPLOAD_MB", "3")
    monkeypatch.setenv("QMS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("QMS_DATABASE_URL", raising=False)
    cfg = config_for("testing")
    assert cfg.PERMANENT_SESSION_LIFETIME.total_seconds() == 45 * 60
    assert cfg.MAX_CONTENT_LENGTH == 3 * 1024 * 1024
    assert f"sqlite:///{tmp_path / 'qms.sqlite3'}" == cfg.DATABASE_URL
    monkeypatch.setenv("QMS_DATABASE_URL", "postgresql://u@h/db")
    assert config_for("testing").DATABASE_URL == "postgresql://u@h/db"


def test_unknown_environment_is_refused():
    with pytest.raises(RuntimeError, match="QMS_ENV"):
        config_for("staging")


def test_production_refuses_to_start_without_a_trail_key(monkeypatch, tmp_path):
    monkeypatch.setenv("QMS_SECRET_KEY", "x" * 64)
    monkeypatch.delenv("QMS_TRAIL_KEY", raising=False)
    monkeypatch.setenv("QMS_DATA_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="QMS_TRAIL_KEY") as refused:
        config_for("production")
    assert str(tmp_path / "trail.key") in str(refused.value)
    assert not (tmp_path / "trail.key").exists()  # production never makes one up


def test_production_refuses_a_short_trail_key(monkeypatch, tmp_path):
    monkeypatch.setenv("QMS_SECRET_KEY", "x" * 64)
    monkeypatch.setenv("QMS_TRAIL_KEY", "short")
    monkeypatch.setenv("QMS_DATA_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="at least 32 characters"):
        config_for("production")


def test_production_takes_the_trail_key_file_of_its_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("QMS_SECRET_KEY", "x" * 64)
    monkeypatch.delenv("QMS_TRAIL_KEY", raising=False)
    monkeypatch.setenv("QMS_DATA_DIR", str(tmp_path))
    (tmp_path / "trail.key").write_text("k" * 64 + "\n")
    assert config_for("production").TRAIL_KEY_CREATE is False
