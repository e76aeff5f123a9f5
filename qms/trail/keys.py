"""The trail key: the HMAC key of the audit-trail chain and of its checkpoints.

It lives outside the database (``QMS_TRAIL_KEY`` or ``<data dir>/trail.key``), so someone
who can write to the database but not read the key cannot re-hash the chain unnoticed."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from flask import current_app

KEY_FILE = "trail.key"
ENV_VAR = "QMS_TRAIL_KEY"
MIN_KEY_LENGTH = 32
_CACHE = "qms.trail_key"


class TrailKeyMissing(RuntimeError):
    """No trail key is available and this configuration may not create one."""


def key_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / KEY_FILE


def key_available(configured: str | None, data_dir: Path | str) -> bool:
    return bool(configured) or key_path(data_dir).is_file()


def create_key_file(path: Path) -> bytes:
    """Write a fresh random key readable by its owner only; keep one that is already there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use that one
        return _read_file(path)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key.encode()


def _read_file(path: Path) -> bytes:
    text = path.read_text(encoding="utf-8").strip()
    if len(text) < MIN_KEY_LENGTH:
        raise TrailKeyMissing(
            f"{path} holds no usable trail key (at least {MIN_KEY_LENGTH} characters)."
        )
    return text.encode()


def load_key(configured: str | None, data_dir: Path | str, *, create: bool) -> bytes:
    if configured:
        if len(configured.strip()) < MIN_KEY_LENGTH:
            raise TrailKeyMissing(f"{ENV_VAR} must be at least {MIN_KEY_LENGTH} characters long.")
        return configured.strip().encode()
    path = key_path(data_dir)
    if path.is_file():
        return _read_file(path)
    if not create:
        raise TrailKeyMissing(
            f"No trail key: set {ENV_VAR} or create {path} (`qms trail new-key`)."
        )
    return create_key_file(path)


def current_key() -> bytes:
    """This installation's trail key, read once per application."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    key: bytes | None = app.extensions.get(_CACHE)
    if key is None:
        key = load_key(
            app.config.get("TRAIL_KEY"),
            app.config["DATA_DIR"],
            create=bool(app.config.get("TRAIL_KEY_CREATE", True)),
        )
        app.extensions[_CACHE] = key
    return key


def key_id(key: bytes) -> str:
    """A short public name of a key, so a checkpoint signed with another key says so."""
    return hmac.new(key, b"qms-trail-key-id", hashlib.sha256).hexdigest()[:16]


def mac(key: bytes, purpose: bytes, payload: bytes) -> str:
    return hmac.new(key, purpose + b"\n" + payload, hashlib.sha256).hexdigest()
