"""Pages of service procedures: the list, one procedure for staff (chart, steps, forms,
controlling regulation), the "needs review" list and traceability."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from qms.auth.permissions import Permission
from qms.db import get_session
from qms.documents import service as documents
from qms.documents import visibility
from qms.documents.models import Revision
from qms.documents.pages import editor_section, page_section
from qms.errorhandlers import refused
from qms.errors import DomainError, Invalid, NotFound
from qms.nav import NavEntry
from qms.nav import register as register_nav
from qms.pagination import clamp, paginate
from qms.procedures import flowchart, service  # service registers the event subscribers
from qms.procedures.models import FLAG_REASON_LABELS, LINK_LABELS, STEP_TYPE_LABELS, LinkKind
from qms.web import parse_id, permission_required, safe_next

bp = Blueprint("procedures", __name__, url_prefix="/procedures")

register_nav(
    NavEntry(_l("Procedures"), "procedures.index", Permission.READ_DOCUMENTS, 25),
    NavEntry(
        _l("Traceability"), "procedures.traceability", Permission.READ_DOCUMENTS, 64, "control"
    ),
)


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {
        "LINK_LABELS": LINK_LABELS,
        "FLAG_REASON_LABELS": FLAG_REASON_LABELS,
        "STEP_TYPE_LABELS": STEP_TYPE_LABELS,
    }


def _revision(number: str) -> Revision:
    """The revision in force, or the one asked for by label if the reader may see it."""
    session = get_session()
    document = service.get_procedure(session, number)
    if not visibility.can_read_document(session, current_user, document):
        raise NotFound(_l("There is no procedure numbered %(number)s.", number=number))
    label = request.args.get("revision")
    revision = (
        documents.revision_by_label(session, document, label)
        if label
        else document.current_revision
    )
    if revision is None:
        raise NotFound(_l("%(number)s has no revision in force.", number=document.number))
    visibility.visible_revision(session, current_user, revision, block_history=True)
    return revision


def readable_links(session: Any, links: service.Links) -> service.Links:
    """The links without the documents this reader may not read (not even their titles)."""

    def keep(targets: list[service.Target]) -> list[service.Target]:
        return [
            t
            for t in targets
            if t.document is None
            or visibility.cleared_for_document(session, current_user, t.document)
        ]

    links.outgoing = {kind: keep(found) for kind, found in links.outgoing.items()}
    links.controls = keep(links.controls)
    links.referenced_by = keep(links.referenced_by)
    links.used_by = keep(links.used_by)
    return links


def readable_procedures(stmt: Any) -> Any:
    return stmt.where(
        visibility.readable_documents_clause(visibility.reader_for(get_session(), current_user))
    )


def chart_for(view: service.ProcedureView, highlight: set[str]) -> str:
    # the handbook's charts say 是/否; an English reader gets Yes/No
    english = get_locale() is not None and get_locale().language == "en"
    return flowchart.render(
        view.lanes,
        view.steps,
        highlight=highlight,
        title=f"{view.document.number} {view.revision.title}",
        yes="Yes" if english else "是",
        no="No" if english else "否",
    )


@bp.route("/")
@permission_required(Permission.READ_DOCUMENTS)
def index() -> str:
    session = get_session()
    page_no, per_page = clamp(request.args.get("page"), request.args.get("per_page"))
    stmt = service.procedures_select(
        request.args.get("department") or None, request.args.get("q", "")
    )
    page = paginate(session, readable_procedures(stmt), page_no, per_page)
    summaries = service.procedure_summaries(session, page.items)
    for summary in summaries:
        readable_links(session, summary.links)
    return render_template(
        "procedures/index.html",
        page=page,
        procedures=summaries,
        args=request.args,
    )


@bp.route("/<number>")
@permission_required(Permission.READ_DOCUMENTS)
def show(number: str, refusal: Invalid | None = None, typed: dict[str, str] | None = None) -> str:
    session = get_session()
    view = service.procedure_view(session, _revision(number))
    readable_links(session, view.links)
    mine = service.lanes_for_user(current_user, view.lanes)
    return render_template(
        "procedures/show.html",
        view=view,
        mine=mine,
        chart=chart_for(view, mine),
        can_confirm=current_user.can(Permission.DRAFT_DOCUMENTS),
        refusal=refusal,
        typed=typed or {},
    )


@bp.route("/<number>/flowchart.svg")
@permission_required(Permission.READ_DOCUMENTS)
def chart(number: str) -> Response:
    view = service.procedure_view(get_session(), _revision(number))
    svg = chart_for(view, service.lanes_for_user(current_user, view.lanes))
    response = Response('<?xml version="1.0" encoding="UTF-8"?>\n' + svg, mimetype="image/svg+xml")
    response.headers["Content-Disposition"] = (
        f"inline; filename={view.document.number}-{view.revision.label.replace('/', '-')}.svg"
    )
    return response


@bp.route("/needs-review")
@permission_required(Permission.READ_DOCUMENTS)
def needs_review() -> str:
    session = get_session()
    page_no, per_page = clamp(request.args.get("page"), request.args.get("per_page"))
    page = paginate(session, service.needs_review_select(), page_no, per_page)
    return render_template(
        "procedures/needs_review.html",
        page=page,
        args=request.args,
        can_confirm=current_user.can(Permission.DRAFT_DOCUMENTS),
    )


@bp.route("/needs-review/<int:flag_id>/clear", methods=["POST"])
@permission_required(Permission.DRAFT_DOCUMENTS)
def clear_flag(flag_id: int) -> Any:
    session = get_session()
    flag = service.clear_flag(session, current_user, flag_id, reason=request.form.get("reason", ""))
    number = flag.document.number
    session.commit()
    flash(_("%(number)s is off the review list.", number=number), "success")
    return redirect(safe_next(request.form.get("next")) or url_for("procedures.needs_review"))


@bp.route("/<number>/links/<target>/confirm", methods=["POST"])
@permission_required(Permission.DRAFT_DOCUMENTS)
def confirm_link(number: str, target: str) -> Any:
    session = get_session()
    reason = request.form.get("reason", "")
    try:
        service.confirm_link(session, current_user, number, target, reason=reason)
    except Invalid as refusal:
        session.rollback()
        return show(number, refusal=refusal, typed={target: reason}), 422
    session.commit()
    flash(_("The link from %(number)s to %(target)s is confirmed.", number=number,
            target=target), "success")
    return redirect(safe_next(request.form.get("next")) or url_for("procedures.show",
                                                                   number=number))


@bp.route("/traceability")
@permission_required(Permission.READ_DOCUMENTS)
def traceability() -> str:
    return render_template(
        "procedures/traceability.html", trace=service.traceability(get_session())
    )


@page_section
def _document_links(session: Any, document: Any, revision: Any) -> tuple[str, dict[str, Any]]:
    """The links section of the document page."""
    return "procedures/_links.html", {
        "links": readable_links(session, service.links_for(session, revision))
    }


# -- links in the draft editor ---------------------------------------------------------------


def _link_choices(session: Any, own_number: str) -> list[tuple[str, str]]:
    """(number, title) of every document this author may read: the list the field offers."""
    from qms.documents.models import Document

    reader = visibility.reader_for(session, current_user)
    rows = session.execute(
        sa.select(Document.number, Document.title)
        .where(visibility.readable_documents_clause(reader), Document.number != own_number)
        .order_by(Document.number)
    )
    return [(number, title) for number, title in rows]


@editor_section
def _editor_links(
    session: Any, document: Any, revision: Any, state: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The links of the draft in the editor: add one by number or title, remove one."""
    own = service.links_of(session, revision.id)
    found = service.targets(session, [link.target_number for link in own])
    rows = []
    for link in own:
        t = found[link.target_number]
        if t.document is None or visibility.cleared_for_document(session, current_user, t.document):
            rows.append((link, t))
    return "procedures/_edit_links.html", {
        "document": document,
        "revision": revision,
        "link_rows": rows,
        "choices": _link_choices(session, document.number),
        "link_kinds": list(LinkKind),
        "link_error": state.get("link_error"),
        "link_target": state.get("link_target", ""),
        "link_kind": state.get("link_kind", LinkKind.REFERENCES.value),
    }


@bp.route("/editor/<number>/<int:revision_id>/links", methods=["POST"])
@permission_required(Permission.DRAFT_DOCUMENTS)
def edit_links(number: str, revision_id: int) -> Any:
    from qms.documents.forms import DraftForm
    from qms.documents.views import editor_page

    session = get_session()
    document = visibility.readable_document(session, current_user, number)
    revision = visibility.visible_revision(
        session, current_user, documents.get_revision(session, document, revision_id)
    )
    action = request.form.get("action", "add")
    typed = request.form.get("target", "")
    kind_value = request.form.get("kind", "")
    try:
        if action == "remove":
            link_id = parse_id(request.form.get("link_id"))
            if link_id is None:
                raise NotFound(_l("This revision has no such link."))
            service.remove_link(session, current_user, revision, link_id)
            message = _("Link removed.")
        else:
            try:
                kind = LinkKind(kind_value)
            except ValueError:
                raise Invalid(_l("Choose the kind of link.")) from None
            link = service.add_link(session, current_user, revision, kind=kind, target=typed)
            message = _(
                "Linked to %(number)s (%(kind)s).",
                number=link.target_number,
                kind=LINK_LABELS[kind],
            )
    except DomainError as err:
        state = {"link_error": refused(err), "link_target": typed, "link_kind": kind_value}
        revision = documents.get_revision(session, document, revision_id)
        form = DraftForm(
            formdata=None,
            data={
                "title": revision.title,
                "body": revision.body,
                "change_summary": revision.change_summary,
                "base_hash": revision.content_sha256,
            },
        )
        return editor_page(session, document, revision, form, status=err.status, state=state)
    session.commit()
    flash(message, "success")
    return redirect(
        url_for("documents.edit", number=document.number, revision_id=revision.id)
        + "#editor-links"
    )
