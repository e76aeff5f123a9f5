"""HTML views of procedures (to be built)."""

from flask import Blueprint

bp = Blueprint("procedures", __name__)
