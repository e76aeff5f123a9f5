"""`qms import DIR`: the company's documents from Markdown files with YAML front matter.

Parsing and checking are pure (files in, `SourceDocument`s or `SourceError`s with file and
line out). Importing goes through qms.documents.service only, one transaction per file, so
a bad file never blocks the others. A file already imported is recognised by its
fingerprint; a changed file becomes a new draft revision, never an overwrite."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from qms.auth.models import User
from qms.auth.service import department_by_code
from qms.documents import labels
from qms.documents import service as documents
from qms.documents.lifecycle import RevState
from qms.documents.models import DocKind, Document, Family, Revision
from qms.documents.service import DEFAULT_PATTERNS
from qms.errors import DomainError
from qms.procedures import service
from qms.procedures.models import DocumentLink, LinkKind, RevisionSource, StepType

LINK_KEYS: dict[str, LinkKind] = {
    "controlled_by": LinkKind.CONTROLLED_BY,
    "controls": LinkKind.CONTROLS,
    "references": LinkKind.REFERENCES,
    "uses_forms": LinkKind.USES_FORM,
}
REQUIRED_KEYS = ("number", "title", "kind", "family", "department", "revision",
                 "effective_date")
KNOWN_KEYS = {*REQUIRED_KEYS, *LINK_KEYS, "review_interval_months", "iso_clauses",
              "change_summary", "procedure", "gap_note", "inferred_links"}
MAX_STEP_TITLE = 40  # the chart wraps labels; the format asks for ≤ 12 characters

CREATED = "created"
UNCHANGED = "unchanged"
NEW_REVISION = "new revision"
DRAFT_UPDATED = "draft updated"
ERROR = "error"


class SourceError(Exception):
    """A file that cannot be imported, with the line to look at."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        where = f"{self.path.name}:{self.line}" if self.line else self.path.name
        return f"{where}: {self.message}"


@dataclass
class SourceStep:
    number: int
    lane: str
    type: StepType
    title: str
    explanation: str
    next_steps: list[int]
    if_yes: int | None
    if_no: int | None
    forms_used: list[str]
    forms_produced: list[str]
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class SourceDocument:
    path: Path
    number: str
    title: str
    kind: DocKind
    family: Family
    department: str
    label: str
    effective_date: date
    review_interval_months: int | None
    iso_clauses: list[str]
    links: dict[LinkKind, list[str]]
    change_summary: str
    gap_note: str
    body: str
    fingerprint: str
    lanes: list[str] = field(default_factory=list)
    steps: list[SourceStep] = field(default_factory=list)
    key_lines: dict[str, int] = field(default_factory=dict)
    inferred: list[str] = field(default_factory=list)  # link targets that are our reading

    def line_of(self, key: str) -> int | None:
        return self.key_lines.get(key)

    def forms_named(self) -> list[tuple[str, int | None]]:
        named = [(n, self.line_of("uses_forms")) for n in self.links[LinkKind.USES_FORM]]
        for step in self.steps:
            named += [(n, step.line) for n in step.forms_used + step.forms_produced]
        return named


@dataclass
class FileResult:
    path: Path
    status: str
    number: str = ""
    label: str = ""
    message: str = ""
    line: int | None = None

    def describe(self) -> str:
        where = f"{self.path.name}:{self.line}" if self.line else self.path.name
        if self.status == ERROR:
            return f"{where}: error: {self.message}"
        label = f" {self.label}" if self.label else ""
        return f"{self.path.name}: {self.status} ({self.number}{label})"


@dataclass
class ImportReport:
    results: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def errors(self) -> list[FileResult]:
        return [r for r in self.results if r.status == ERROR]

    def summary(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in
                 (CREATED, UNCHANGED, NEW_REVISION, DRAFT_UPDATED, ERROR) if self.count(s)]
        return ", ".join(parts) or "no files"


# -- parsing ------------------------------------------------------------------------------

class _LineDict(dict[Any, Any]):
    line: int = 0
    key_lines: dict[Any, int]


class _Loader(yaml.SafeLoader):
    """Keeps the line of every mapping and of each of its keys."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    mapping = _LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {
        loader.construct_object(key, deep=True): key.start_mark.line + 1
        for key, _value in node.value
    }
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def fingerprint(text: str) -> str:
    normalised = text.replace("\r\n", "\n").strip() + "\n"
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def source_files(directory: Path | str) -> list[Path]:
    return sorted(p for p in Path(directory).glob("*.md") if p.is_file())


def parse_file(path: Path) -> SourceDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise SourceError(path, None, f"not UTF-8 text ({err.reason})") from None
    return parse_text(path, text)


def parse_text(path: Path, text: str) -> SourceDocument:
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise SourceError(path, 1, "the file must start with front matter between '---' lines")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise SourceError(path, 1, "the front matter has no closing '---' line") from None
    front = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1:]).strip("\n") + "\n"
    try:
        data = yaml.load(front, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 2 if mark else None
        context = (f" ({err.context} on line {err.context_mark.line + 2})"
                   if err.context and err.context_mark else "")
        raise SourceError(path, line, f"bad front matter: {err.problem or err}{context}"
                          ) from None
    except yaml.YAMLError as err:
        raise SourceError(path, 2, f"bad front matter: {err}") from None
    if not isinstance(data, _LineDict):
        raise SourceError(path, 2, "bad front matter: expected 'key: value' lines")
    _shift_lines(data, 1)
    return _build(path, data, body, fingerprint(text))


def _shift_lines(node: Any, offset: int) -> None:
    """Lines inside the front matter → lines of the file (the opening '---' is line 1)."""
    if isinstance(node, _LineDict):
        node.line += offset
        node.key_lines = {k: v + offset for k, v in node.key_lines.items()}
        for value in node.values():
            _shift_lines(value, offset)
    elif isinstance(node, list):
        for value in node:
            _shift_lines(value, offset)


def _build(path: Path, data: _LineDict, body: str, print_: str) -> SourceDocument:
    def fail(key: str, message: str) -> SourceError:
        return SourceError(path, data.key_lines.get(key, data.line), message)

    missing = [k for k in REQUIRED_KEYS if data.get(k) in (None, "")]
    if missing:
        raise SourceError(path, data.line, "bad front matter: missing " + ", ".join(missing))
    unknown = sorted(str(k) for k in data if k not in KNOWN_KEYS)
    if unknown:
        raise fail(unknown[0], f"bad front matter: unknown key {unknown[0]!r}")
    number = str(data["number"]).strip().upper()
    try:
        kind = DocKind(str(data["kind"]).strip())
    except ValueError:
        raise fail("kind", f"unknown kind {data['kind']!r} (one of: "
                   + ", ".join(k.value for k in DocKind) + ")") from None
    try:
        family = Family(str(data["family"]).strip())
    except ValueError:
        raise fail("family", f"unknown family {data['family']!r} (standard or special)") from None
    department = str(data["department"]).strip().upper()
    if not _number_fits(number, kind, department):
        raise fail("number", f"number {number} does not follow the pattern "
                   f"{DEFAULT_PATTERNS[kind]} of kind {kind} in department {department}")
    label = str(data["revision"]).strip().upper()
    try:
        labels.parse_label(label)
    except ValueError:
        raise fail("revision", f"revision {label!r} is not a label such as A/0") from None
    effective = data["effective_date"]
    if isinstance(effective, str):
        try:
            effective = date.fromisoformat(effective)
        except ValueError:
            effective = None
    if not isinstance(effective, date):
        raise fail("effective_date", "effective_date must be a date such as 2026-03-01")
    interval = data.get("review_interval_months")
    if interval is not None and (not isinstance(interval, int) or isinstance(interval, bool)
                                 or not 1 <= interval <= 120):
        raise fail("review_interval_months", "review_interval_months must be 1 to 120")
    links = {kind_: _number_list(data, key, fail) for key, kind_ in LINK_KEYS.items()}
    inferred = _number_list(data, "inferred_links", fail)
    named = {n for targets in links.values() for n in targets}
    for target in inferred:
        if target not in named:
            raise fail("inferred_links", f"inferred_links names {target}, which is not one of "
                                         "this document's links")
    clauses = [str(c).strip() for c in _list(data, "iso_clauses", fail)]
    for clause in clauses:
        if not re.fullmatch(r"\d+(\.\d+)*", clause):
            raise fail("iso_clauses", f"{clause!r} is not an ISO 9001 clause number")
    title = str(data["title"]).strip()
    if len(title) > 200:
        raise fail("title", "the title is longer than 200 characters")
    source = SourceDocument(
        path=path, number=number, title=title, kind=kind, family=family,
        department=department, label=label, effective_date=effective,
        review_interval_months=interval, iso_clauses=clauses, links=links,
        change_summary=str(data.get("change_summary") or "").strip(),
        gap_note=str(data.get("gap_note") or "").strip(), body=body, fingerprint=print_,
        key_lines={str(k): v for k, v in data.key_lines.items()}, inferred=inferred,
    )
    procedure = data.get("procedure")
    if kind == DocKind.PROCESS:
        if not isinstance(procedure, _LineDict):
            raise fail("kind", "a process needs a 'procedure:' block with lanes and steps")
        _build_procedure(path, source, procedure)
    elif procedure is not None:
        raise fail("procedure", f"only a process carries a 'procedure:' block, not a {kind}")
    return source


def _number_fits(number: str, kind: DocKind, department: str) -> bool:
    pattern = re.escape(DEFAULT_PATTERNS[kind])
    pattern = pattern.replace(re.escape("{dept}"), re.escape(department))
    pattern = re.sub(r"\\\{seq:0?(\d+)d\\\}", lambda m: rf"\d{{{m.group(1)},}}", pattern)
    return re.fullmatch(pattern, number) is not None


def _list(data: _LineDict, key: str, fail: Callable[[str, str], SourceError]) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(key, f"{key} must be a list such as [ZD-PZ-001]")
    return value


def _number_list(data: _LineDict, key: str,
                 fail: Callable[[str, str], SourceError]) -> list[str]:
    out: list[str] = []
    for item in _list(data, key, fail):
        if not isinstance(item, str) or not item.strip():
            raise fail(key, f"{key} must list document numbers, not {item!r}")
        number = item.strip().upper()
        if number not in out:
            out.append(number)
    return out


def _build_procedure(path: Path, source: SourceDocument, block: _LineDict) -> None:
    def fail_at(node: _LineDict, key: str | None, message: str) -> SourceError:
        line = node.key_lines.get(key, node.line) if key else node.line
        return SourceError(path, line, message)

    lanes = block.get("lanes")
    if not isinstance(lanes, list) or not lanes or not all(isinstance(x, str) for x in lanes):
        raise fail_at(block, "lanes", "procedure.lanes must be a list of roles or departments")
    lanes = [x.strip() for x in lanes]
    if len(set(lanes)) != len(lanes):
        raise fail_at(block, "lanes", "procedure.lanes names a lane twice")
    raw_steps = block.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise fail_at(block, "steps", "procedure.steps must be a list of steps")
    steps: list[SourceStep] = []
    for raw in raw_steps:
        if not isinstance(raw, _LineDict):
            raise fail_at(block, "steps", "each step must be a mapping with id, lane, type, title")
        steps.append(_build_step(path, raw, lanes, fail_at))
    numbers = [s.number for s in steps]
    for step in steps:
        if numbers.count(step.number) > 1:
            raise SourceError(path, step.line, f"step id {step.number} is used twice")
    for step in steps:
        targets = [("next", n) for n in step.next_steps] + [
            (key, n) for key, n in (("if_yes", step.if_yes), ("if_no", step.if_no))
            if n is not None]
        for key, target in targets:
            if target not in numbers:
                raise SourceError(path, step.key_lines.get(key, step.line),
                                  f"step {step.number} points to step {target}, "
                                  "which does not exist")
    if not any(s.type == StepType.START for s in steps):
        raise fail_at(block, "steps", "the procedure has no start step")
    source.lanes = lanes
    source.steps = steps


def _build_step(path: Path, raw: _LineDict, lanes: list[str],
                fail_at: Callable[[_LineDict, str | None, str], SourceError]) -> SourceStep:
    if True in raw or False in raw:
        raise fail_at(raw, None, "use the keys if_yes and if_no (YAML reads yes/no as booleans)")
    number = raw.get("id")
    if not isinstance(number, int) or isinstance(number, bool):
        raise fail_at(raw, "id", "a step needs a numeric id")
    lane = str(raw.get("lane") or "").strip()
    if lane not in lanes:
        raise fail_at(raw, "lane", f"step {number}: lane {lane!r} is not one of the lanes")
    try:
        type_ = StepType(str(raw.get("type") or "task"))
    except ValueError:
        raise fail_at(raw, "type", f"step {number}: type must be start, task, decision or end"
                      ) from None
    title = str(raw.get("title") or "").strip()
    if not title or len(title) > MAX_STEP_TITLE:
        raise fail_at(raw, "title", f"step {number}: a title of 1 to {MAX_STEP_TITLE} characters")

    def ids(key: str) -> list[int]:
        value = raw.get(key)
        if value is None:
            return []
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise fail_at(raw, key, f"step {number}: {key} must name step ids")
        return list(values)

    def forms(key: str) -> list[str]:
        value = raw.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail_at(raw, key, f"step {number}: {key} must list form numbers")
        return [v.strip().upper() for v in value]

    next_steps = ids("next")
    yes, no = ids("if_yes"), ids("if_no")
    if len(yes) > 1 or len(no) > 1:
        raise fail_at(raw, "if_yes", f"step {number}: if_yes and if_no name one step each")
    if type_ == StepType.DECISION:
        if not yes or not no:
            raise fail_at(raw, None, f"step {number}: a decision needs both if_yes and if_no")
        if next_steps:
            raise fail_at(raw, "next", f"step {number}: a decision branches with if_yes/if_no, "
                          "not next")
    elif yes or no:
        raise fail_at(raw, "if_yes", f"step {number}: only a decision has if_yes/if_no")
    elif type_ != StepType.END and not next_steps:
        raise fail_at(raw, None, f"step {number}: says nothing about what comes next")
    return SourceStep(
        number=number, lane=lane, type=type_, title=title,
        explanation=str(raw.get("explanation") or "").strip(), next_steps=next_steps,
        if_yes=yes[0] if yes else None, if_no=no[0] if no else None,
        forms_used=forms("forms_used"), forms_produced=forms("forms_produced"), line=raw.line,
        key_lines={str(k): v for k, v in raw.key_lines.items()},
    )


# -- checks across the set -----------------------------------------------------------------

def check_set(sources: list[SourceDocument], existing: dict[str, DocKind],
              existing_controllers: dict[str, list[str]],
              unreadable: dict[str, Path] | None = None) -> dict[Path, SourceError]:
    """Duplicate numbers, links to unknown documents, forms that are not forms and cycles of
    controlled_by, across the files and what the database already holds."""
    errors: dict[Path, SourceError] = {}
    by_number: dict[str, list[SourceDocument]] = {}
    for src in sources:
        by_number.setdefault(src.number, []).append(src)
    for number, group in by_number.items():
        if len(group) > 1:
            for src in group:
                others = ", ".join(o.path.name for o in group if o is not src)
                errors[src.path] = SourceError(src.path, src.line_of("number"),
                                               f"duplicate number {number} (also in {others})")
    changed = True
    while changed:  # a link to a file that fails is a link to nothing
        changed = False
        valid = {s.number: s for s in sources if s.path not in errors}
        kinds = {**existing, **{n: s.kind for n, s in valid.items()}}
        for src in valid.values():
            problem = _link_problem(src, kinds, by_number, errors, unreadable or {})
            if problem is not None:
                errors[src.path] = problem
                changed = True
        valid = {s.number: s for s in sources if s.path not in errors}
        for src in _in_cycles(valid, existing_controllers):
            errors[src.path] = SourceError(
                src.path, src.line_of("controlled_by"),
                f"controlled_by makes a cycle through {src.number}: a document cannot "
                "govern itself, directly or through others")
            changed = True
    return errors


def _link_problem(src: SourceDocument, kinds: dict[str, DocKind],
                  by_number: dict[str, list[SourceDocument]], errors: dict[Path, SourceError],
                  unreadable: dict[str, Path]) -> SourceError | None:
    for key, kind in LINK_KEYS.items():
        for target in src.links[kind]:
            if target == src.number and kind != LinkKind.CONTROLLED_BY:
                return SourceError(src.path, src.line_of(key), f"{key} names the document itself")
            if target not in kinds:
                return SourceError(src.path, src.line_of(key),
                                   _unknown(target, key, by_number, errors, unreadable))
    for target, line in src.forms_named():
        if target not in kinds:
            return SourceError(src.path, line,
                               _unknown(target, "form", by_number, errors, unreadable))
        if kinds[target] != DocKind.FORM:
            return SourceError(src.path, line, f"{target} is a {kinds[target]}, not a form")
    return None


def _unknown(target: str, what: str, by_number: dict[str, list[SourceDocument]],
             errors: dict[Path, SourceError], unreadable: dict[str, Path]) -> str:
    if target in unreadable:
        return f"{what} link to {target}, which cannot be imported ({unreadable[target].name})"
    if target in by_number:
        names = ", ".join(s.path.name for s in by_number[target] if s.path in errors)
        return f"{what} link to {target}, which cannot be imported ({names})"
    return f"{what} link to unknown document {target}"


def _in_cycles(valid: dict[str, SourceDocument],
               existing_controllers: dict[str, list[str]]) -> list[SourceDocument]:
    graph = dict(existing_controllers)
    graph.update({n: s.links[LinkKind.CONTROLLED_BY] for n, s in valid.items()})
    on_cycle: set[str] = set()
    for start in valid:
        # depth-first search for a path from start back to start
        stack, seen = list(graph.get(start, [])), set()
        while stack:
            node = stack.pop()
            if node == start:
                on_cycle.add(start)
                break
            if node in seen:
                continue
            seen.add(node)
            stack.extend(graph.get(node, []))
    return [valid[n] for n in sorted(on_cycle)]


# -- importing ------------------------------------------------------------------------------

def import_directory(session: Session, directory: Path | str, *, actor: User | None = None,
                     on_file: Callable[[FileResult], None] | None = None,
                     on_index: Callable[[], None] | None = None) -> ImportReport:
    """Import every *.md file of the directory. Commits once per file."""
    report = ImportReport()
    files = source_files(directory)
    sources: list[SourceDocument] = []
    errors: dict[Path, SourceError] = {}
    for path in files:
        try:
            sources.append(parse_file(path))
        except SourceError as err:
            errors[path] = err
    existing = dict(session.execute(sa.select(Document.number, Document.kind)).tuples().all())
    errors.update(check_set(sources, existing, _existing_controllers(session),
                            {n: p for p, n in ((p, _declared_number(p)) for p in errors) if n}))
    if actor is None:
        actor = service.ensure_import_user(session)
        session.commit()
    parsed = {s.path: s for s in sources}
    with _index_once(session, on_index) as hold_index:
        for path in files:
            hold_index()
            result = (_error_result(path, errors[path], parsed) if path in errors
                      else _import_one(session, actor, parsed[path]))
            report.results.append(result)
            if on_file is not None:
                on_file(result)
    return report


def _error_result(path: Path, err: SourceError,
                  parsed: dict[Path, SourceDocument]) -> FileResult:
    return FileResult(path, ERROR, message=err.message, line=err.line,
                      number=parsed[path].number if path in parsed else "")


@contextmanager
def _index_once(session: Session,
                on_index: Callable[[], None] | None) -> Iterator[Callable[[], None]]:
    """Bring the search index up to date once after the import instead of after every
    file's commit (one index commit per file made the first import take minutes).
    The outbox rows commit with each file, so nothing is lost if the import stops."""
    try:
        from qms.search import service as search
    except ImportError:  # the search feature is optional
        yield lambda: None
        return
    key = getattr(search, "_SCHEDULED", None)  # marks "a drain is already scheduled"

    def hold() -> None:
        if key:
            session.info[key] = True  # a rollback forgets it, so set again per file

    try:
        yield hold
    finally:
        if key:
            session.info.pop(key, None)
            if on_index is not None:
                on_index()
            search.drain()


def _declared_number(path: Path) -> str:
    """The number a file that cannot be parsed says it has, to explain links to it."""
    try:
        found = re.search(r"^number:\s*([A-Za-z0-9-]+)\s*$", path.read_text(encoding="utf-8"),
                          re.MULTILINE)
    except (OSError, UnicodeDecodeError):
        return ""
    return found.group(1).upper() if found else ""


def _existing_controllers(session: Session) -> dict[str, list[str]]:
    rows = session.execute(
        sa.select(Document.number, DocumentLink.target_number)
        .join(Revision, Revision.id == DocumentLink.revision_id)
        .join(Document, Document.id == Revision.document_id)
        .where(Document.current_revision_id == Revision.id,
               DocumentLink.kind == LinkKind.CONTROLLED_BY))
    out: dict[str, list[str]] = {}
    for number, target in rows:
        out.setdefault(number, []).append(target)
    return out


def _import_one(session: Session, actor: User, source: SourceDocument) -> FileResult:
    try:
        result = import_source(session, actor, source)
        session.commit()
        return result
    except SourceError as err:
        session.rollback()
        return FileResult(source.path, ERROR, source.number, message=err.message, line=err.line)
    except DomainError as err:
        session.rollback()
        return FileResult(source.path, ERROR, source.number, message=str(err.message))


def import_source(session: Session, actor: User, source: SourceDocument) -> FileResult:
    """Create, revise or leave alone the document of one checked source. Only flushes."""
    department = department_by_code(session, source.department)
    if department is None:
        raise SourceError(source.path, source.line_of("department"),
                          f"unknown department code {source.department}")
    document = session.scalar(sa.select(Document).where(Document.number == source.number))
    if document is None:
        document = documents.register_effective(
            session, actor, number=source.number, title=source.title, kind=source.kind,
            department=department, family=source.family, label=source.label,
            body=source.body, change_summary=source.change_summary,
            effective_date=source.effective_date,
            review_interval_months=source.review_interval_months,
        )
        revision = document.current_revision
        if revision is None:  # register_effective always leaves one in force
            raise SourceError(source.path, None, "the document did not come into force")
        _store(session, actor, revision, source)
        return FileResult(source.path, CREATED, source.number, revision.label)
    if document.kind != source.kind:
        raise SourceError(source.path, source.line_of("kind"),
                          f"{source.number} is a {document.kind} here; a document's kind "
                          "does not change")
    if _last_fingerprint(session, document) == source.fingerprint:
        label = document.current_revision.label if document.current_revision else ""
        return FileResult(source.path, UNCHANGED, source.number, label)
    working = document.working_revision
    if working is not None and working.state in (RevState.DRAFT, RevState.IN_REVIEW):
        imported = session.get(RevisionSource, working.id)
        if working.state != RevState.DRAFT or imported is None or working.author_id != actor.id:
            raise SourceError(source.path, None,
                              f"revision {working.label} of {source.number} is in work; "
                              "finish or cancel it before importing a change")
        _save(session, actor, working, source)
        return FileResult(source.path, DRAFT_UPDATED, source.number, working.label)
    current = document.current_revision
    if current is None:
        raise SourceError(source.path, None,
                          f"{source.number} has no effective revision (it is {document.status}); "
                          "it cannot be revised from this file")
    major = labels.parse_label(source.label)[0] > current.major
    revision = documents.revise(session, actor, document, major_change=major,
                                change_summary=source.change_summary)
    _save(session, actor, revision, source)
    return FileResult(source.path, NEW_REVISION, source.number, revision.label)


def _save(session: Session, actor: User, revision: Revision, source: SourceDocument) -> None:
    documents.save_draft(session, actor, revision, body=source.body,
                         change_summary=source.change_summary or "changed source file",
                         base_hash=revision.content_sha256, title=source.title)
    _store(session, actor, revision, source)


def _store(session: Session, actor: User, revision: Revision, source: SourceDocument) -> None:
    service.set_structure(
        session, revision, actor=actor,
        links=dict(source.links), inferred=source.inferred,
        iso_clauses=source.iso_clauses, gap_note=source.gap_note,
        lanes=source.lanes, steps=[_step_fields(s) for s in source.steps],
        source_sha256=source.fingerprint, path=source.path.name,
    )


def _step_fields(step: SourceStep) -> dict[str, Any]:
    return {
        "number": step.number, "lane": step.lane, "type": step.type, "title": step.title,
        "explanation": step.explanation, "next_steps": step.next_steps,
        "if_yes": step.if_yes, "if_no": step.if_no, "forms_used": step.forms_used,
        "forms_produced": step.forms_produced,
    }


def _last_fingerprint(session: Session, document: Document) -> str | None:
    return session.scalar(
        sa.select(RevisionSource.source_sha256)
        .join(Revision, Revision.id == RevisionSource.revision_id)
        .where(Revision.document_id == document.id)
        .order_by(Revision.major.desc(), Revision.minor.desc()).limit(1))


def iter_results(report: ImportReport) -> Iterable[str]:
    for result in report.results:
        yield result.describe()
