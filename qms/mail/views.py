"""HTML views of mail (to be built)."""

from flask import Blueprint

bp = Blueprint("mail", __name__)
