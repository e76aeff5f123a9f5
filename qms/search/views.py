"""HTML views of search (to be built)."""

from flask import Blueprint

bp = Blueprint("search", __name__)
