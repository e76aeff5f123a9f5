"""Sign-in, sign-out, own account, and user and department administration."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from qms.auth import service
from qms.auth.forms import (
    DepartmentForm,
    LoginForm,
    PasswordForm,
    ResetPasswordForm,
    TokenForm,
    UserForm,
)
from qms.auth.models import ApiToken, Department, User
from qms.auth.passwords import verify_password
from qms.auth.permissions import ROLE_LABELS, Permission, Role
from qms.db import get_session, new_session, utcnow
from qms.errorhandlers import refused
from qms.errors import DomainError
from qms.extensions import login_manager
from qms.trail import service as trail
from qms.web import permission_required, public, safe_next

bp = Blueprint("auth", __name__)
admin_bp = Blueprint("admin", __name__, url_prefix="/admin")


# -- wiring --------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to open this page.")
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        # The session must still be open on the server: sign-out, a password change or
        # reset and deactivation end it for every worker, whatever cookie is replayed.
        try:
            uid = int(user_id)
        except ValueError:
            return None
        return service.session_user(get_session(), uid, session.get("sid"))

    @login_manager.request_loader
    def load_user_from_token(req: Any) -> User | None:
        header = req.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        g.token_auth = True
        now = clock()
        token, g.token_refusal = service.find_token(
            get_session(), header.removeprefix("Bearer ").strip(), now
        )
        if token is None:
            return None
        if service.token_use_is_stale(token, now):
            _note_token_use(token.id, now)
        return token.user

    @login_manager.unauthorized_handler
    def unauthorized() -> Any:
        if request.path.startswith("/api/"):
            code = g.get("token_refusal") or "unauthorized"
            message = service.TOKEN_REFUSALS.get(code) or _("Sign in or send a valid API token.")
            response = jsonify({"error": {"code": code, "message": str(message)}})
            response.headers["WWW-Authenticate"] = 'Bearer realm="qms"'
            return response, 401
        flash(_("Please sign in to open this page."), "info")
        return redirect(url_for("auth.login", next=_here()))

    @app.before_request
    def expire_idle_session() -> Any:
        if request.headers.get("Authorization", "").startswith("Bearer "):
            return None
        if request.endpoint in ("static",):
            return None
        now = time.time()
        last_seen = session.get("last_seen")
        limit = current_app.config["SESSION_MINUTES"] * 60
        if "_user_id" in session and last_seen is not None and now - last_seen > limit:
            user_id = session.get("_user_id")
            db = get_session()
            service.end_session(db, session.get("sid"), "idle")
            logout_user()
            session.clear()
            user = db.get(User, int(user_id)) if user_id else None
            trail.record(db, user, "session_expired", "user", user.username if user else None)
            db.commit()
            if request.path.startswith("/api/"):
                return jsonify(
                    {
                        "error": {
                            "code": "session_expired",
                            "message": _("Your session has expired. Sign in again."),
                        }
                    }
                ), 401
            flash(
                _("Your session has expired after a period of inactivity. Sign in again."),
                "warning",
            )
            return redirect(url_for("auth.login", next=_here()))
        if "_user_id" in session:
            session["last_seen"] = now
            session.permanent = True
        return None


# -- sign-in -------------------------------------------------------------------------


def _note_token_use(token_id: int, now: datetime) -> None:
    """In a session of its own, so that a read-only request keeps its own transaction."""
    db = new_session()
    try:
        service.note_token_use(db, token_id, now)
        db.commit()
    finally:
        db.close()


def clock() -> datetime:
    """Now, in UTC; tests drive time through app.config["CLOCK"] instead of sleeping."""
    now = current_app.config.get("CLOCK")
    return now() if callable(now) else utcnow()


def _here() -> str | None:
    return safe_next(request.full_path.rstrip("?"))


def _policy() -> service.SignInPolicy:
    return service.SignInPolicy.from_config(current_app.config)


def _sign_in(user: User, sid: str) -> None:
    """Bind this browser to a fresh server-side session (a new cookie every time)."""
    lang = session.get("lang")
    session.clear()
    login_user(user)
    session["sid"] = sid
    session["last_seen"] = time.time()
    session.permanent = True
    if user.locale or lang:
        session["lang"] = user.locale or lang


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        db = get_session()
        try:
            user = service.authenticate(
                db,
                form.username.data or "",
                form.password.data or "",
                address=request.remote_addr or "",
                now=clock(),
                policy=_policy(),
            )
        except service.SignInRefused as refused:
            db.commit()  # the failed attempt stays in the trail and counts towards a lock
            status = refused.status
            form.password.errors = [str(refused.message)]
        else:
            sid = service.start_session(db, user, clock())
            db.commit()
            _sign_in(user, sid)
            return redirect(safe_next(request.args.get("next"), url_for("main.home")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    db = get_session()
    service.end_session(db, session.get("sid"), "signed_out", clock())
    trail.record(db, current_user, "sign_out", "user", current_user.username)
    db.commit()
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


logout.required_permissions = ()


@bp.route("/account", methods=["GET", "POST"])
@permission_required(Permission.READ_DOCUMENTS)
def account() -> Any:
    form = PasswordForm(prefix="pw")
    token_form = TokenForm(prefix="tok")
    if request.method == "GET":
        token_form.days.data = current_app.config["TOKEN_DAYS"]
    new_token = None
    status = 200
    db = get_session()
    action = request.form.get("action") if request.method == "POST" else None
    if action == "password":
        if not form.validate_on_submit():
            status = 422
        elif not verify_password(current_user.password_hash, form.current.data or ""):
            _wrong_password(db, "password change")
            form.current.errors = [_("The current password is wrong.")]
            status = 403
        else:
            try:
                service.set_password(db, current_user, current_user, form.new.data or "")
            except DomainError as err:
                form.new.errors = [refused(err)]
                status = err.status
            else:
                # Every other session of this user has ended; this browser stays signed in.
                user = current_user._get_current_object()
                sid = service.start_session(db, user, clock())
                db.commit()
                _sign_in(user, sid)
                flash(
                    _("Your password has been changed. Other sessions have been signed out."),
                    "success",
                )
                return redirect(url_for("auth.account"))
    elif action == "token":
        if not token_form.validate_on_submit():
            status = 422
        elif current_user.is_locked(clock()):
            token_form.password.errors = [_("Your account is locked; no token was created.")]
            status = 403
        elif not verify_password(current_user.password_hash, token_form.password.data or ""):
            _wrong_password(db, "token creation")
            token_form.password.errors = [_("The password is wrong; no token was created.")]
            status = 403
        else:
            try:
                _row, new_token = service.issue_token(
                    db,
                    current_user,
                    current_user,
                    token_form.name.data or "",
                    days=token_form.days.data or current_app.config["TOKEN_DAYS"],
                    now=clock(),
                )
            except DomainError as err:
                token_form.name.errors = [refused(err)]
                status = err.status
            else:
                db.commit()
    elif action == "revoke_token":
        row = db.get(ApiToken, _int(request.form.get("token_id")))
        if row is None or row.user_id != current_user.id:
            abort(404)
        try:
            service.revoke_token(db, current_user, row, "revoked by owner", clock())
        except DomainError as err:
            flash(refused(err), "error")
        else:
            db.commit()
            flash(_("Token %(name)s revoked.", name=row.name), "success")
        return redirect(url_for("auth.account"))
    elif action is not None:
        abort(400)
    tokens = service.tokens_of(db, current_user)
    response = render_template(
        "auth/account.html",
        form=form,
        token_form=token_form,
        tokens=tokens,
        new_token=new_token,
        now=clock(),
    )
    headers = {"Cache-Control": "no-store"} if new_token else {}
    return response, status, headers


def _wrong_password(db: Any, context: str) -> None:
    """A wrong password given again while signed in counts towards the lock as well."""
    service.register_failed_password(db, current_user, context, _policy(), clock())
    db.commit()


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        abort(404)


# -- user administration -------------------------------------------------------------


def _department_choices(db: Any) -> list[tuple[str, str]]:
    depts = db.scalars(sa.select(Department).order_by(Department.code)).all()
    return [("", "—")] + [(d.code, f"{d.code} {d.name}") for d in depts]


def _role_choices() -> list[tuple[str, str]]:
    return [(str(r), str(ROLE_LABELS[r])) for r in Role]


@admin_bp.route("/users")
@permission_required(Permission.MANAGE_USERS)
def users() -> str:
    db = get_session()
    rows = db.scalars(sa.select(User).order_by(User.username)).all()
    return render_template("admin/users.html", users=rows, role_labels=ROLE_LABELS)


@admin_bp.route("/users/new", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_USERS)
def new_user() -> Any:
    db = get_session()
    form = UserForm()
    form.department.choices = _department_choices(db)
    form.roles.choices = _role_choices()
    status = 200
    if form.validate_on_submit():
        try:
            user = service.create_user(
                db,
                current_user,
                username=form.username.data or "",
                display_name=form.display_name.data or "",
                email=form.email.data or "",
                password=form.password.data or "",
                roles=[Role(r) for r in form.roles.data or []],
                department=service.department_by_code(db, form.department.data or ""),
            )
        except DomainError as err:
            form.username.errors = [refused(err)]
            status = err.status
        else:
            db.commit()
            flash(_("User %(name)s created.", name=user.username), "success")
            return redirect(url_for("admin.users"))
    elif request.method == "POST":
        status = 422
    return render_template("admin/user_form.html", form=form, user=None), status


@admin_bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_USERS)
def edit_user(user_id: int) -> Any:
    db = get_session()
    user = db.get(User, user_id) or abort(404)
    form = UserForm(obj=None if request.method == "POST" else user)
    form.department.choices = _department_choices(db)
    form.roles.choices = _role_choices()
    if request.method == "GET":
        form.department.data = user.department.code if user.department else ""
        form.roles.data = sorted(str(r) for r in user.roles)
    form.username.data = user.username
    reset = ResetPasswordForm(prefix="reset")
    status = 200
    if request.method == "POST" and request.form.get("action") == "unlock":
        service.unlock(db, current_user, user, clock())
        db.commit()
        flash(_("Account unlocked."), "success")
        return redirect(url_for("admin.edit_user", user_id=user.id))
    if request.method == "POST" and request.form.get("action") == "reset":
        if reset.validate_on_submit():
            try:
                service.set_password(db, current_user, user, reset.new.data or "", clock())
            except DomainError as err:
                reset.new.errors = [refused(err)]
                status = err.status
            else:
                sid = (
                    service.start_session(db, user, clock()) if user.id == current_user.id else None
                )
                db.commit()
                if sid is not None:  # an administrator changing their own password stays in
                    _sign_in(user, sid)
                flash(_("Password reset. The user's sessions have been signed out."), "success")
                return redirect(url_for("admin.edit_user", user_id=user.id))
        else:
            status = 422
    elif request.method == "POST":
        if form.validate_on_submit():
            try:
                service.update_user(
                    db,
                    current_user,
                    user,
                    display_name=form.display_name.data or "",
                    email=form.email.data or "",
                    department=service.department_by_code(db, form.department.data or ""),
                    roles=[Role(r) for r in form.roles.data or []],
                    active=bool(form.active.data),
                    reason=form.reason.data or "",
                )
            except DomainError as err:
                form.roles.errors = [refused(err)]
                status = err.status
            else:
                db.commit()
                flash(_("Changes to %(name)s saved.", name=user.username), "success")
                return redirect(url_for("admin.users"))
        else:
            status = 422
    return render_template("admin/user_form.html", form=form, user=user, reset=reset), status


@admin_bp.route("/departments", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_USERS)
def departments() -> Any:
    db = get_session()
    form = DepartmentForm()
    form.parent.choices = _department_choices(db)
    status = 200
    if form.validate_on_submit():
        try:
            service.create_department(
                db,
                current_user,
                form.code.data or "",
                form.name.data or "",
                form.name_en.data or "",
                service.department_by_code(db, form.parent.data or ""),
            )
        except DomainError as err:
            form.code.errors = [refused(err)]
            status = err.status
        else:
            db.commit()
            flash(_("Department created."), "success")
            return redirect(url_for("admin.departments"))
    elif request.method == "POST":
        status = 422
    rows = db.scalars(sa.select(Department).order_by(Department.code)).all()
    return render_template("admin/departments.html", form=form, tree=_tree(rows)), status


@admin_bp.route("/departments/<code>", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_USERS)
def edit_department(code: str) -> Any:
    db = get_session()
    dept = service.department_by_code(db, code) or abort(404)
    form = DepartmentForm(obj=None if request.method == "POST" else dept)
    form.parent.choices = [c for c in _department_choices(db) if c[0] != dept.code]
    if request.method == "GET":
        form.parent.data = dept.parent.code if dept.parent else ""
    form.code.data = dept.code
    status = 200
    if form.validate_on_submit():
        try:
            service.update_department(
                db,
                current_user,
                dept,
                name=form.name.data or "",
                name_en=form.name_en.data or "",
                parent=service.department_by_code(db, form.parent.data or ""),
                active=bool(form.active.data),
            )
        except DomainError as err:
            form.parent.errors = [refused(err)]
            status = err.status
        else:
            db.commit()
            flash(_("Department saved."), "success")
            return redirect(url_for("admin.departments"))
    elif request.method == "POST":
        status = 422
    return render_template("admin/department_form.html", form=form, dept=dept), status


def _tree(depts: Any) -> list[tuple[int, Department]]:
    """Departments in tree order with their depth."""
    children: dict[int | None, list[Department]] = {}
    for d in depts:
        children.setdefault(d.parent_id, []).append(d)
    out: list[tuple[int, Department]] = []

    def walk(parent: int | None, depth: int) -> None:
        for d in children.get(parent, []):
            out.append((depth, d))
            walk(d.id, depth + 1)

    walk(None, 0)
    return out
