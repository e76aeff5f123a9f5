"""HTML views of distribution (to be built)."""

from flask import Blueprint

bp = Blueprint("distribution", __name__)
