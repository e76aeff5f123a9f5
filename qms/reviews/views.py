"""HTML views of reviews (to be built)."""

from flask import Blueprint

bp = Blueprint("reviews", __name__)
