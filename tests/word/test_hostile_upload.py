"""Hostile Word files within the upload limit (issue 11, items 11 and 19): each is refused
through the real import form with the limit that was reached, the file's figure and the
limit, the right status, and nothing is stored.

The files are built small against lowered limits (the same checks, the same messages);
`bench/upload.py` posts the full-size ones against the default limits and measures time
and memory."""

from __future__ import annotations

from typing import Any

import pytest

from qms.config import config_for
from qms.word.import_docx import convert
from qms.word.package import ImportLimits
from tests.conftest import make_test_app
from tests.factories import TEST_PASSWORD
from tests.word import hostile
from tests.word.test_import import stored

KB = 1024
MB = 1024 * 1024


def post_new(client: Any, data: bytes, filename: str = "hostile.docx") -> Any:
    """The import form, multipart-encoded here: the test client would spool a file over
    500 KB to a temporary file it never closes."""
    boundary = "qms-hostile-boundary"
    fields = {"title": "", "kind": "procedure", "department": "KF", "family": "standard"}
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    body += (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        "/documents/import-docx",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


@pytest.fixture
def import_as_clerk(app, users, database_url, tmp_path):
    """Post a file to the import form of an app with the given limits, as the clerk, in
    English; return the response and whether anything was stored."""

    def post(data: bytes, filename: str = "hostile.docx", **limits: Any) -> Any:
        limited = make_test_app(database_url, tmp_path, **limits)
        client = limited.test_client()
        client.post("/login", data={"username": "clerk", "password": TEST_PASSWORD})
        client.post("/lang/en", data={"next": "/"})
        before = stored(limited)
        response = post_new(client, data, filename)
        response.stored_something = stored(limited) != before
        return response

    return post


# (id, builder, limits, status, words the clerk reads)
CASES = [
    (
        "part-unpacks-beyond-its-limit",
        lambda: hostile.big_document_xml(2 * MB),
        {"WORD_MAX_PART_MB": 1},
        413,
        ["Part word/document.xml of the file unpacks to", "one part may unpack to at most 1.0 MB"],
    ),
    (
        "parts-unpack-beyond-the-total",
        lambda: hostile.unpacks_beyond_total(3, 900 * KB),
        {"WORD_MAX_PART_MB": 1, "WORD_MAX_UNPACKED_MB": 2},
        413,
        ["The file unpacks to 2.6 MB", "may unpack to at most 2.0 MB"],
    ),
    (
        "compression-ratio",
        lambda: hostile.zip_bomb(4 * MB),
        {},
        422,
        ["Part word/document.xml of the file is compressed", "at most 200 times", "zip bomb"],
    ),
    (
        "too-many-parts",
        lambda: hostile.many_parts(60),
        {"WORD_MAX_PARTS": 50},
        422,
        ["The file holds 63 parts; a Word file may hold at most 50."],
    ),
    (
        "deeply-nested-xml",
        lambda: hostile.deeply_nested(300),
        {},
        422,
        ["word/document.xml is nested more than 256 levels deep"],
    ),
    (
        "billion-laughs",
        hostile.billion_laughs,
        {},
        422,
        ["word/document.xml declares entities (&amp;lol0;", "document type declaration"],
    ),
    (
        "xml-elements-beyond-the-budget",
        lambda: hostile.element_flood(10_000),
        {"WORD_MAX_XML_ELEMENTS": 20_000},
        413,
        ["The file holds more than 20,000 XML elements (reached in part word/document.xml)"],
    ),
    (
        "one-paragraph-beyond-the-block-limit",
        lambda: hostile.huge_paragraph(3 * MB),
        {"WORD_MAX_BLOCK_MB": 1},
        413,
        ["One paragraph or table of the file takes more than 1.0 MB of Word XML"],
    ),
    (
        "text-longer-than-a-body",
        lambda: hostile.long_text(1 * MB),
        {"MAX_BODY_BYTES": 100 * KB},
        413,
        ["The text of the file comes to more than 0.1 MB, the most one document may hold"],
    ),
    (
        "part-name-escapes-the-package",
        lambda: hostile.unsafe_name("../../outside.xml"),
        {},
        422,
        ["a part with an unsafe name (../../outside.xml)"],
    ),
    (
        "absolute-part-name",
        lambda: hostile.unsafe_name("/etc/passwd"),
        {},
        422,
        ["unsafe name (/etc/passwd)"],
    ),
    (
        "windows-part-name",
        lambda: hostile.unsafe_name("word\\..\\..\\evil.xml"),
        {},
        422,
        ["unsafe name"],
    ),
    (
        "duplicate-part",
        hostile.duplicate_part,
        {},
        422,
        ["it holds two parts named word/document.xml"],
    ),
    (
        "duplicate-part-in-other-case",
        lambda: hostile.unsafe_name("WORD/Document.xml"),
        {},
        422,
        ["it holds two parts named WORD/Document.xml"],
    ),
    (
        "part-and-folder",
        hostile.nested_part,
        {},
        422,
        ["word/document.xml is both a part and a folder of parts"],
    ),
]


@pytest.mark.parametrize(
    ("build", "limits", "status", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_hostile_file_is_refused_saying_which_limit(import_as_clerk, build, limits, status, words):
    response = import_as_clerk(build(), **limits)
    html = response.get_data(as_text=True)
    assert response.status_code == status, html
    for phrase in words:
        assert phrase in html, phrase
    assert not response.stored_something


def test_a_normal_file_passes_the_same_limits(import_as_clerk):
    response = import_as_clerk(
        hostile.normal(),
        WORD_MAX_PART_MB=1,
        WORD_MAX_UNPACKED_MB=2,
        WORD_MAX_PARTS=50,
        WORD_MAX_XML_ELEMENTS=20_000,
        WORD_MAX_BLOCK_MB=1,
        MAX_BODY_BYTES=100 * KB,
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.stored_something


def test_part_names_from_the_file_are_escaped_in_the_refusal(import_as_clerk):
    response = import_as_clerk(hostile.unsafe_name("word/<img src=x onerror=alert(1)>/../x"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html


def test_refusal_is_in_chinese_by_default(app, users, client_as):
    response = post_new(client_as("clerk"), hostile.many_parts(2_100))
    assert response.status_code == 422
    assert "2,103" in response.get_data(as_text=True)
    assert "最多" in response.get_data(as_text=True)


# -- item 19: no text is dropped after an entity -------------------------------------------


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (hostile.declared_entity(), "declares entities (&amp;foo;)"),
        (
            hostile.declared_entity('<!DOCTYPE w:document SYSTEM "http://example.com/w.dtd">'),
            "carries a document type declaration",
        ),
        (
            hostile.declared_entity(
                '<!DOCTYPE w:document [<!ENTITY foo SYSTEM "file:///etc/hostname">]>'
            ),
            "declares entities (&amp;foo;)",
        ),
        (hostile.undefined_entity(), "uses an entity &amp;foo; that is not defined"),
    ],
    ids=["internal-entity", "external-dtd", "external-entity", "undefined-entity"],
)
def test_text_around_an_entity_is_never_dropped_silently(import_as_clerk, data, words):
    """Before, lxml kept an entity as a node of its own, the text after it became that
    node's tail, and the import read "前面的字" only, saying nothing."""
    response = import_as_clerk(data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html
    assert words in html
    assert "Open the file in Word, save it as .docx and upload it again." in html
    assert not response.stored_something


def test_character_references_are_text_not_entities(app):
    text = hostile.paragraph("A&amp;B &#x4E2D;&#25991; &lt;C&gt;")
    data = hostile.docx(b"".join(hostile.body([text])))
    with app.test_request_context():
        assert convert(data).markdown == "A&B 中文 &lt;C>\n"


def test_limits_come_from_the_configuration(monkeypatch):
    monkeypatch.setenv("QMS_WORD_MAX_PARTS", "77")
    monkeypatch.setenv("QMS_WORD_MAX_PART_MB", "3")
    limits = ImportLimits.from_config(
        {k: getattr(config_for("testing"), k) for k in dir(config_for("testing")) if k.isupper()}
    )
    assert limits.max_parts == 77
    assert limits.max_part_bytes == 3 * MB
    assert limits.max_upload_bytes == 20 * MB


@pytest.mark.parametrize(
    ("inside", "text"),
    [
        ("前面<w:x/>后面", "前面后面"),
        ("前面<w:x>中</w:x>后面", "前面中后面"),
        ("前面<!-- 注释 -->后面", "前面后面"),
        ("前面<![CDATA[中]]>后面", "前面中后面"),
    ],
    ids=["empty-element", "element-with-text", "comment", "cdata"],
)
def test_nothing_inside_a_text_element_cuts_its_text_short(app, inside, text):
    data = hostile.docx(
        b"".join(hostile.body([f"<w:p><w:r><w:t>{inside}</w:t></w:r></w:p>".encode()]))
    )
    with app.test_request_context():
        assert convert(data).markdown == text + "\n"


def test_a_directory_that_understates_its_entries_is_still_counted(app):
    """The end record says one part; the directory holds 63: zipfile reads them all, and
    the count is checked again on what it read."""
    from qms.errors import Invalid
    from qms.word.import_docx import check_package

    data = bytearray(hostile.many_parts(60))
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = (1).to_bytes(2, "little") * 2
    with app.test_request_context(), pytest.raises(Invalid) as refused:
        check_package(bytes(data), "x.docx", ImportLimits(max_parts=50))
    assert "holds 63 parts; a Word file may hold at most 50" in str(refused.value)


def test_a_directory_larger_than_the_parts_allow_is_refused_before_it_is_read(app):
    from qms.errors import Invalid
    from qms.word.package import check_end_of_directory

    data = bytearray(hostile.normal())
    end = data.rfind(b"PK\x05\x06")
    data[end + 12 : end + 16] = (10 * MB).to_bytes(4, "little")  # central directory size
    with app.test_request_context(), pytest.raises(Invalid) as refused:
        check_end_of_directory(bytes(data), ImportLimits(max_parts=50))
    assert "a Word file may hold at most 50" in str(refused.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8-sig"])
def test_a_document_type_is_found_in_any_encoding(app, encoding):
    from qms.errors import Invalid

    xml = (
        f'<?xml version="1.0" encoding="{encoding.removesuffix("-sig").upper()}"?>\n'
        f'<!DOCTYPE w:document [<!ENTITY foo "x">]><w:document xmlns:w="{hostile.W_NS}">'
        "<w:body><w:p><w:r><w:t>前&foo;后</w:t></w:r></w:p></w:body></w:document>"
    )
    data = hostile.docx(xml.encode(encoding))
    with app.test_request_context(), pytest.raises(Invalid) as refused:
        convert(data)
    assert refused.value.code == "xml_entities"
    assert "&foo;" in str(refused.value)
