"""Imports every model module so that the metadata is complete (Alembic, tests)."""

from qms.auth import models as auth_models  # noqa: F401
from qms.db import Base
from qms.trail import models as trail_models  # noqa: F401

metadata = Base.metadata
