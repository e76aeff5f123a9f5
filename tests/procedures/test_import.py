import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from qms.documents.lifecycle import RevState
from qms.documents.models import Document, Revision
from qms.procedures import importer
from qms.procedures.importer import import_directory
from qms.procedures.models import DocumentLink, LinkKind, ProcedureStep
from qms.trail.models import TrailEntry
from tests.procedures.conftest import write_doc


def _counts(db):
    return {model.__name__: db.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Document, Revision, DocumentLink, ProcedureStep, TrailEntry)}


def test_the_document_set_imports_without_errors(db, imported):
    assert imported.count("created") == 84
    assert db.scalar(sa.select(sa.func.count()).select_from(Document)) == 84
    complaint = db.scalar(sa.select(Document).where(Document.number == "LC-KF-003"))
    assert complaint.status == RevState.EFFECTIVE
    assert complaint.current_revision.label == "A/0"
    assert complaint.author.username == "qms-import"
    assert complaint.author.active is False


def test_a_second_import_changes_nothing(db, documents_dir, imported):
    before = _counts(db)
    again = import_directory(db, documents_dir)
    assert again.count("unchanged") == 84
    assert again.errors == []
    assert _counts(db) == before


def test_a_changed_file_becomes_exactly_one_new_draft_revision(db, documents_dir, imported):
    path = documents_dir / "ZD-KF-004.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n补充：投诉应在24小时内回复。\n",
                    encoding="utf-8")
    revisions_before = db.scalar(sa.select(sa.func.count()).select_from(Revision))

    report = import_directory(db, documents_dir)

    assert [r.number for r in report.results if r.status == "new revision"] == ["ZD-KF-004"]
    assert report.count("unchanged") == 83
    assert db.scalar(sa.select(sa.func.count()).select_from(Revision)) == revisions_before + 1
    document = db.scalar(sa.select(Document).where(Document.number == "ZD-KF-004"))
    assert document.current_revision.label == "A/0"  # still in force: nothing overwritten
    assert "24小时" not in document.current_revision.body
    draft = document.working_revision
    assert (draft.state, draft.label) == (RevState.DRAFT, "A/1")
    assert "24小时" in draft.body
    # and once more: the draft is what the file says, nothing new
    assert import_directory(db, documents_dir).count("unchanged") == 84


def test_links_and_steps_are_kept_per_revision(db, documents_dir, imported):
    path = documents_dir / "LC-KF-003.md"
    text = path.read_text(encoding="utf-8")
    text = text.replace("revision: A/0", "revision: B/0")
    text = text.replace("title: 投诉回访", "title: 电话回访业主")
    text = text.replace("references: [ZD-KF-005, ZD-PZ-001, LC-KF-008]",
                        "references: [ZD-KF-005]")
    path.write_text(text, encoding="utf-8")

    report = import_directory(db, documents_dir)

    assert [(r.number, r.label) for r in report.results if r.status == "new revision"] == [
        ("LC-KF-003", "B/0")]
    document = db.scalar(sa.select(Document).where(Document.number == "LC-KF-003"))
    old, new = document.current_revision, document.working_revision

    def titles(rev):
        return db.scalars(sa.select(ProcedureStep.title).where(
            ProcedureStep.revision_id == rev.id).order_by(ProcedureStep.position)).all()

    def refs(rev):
        return db.scalars(sa.select(DocumentLink.target_number).where(
            DocumentLink.revision_id == rev.id, DocumentLink.kind == LinkKind.REFERENCES)).all()

    assert "投诉回访" in titles(old)
    assert "电话回访业主" in titles(new)
    assert sorted(refs(old)) == ["LC-KF-008", "ZD-KF-005", "ZD-PZ-001"]
    assert refs(new) == ["ZD-KF-005"]


def test_a_changed_file_updates_its_own_unsent_draft(db, documents_dir, imported):
    path = documents_dir / "BD-KF-001.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n第一次修改\n", encoding="utf-8")
    import_directory(db, documents_dir)
    path.write_text(path.read_text(encoding="utf-8") + "\n第二次修改\n", encoding="utf-8")

    report = import_directory(db, documents_dir)

    assert [r.status for r in report.results if r.number == "BD-KF-001"] == ["draft updated"]
    document = db.scalar(sa.select(Document).where(Document.number == "BD-KF-001"))
    assert len(document.revisions) == 2
    assert "第二次修改" in document.working_revision.body


def _small_set(directory):
    write_doc(directory, "ZD-KF-001", extra="controlled_by: []\n")
    write_doc(directory, "BD-KF-001", kind="form", extra="controlled_by: [ZD-KF-001]\n")


def test_bad_files_are_reported_with_file_and_line_and_the_rest_import(db, tmp_path):
    directory = tmp_path / "docs"
    directory.mkdir()
    _small_set(directory)
    (directory / "ZD-KF-002.md").write_text(
        "---\nnumber: ZD-KF-002\ntitle: [未闭合\nkind: regulation\n---\n正文\n", encoding="utf-8")
    write_doc(directory, "ZD-KF-003", kind="rule")
    write_doc(directory, "ZD-KF-004", extra="references: [ZD-KF-999]\n")
    write_doc(directory, "ZD-KF-005", extra="controlled_by: [ZD-KF-006]\n")
    write_doc(directory, "ZD-KF-006", extra="controlled_by: [ZD-KF-005]\n")
    write_doc(directory, "ZD-KF-007", title="重复")
    (directory / "ZD-KF-007.md").rename(directory / "ZD-KF-007a.md")
    write_doc(directory, "ZD-KF-007", title="原件")
    write_doc(directory, "LC-KF-001", kind="process", extra=(
        "controlled_by: [ZD-KF-001]\n"
        "procedure:\n"
        "  lanes: [业主, 客户服务中心]\n"
        "  steps:\n"
        "    - id: 1\n"
        "      lane: 业主\n"
        "      type: start\n"
        "      title: 提出申请\n"
        "      next: [2]\n"
        "    - id: 2\n"
        "      lane: 客户服务中心\n"
        "      type: decision\n"
        "      title: 是否同意\n"
        "      if_yes: 3\n"
        "      if_no: 9\n"
        "    - id: 3\n"
        "      lane: 客户服务中心\n"
        "      type: end\n"
        "      title: 办结\n"))

    report = import_directory(db, directory)
    by_file = {r.path.name: r for r in report.results}

    assert by_file["ZD-KF-001.md"].status == "created"
    assert by_file["BD-KF-001.md"].status == "created"
    bad = {name: (r.line, r.message) for name, r in by_file.items() if r.status == "error"}
    assert bad["ZD-KF-002.md"][0] == 4 and "bad front matter" in bad["ZD-KF-002.md"][1]
    assert "line 3" in bad["ZD-KF-002.md"][1]  # where the unclosed list began
    assert bad["ZD-KF-003.md"] == (4, bad["ZD-KF-003.md"][1])
    assert "unknown kind 'rule'" in bad["ZD-KF-003.md"][1]
    assert bad["ZD-KF-004.md"][0] == 9 and "ZD-KF-999" in bad["ZD-KF-004.md"][1]
    assert "cycle" in bad["ZD-KF-005.md"][1] and bad["ZD-KF-005.md"][0] == 9
    assert "cycle" in bad["ZD-KF-006.md"][1]
    assert "duplicate number ZD-KF-007" in bad["ZD-KF-007.md"][1]
    assert "duplicate number ZD-KF-007" in bad["ZD-KF-007a.md"][1]
    assert bad["LC-KF-001.md"][0] == 23  # the if_no line
    assert "points to step 9, which does not exist" in bad["LC-KF-001.md"][1]
    assert by_file["LC-KF-001.md"].describe().startswith("LC-KF-001.md:23: error:")
    numbers = set(db.scalars(sa.select(Document.number)))
    assert numbers == {"ZD-KF-001", "BD-KF-001"}


def test_a_link_to_a_file_that_fails_is_refused_too(db, tmp_path):
    directory = tmp_path / "docs"
    directory.mkdir()
    write_doc(directory, "ZD-KF-001", kind="unknown")
    write_doc(directory, "BD-KF-001", kind="form", extra="controlled_by: [ZD-KF-001]\n")
    report = import_directory(db, directory)
    assert [r.status for r in report.results] == ["error", "error"]
    assert "cannot be imported (ZD-KF-001.md)" in report.results[0].message


def test_yes_and_no_keys_are_refused_with_the_reason(tmp_path):
    path = tmp_path / "LC-KF-001.md"
    write_doc(tmp_path, "LC-KF-001", kind="process", extra=(
        "procedure:\n  lanes: [甲]\n  steps:\n"
        "    - id: 1\n      lane: 甲\n      type: decision\n      title: 是否\n"
        "      yes: 1\n      no: 1\n"))
    with pytest.raises(importer.SourceError, match="if_yes") as caught:
        importer.parse_file(path)
    assert caught.value.line == 12


def test_qms_import_command_reports_every_file(app, tmp_path):
    from qms.procedures.cli import import_command

    directory = tmp_path / "docs"
    directory.mkdir()
    _small_set(directory)
    write_doc(directory, "ZD-KF-003", kind="rule")
    runner = CliRunner()
    with app.app_context():
        result = runner.invoke(import_command, [str(directory)])
        assert result.exit_code == 1, result.output
        assert "BD-KF-001.md: created (BD-KF-001 A/0)" in result.output
        assert "ZD-KF-003.md:4: error: unknown kind" in result.output
        assert "3 files: 2 created, 1 error" in result.output
        (directory / "ZD-KF-003.md").unlink()
        result = runner.invoke(import_command, [str(directory)])
    assert result.exit_code == 0, result.output
    assert "2 files: 2 unchanged" in result.output


def test_qms_init_imports_on_first_start_only(db, tmp_path):
    from qms.cli import INIT_HOOKS
    from qms.procedures.cli import import_on_first_start

    assert import_on_first_start in INIT_HOOKS
    directory = tmp_path / "docs"
    directory.mkdir()
    _small_set(directory)
    import_on_first_start(db, str(directory))
    assert db.scalar(sa.select(sa.func.count()).select_from(Document)) == 2
    write_doc(directory, "ZD-KF-002")
    import_on_first_start(db, str(directory))
    assert db.scalar(sa.select(sa.func.count()).select_from(Document)) == 2
