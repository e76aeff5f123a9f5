"""Imports every model module so that the metadata is complete (Alembic, tests)."""

import importlib

from qms.api import models as api_models  # noqa: F401
from qms.auth import models as auth_models  # noqa: F401
from qms.db import Base
from qms.documents import models as document_models  # noqa: F401
from qms.trail import models as trail_models  # noqa: F401
from qms.worker import models as worker_models  # noqa: F401

FEATURE_MODELS = [
    "calendar", "procedures", "search", "reviews", "word", "distribution", "tasks", "mail",
    "certification",
    "nonconformity",
    "audits",
    "writing",
]
for _name in FEATURE_MODELS:
    importlib.import_module(f"qms.{_name}.models")

metadata = Base.metadata
