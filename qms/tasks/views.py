"""HTML views of tasks (to be built)."""

from flask import Blueprint

bp = Blueprint("tasks", __name__)
