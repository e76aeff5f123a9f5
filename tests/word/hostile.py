"""Hostile .docx files, built as raw zips so that each is exactly what it claims to be.

Used by the refusal tests (small sizes, with lowered limits) and by `bench/upload.py`
(full sizes against the default limits). Every builder returns the file's bytes.
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
from collections.abc import Iterable, Iterator

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    b'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
PACKAGE_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
DOC_HEAD = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<w:document xmlns:w="{W_NS}"><w:body>'
).encode()
DOC_TAIL = b"</w:body></w:document>"
MB = 1024 * 1024


def paragraph(text: str) -> bytes:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>".encode()


def docx(
    document_xml: bytes | Iterable[bytes], extra: dict[str, bytes] | None = None, level: int = 1
) -> bytes:
    """A minimal, valid .docx around the given document.xml (bytes or chunks)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", PACKAGE_RELS)
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            for chunk in [document_xml] if isinstance(document_xml, bytes) else document_xml:
                part.write(chunk)
        for name, data in (extra or {}).items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # duplicate names are the point of some files
                archive.writestr(name, data)
    return out.getvalue()


def body(chunks: Iterable[bytes]) -> Iterator[bytes]:
    yield DOC_HEAD
    yield from chunks
    yield DOC_TAIL


def normal() -> bytes:
    """A small, ordinary document: the baseline."""
    return docx(b"".join(body([paragraph("客户服务中心受理业主投诉。"), paragraph("第二段。")])))


WORD_PARAGRAPH = (
    '<w:p w:rsidR="00A12B3C" w:rsidRDefault="00A12B3C"><w:pPr><w:spacing w:after="120" '
    'w:line="360" w:lineRule="auto"/><w:jc w:val="both"/></w:pPr><w:r><w:rPr><w:rFonts '
    'w:hint="eastAsia"/><w:sz w:val="21"/></w:rPr><w:t>客户服务中心受理{0}号投诉</w:t></w:r></w:p>'
)


def _varied_paragraphs(total_bytes: int, random_bytes: int = 3) -> Iterator[bytes]:
    """Paragraphs as Word writes them, each with a little random text: they compress about
    as well as real Word XML (15-20×), so neither the ratio nor the packed size gives the
    file away."""
    written = 0
    while written < total_bytes:
        noise = os.urandom(random_bytes * 2000).hex()
        step = random_bytes * 2
        chunk = "".join(
            WORD_PARAGRAPH.format(noise[i : i + step]) for i in range(0, len(noise), step)
        ).encode()
        written += len(chunk)
        yield chunk


def big_document_xml(unpacked: int = 200 * MB) -> bytes:
    """The reported case: a .docx of a few MB whose document.xml unpacks to `unpacked`
    bytes of ordinary-looking paragraphs."""
    return docx(body(_varied_paragraphs(unpacked)))


def zip_bomb(unpacked: int = 200 * MB) -> bytes:
    """A document.xml of one repeated paragraph, compressed far beyond any real file."""
    para = paragraph("投诉" * 20) * 1000
    return docx(body(para for _ in range(unpacked // len(para))), level=9)


def unpacks_beyond_total(parts: int = 3, part_size: int = 40 * MB) -> bytes:
    """Several media parts, each within the part limit, together beyond the total."""
    return docx(
        b"".join(body([paragraph("正文")])),
        {f"word/media/image{i}.bmp": _compressible(part_size) for i in range(parts)},
    )


def _compressible(size: int) -> bytes:
    """Bytes that deflate about 12× (as an uncompressed bitmap might): random, then zeros."""
    noise = os.urandom(size // 16 + 8)
    return b"".join(noise[i : i + 8] + bytes(120) for i in range(0, size // 16 + 8, 8))[:size]


def many_parts(count: int = 100_000) -> bytes:
    """A real document plus `count` tiny parts."""
    return docx(
        b"".join(body([paragraph("正文")])), {f"word/media/p{i}.xml": b"" for i in range(count)}
    )


def deeply_nested(depth: int = 100_000) -> bytes:
    """Structured-document tags nested `depth` levels around one paragraph."""
    opening = b"<w:sdt><w:sdtContent>" * depth
    closing = b"</w:sdtContent></w:sdt>" * depth
    return docx(b"".join(body([opening, paragraph("深处"), closing])))


def billion_laughs() -> bytes:
    """Entities that expand to 10^9 copies of "lol"."""
    lines = ['<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    head = (
        f'<?xml version="1.0"?>\n<!DOCTYPE w:document [{"".join(lines)}]>'
        f'<w:document xmlns:w="{W_NS}"><w:body>'
    ).encode()
    return docx(head + paragraph("&lol9;") + DOC_TAIL)


def declared_entity(dtd: str = '<!DOCTYPE w:document [<!ENTITY foo "内部">]>') -> bytes:
    """Text around an entity declared in a DTD: lxml would keep the text after the entity
    out of the paragraph's text (item 19)."""
    head = f'<?xml version="1.0"?>\n{dtd}<w:document xmlns:w="{W_NS}"><w:body>'.encode()
    return docx(head + paragraph("前面的字&foo;后面的字") + DOC_TAIL)


def undefined_entity() -> bytes:
    """Text around an entity no DTD defines."""
    return docx(b"".join(body([paragraph("前面的字&foo;后面的字")])))


def element_flood(paragraphs: int = 600_000) -> bytes:
    """Many small paragraphs of varied text: within the size limits, beyond the budget of
    XML elements."""

    def chunks() -> Iterator[bytes]:
        for start in range(0, paragraphs, 2000):
            yield b"".join(
                paragraph(os.urandom(4).hex()) for _ in range(min(2000, paragraphs - start))
            )

    return docx(body(chunks()))


def long_text(xml: int = 40 * MB) -> bytes:
    """Ordinary paragraphs, `xml` bytes of them, whose text is longer than a document body
    may be."""
    return docx(body(_varied_paragraphs(xml, random_bytes=24)))


def huge_paragraph(xml: int = 12 * MB, text: int = 1024) -> bytes:
    """One paragraph whose runs, of `text` characters each, take `xml` bytes."""

    def runs() -> Iterator[bytes]:
        yield b"<w:p>"
        written = 0
        while written < xml:
            chunk = b"".join(
                f"<w:r><w:t>{os.urandom(text // 2).hex()}</w:t></w:r>".encode()
                for _ in range(max(1, 65536 // text))
            )
            written += len(chunk)
            yield chunk
        yield b"</w:p>"

    return docx(body(runs()))


def unsafe_name(name: str = "../../outside.xml") -> bytes:
    return docx(b"".join(body([paragraph("正文")])), {name: b"<x/>"})


def duplicate_part() -> bytes:
    return docx(
        b"".join(body([paragraph("正文")])),
        {"word/document.xml": b"".join(body([paragraph("另一份正文")]))},
    )


def nested_part() -> bytes:
    """A name that is both a part and a folder holding another part."""
    return docx(b"".join(body([paragraph("正文")])), {"word/document.xml/inner.xml": b"<x/>"})
