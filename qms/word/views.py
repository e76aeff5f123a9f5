"""HTML views of word (to be built)."""

from flask import Blueprint

bp = Blueprint("word", __name__)
