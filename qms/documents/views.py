"""HTML views of controlled documents (being built)."""

from flask import Blueprint

bp = Blueprint("documents", __name__, url_prefix="/documents")
