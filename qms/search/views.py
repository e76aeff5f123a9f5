"""The search page: one box, answers as you type, facets and pages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from qms.auth.permissions import Permission
from qms.db import get_session
from qms.nav import NavEntry
from qms.nav import register as register_nav
from qms.pagination import clamp
from qms.search import service  # also subscribes the outbox writers to document events
from qms.web import permission_required

bp = Blueprint("search", __name__)

register_nav(NavEntry(_l("Search"), "search.search_page", Permission.READ_DOCUMENTS, 10))

PARAMS = ("q", "kind", "department", "status", "all")


def search_args() -> dict[str, Any]:
    """The search parameters of the request, as the page, the API and links use them."""
    args = request.args
    page, per_page = clamp(args.get("page"), args.get("per_page"), default_per_page=20)
    return {
        "q": args.get("q", ""),
        "kind": args.get("kind") or None,
        "department": args.get("department") or None,
        "status": args.get("status") or None,
        "page": page,
        "per_page": per_page,
        "all_revisions": args.get("all", "") in ("1", "true", "on", "yes"),
    }


@bp.route("/search")
@permission_required(Permission.READ_DOCUMENTS)
def search_page() -> Any:
    a = search_args()
    result = service.search(get_session(), current_user._get_current_object(), a.pop("q"), **a)
    params = {k: v for k, v in request.args.items() if k in PARAMS and v}
    partial = request.args.get("partial") == "1"
    template = "search/_results.html" if partial else "search/search.html"
    return render_template(template, result=result, params=params)
