"""A Word (.docx) file as a Markdown body.

Two steps, both pure (no database, no files written):
- `check_package(data, filename, limits)` refuses, before anything is parsed, a file
  that is not a .docx, is renamed, broken, encrypted, too large or a zip bomb;
- `convert(data, limits)` turns headings, lists, tables, emphasis and links into Markdown, returns
  images for the caller to store as attachments, and lists every piece of content it could
  not convert (text boxes, footnotes, comments, equations, SmartArt, tracked changes …)
  so that nothing is silently dropped.

Both read the file through `qms.word.package`, which bounds what a hostile file can cost:
the body is parsed one paragraph or table at a time, and the Markdown is refused as soon
as it grows past what a document body may hold.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l

from qms.errors import DomainError, Invalid, TooLarge
from qms.word.export_docx import APPROVAL_TABLE, COVER_STYLE, COVER_TABLE, HEADER_TABLE
from qms.word.package import (
    ImportLimits,
    Package,
    Relationship,
    collector_paused,
    megabytes,
)

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")
WORD_MAIN = "wordprocessingml.document.main"
LIST_LEVELS = 9  # Word's list levels 0-8
MAX_COLUMNS = 63  # Word's widest table
MACRO_MAIN = "ms-word.document.macroenabled.main"

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
M = "http://schemas.openxmlformats.org/officeDocument/2006/math"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
V = "urn:schemas-microsoft-com:vml"
DC = "http://purl.org/dc/elements/1.1/"
NS = {"w": W, "r": R, "a": A, "wp": WP, "m": M, "mc": MC, "v": V}

SHOWN_IMAGE_TYPES = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/webp": "webp",
}
MONO_FONTS = {"consolas", "courier new", "courier", "menlo", "monaco"}
DIAGRAM_URI = "http://schemas.openxmlformats.org/drawingml/2006/diagram"
CHART_URI = "http://schemas.openxmlformats.org/drawingml/2006/chart"
PICTURE_URI = "http://schemas.openxmlformats.org/drawingml/2006/picture"


@functools.cache
def w(tag: str) -> str:
    return f"{{{W}}}{tag}"


# Tags read for every paragraph and run, built once.
_P, _R, _T, _PPR, _RPR, _PSTYLE, _NUMPR, _OUTLINE_LVL, _INS, _VAL = (
    w(tag) for tag in ("p", "r", "t", "pPr", "rPr", "pStyle", "numPr", "outlineLvl", "ins", "val")
)
_B, _I, _RSTYLE, _RFONTS, _U, _COLOR, _HIGHLIGHT, _VERTALIGN = (
    w(tag) for tag in ("b", "i", "rStyle", "rFonts", "u", "color", "highlight", "vertAlign")
)


class UnsupportedType(DomainError):
    def __init__(self, message: Any, **kw: Any) -> None:
        kw.setdefault("code", "unsupported_type")
        super().__init__(message, status=415, **kw)


# What the user is told about content that was not converted, by kind.
KIND_LABELS = {
    "text_box": _l("Text boxes (their text was not imported)"),
    "footnote": _l("Footnotes and endnotes (the notes were not imported)"),
    "comment": _l("Comments (not imported)"),
    "equation": _l("Equations (not imported)"),
    "smartart": _l("SmartArt diagrams (not imported)"),
    "chart": _l("Charts (not imported)"),
    "embedded_object": _l("Embedded objects such as spreadsheets (not imported)"),
    "shape": _l("Drawing shapes (not imported)"),
    "image_format": _l("Images in a format browsers cannot show, e.g. EMF/WMF/TIFF (not imported)"),
    "image_missing": _l("Images whose data is missing from the file (not imported)"),
    "tracked_change": _l("Tracked changes (taken as shown: insertions kept, deletions left out)"),
    "merged_cells": _l("Merged table cells (split; the text stays in the first cell)"),
    "nested_table": _l("Tables inside tables (flattened into the outer cell as text)"),
    "table_of_contents": _l("Table of contents (left out; the system lists headings itself)"),
    "header_footer": _l("Header and footer text (not imported; copies get the system's header)"),
    "watermark": _l("Watermarks (not imported; copies get the system's marks)"),
    "heading_numbers": _l("Automatic heading numbers (Markdown headings carry no numbers)"),
    "formatting": _l("Underline, colour and highlighting (only bold and italic are kept)"),
    "symbol": _l("Special symbols from symbol fonts (not imported)"),
    "alt_chunk": _l("Embedded HTML or RTF chunks (not imported)"),
    "qms_cover": _l("The cover and approval page of a copy printed by this system (left out)"),
}


@dataclass
class Image:
    sha256: str
    data: bytes
    content_type: str
    filename: str
    alt: str


@dataclass
class Conversion:
    markdown: str
    images: list[Image] = field(default_factory=list)
    unconverted: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""
    heading_count: int = 0


# -- refusing bad files ---------------------------------------------------------------


def check_package(data: bytes, filename: str, limits: ImportLimits | None = None) -> None:
    """Refuse anything that is not a sound, unencrypted .docx within the limits, reading
    only the zip directory and unpacking each part once into nothing (never trusting
    declared sizes)."""
    limits = limits or ImportLimits()
    if len(data) > limits.max_upload_bytes:
        raise TooLarge(
            _l(
                "The file is larger than the limit of %(mb)s MB.",
                mb=megabytes(limits.max_upload_bytes),
            )
        )
    if not data:
        raise Invalid(_l("The file is empty."), code="empty_file")
    if not filename.lower().endswith(".docx"):
        raise UnsupportedType(
            _l(
                "Only Word .docx files can be imported. Save the file as "
                "“Word Document (*.docx)” and upload it again."
            )
        )
    if data.startswith(OLE_SIGNATURE):
        if ENCRYPTION_STREAM in data:
            raise Invalid(
                _l(
                    "The file is password-protected (encrypted). Remove the password "
                    "in Word (File › Info › Protect Document) and upload it again."
                ),
                code="encrypted",
            )
        raise UnsupportedType(
            _l(
                "This is an old Word 97–2003 file renamed to .docx. Open it "
                "in Word and save it as “Word Document (*.docx)”."
            )
        )
    if not data.startswith(b"PK"):
        raise UnsupportedType(
            _l("This file is not a Word document, although its name ends in .docx.")
        )
    with collector_paused(), Package(data, limits) as package:
        if not package.has("[Content_Types].xml"):
            raise UnsupportedType(
                _l("This file is not a Word document, although its name ends in .docx.")
            )
        main = _main_part(package)
        content_type = package.content_type(main).lower() if main else ""
        if MACRO_MAIN in content_type:
            raise UnsupportedType(
                _l(
                    "This is a macro-enabled Word file (.docm). Save it as a "
                    "plain .docx without macros."
                )
            )
        if WORD_MAIN not in content_type:
            raise UnsupportedType(
                _l(
                    "This file is not a Word document (it may be a "
                    "spreadsheet or presentation renamed to .docx)."
                )
            )
        package.verify_all()


def _main_part(package: Package) -> str:
    """The name of the main document part, from the package relationships."""
    for rel in package.relationships("").values():
        if rel.rel_type.endswith("/officeDocument") and rel.target and package.has(rel.target):
            return rel.target
    return ""


# -- converting -------------------------------------------------------------------------


def convert(data: bytes, limits: ImportLimits | None = None) -> Conversion:
    """The Markdown body of a checked .docx, its images and what could not be converted.
    The zip directory is checked again, and every part is parsed within the limits."""
    limits = limits or ImportLimits()
    with collector_paused(), Package(data, limits) as package:
        main = _main_part(package)
        if not main:
            raise Invalid(
                _l("The file is damaged: it cannot be read as a Word document."), code="damaged"
            )
        return _Converter(package, main).run()


class _Report:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.samples: dict[str, list[str]] = {}

    def add(self, kind: str, sample: str = "", count: int = 1) -> None:
        self.counts[kind] += count
        sample = " ".join(sample.split())
        if sample:
            bucket = self.samples.setdefault(kind, [])
            if len(bucket) < 3:
                bucket.append(sample[:80] + ("…" if len(sample) > 80 else ""))

    def items(self) -> list[dict[str, Any]]:
        order = list(KIND_LABELS)
        return [
            {"kind": kind, "count": self.counts[kind], "samples": self.samples.get(kind, [])}
            for kind in sorted(self.counts, key=lambda k: order.index(k) if k in order else 99)
        ]


@dataclass
class _Segment:
    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False
    raw: bool = False  # already Markdown (links, images, breaks): not escaped or wrapped


class _Converter:
    def __init__(self, package: Package, main: str) -> None:
        self.package = package
        self.main = main
        self.rels = package.relationships(main)
        self.limits = package.limits
        self.parsed: dict[str, Any] = {}  # parts read more than once (notes)
        self.images_by_part: dict[str, Image | None] = {}
        self.notes: dict[str, dict[str | None, str]] = {}
        self.measured = 0  # blocks counted into `length` so far
        self.length = 0  # UTF-8 bytes of the Markdown so far
        self.report = _Report()
        self.images: dict[str, Image] = {}
        self.blocks: list[str] = []
        self.heading_count = 0
        self.first_heading = ""
        self.styles = self._style_table()
        # numId → (its abstract list, the levels it restarts): Word and LibreOffice give
        # the items of one list different numIds that share an abstract list
        self.num_lists: dict[int, tuple[str, frozenset[int]]] = {}
        self.numbering = self._numbering_table()
        self.list_nums: dict[int, int] = {}
        self.list_counters: dict[int, int] = {}
        self.list_keys: dict[int, str] = {}
        self.list_level = -1
        self.format_lost = 0

    # tables built once: style id → (name, outline level, numPr); numbering → ordered?
    def _style_table(self) -> dict[str, tuple[str, int | None, tuple[int, int] | None]]:
        table: dict[str, tuple[str, int | None, tuple[int, int] | None]] = {}
        raw: dict[str, Any] = {}
        root = self._related_xml("styles")
        if root is None:
            return table
        for style in root.iterchildren(w("style")):
            raw[style.get(w("styleId"))] = style
        for style_id in raw:
            chain: list[str] = []
            in_chain: set[str] = set()
            current: str | None = style_id
            while current and current in raw and current not in table and current not in in_chain:
                chain.append(current)
                in_chain.add(current)
                based = raw[current].find(w("basedOn"))
                current = based.get(w("val")) if based is not None else None
            # a style based on itself (a loop) inherits nothing
            inherited = (
                ("", None, None)
                if current in in_chain
                else table.get(current or "", ("", None, None))
            )
            for link in reversed(chain):
                element = raw[link]
                name_el = _child(element, w("name"))
                name = (name_el.get(w("val")) or "") if name_el is not None else link
                outline, num = None, None
                p_pr = _child(element, w("pPr"))
                if p_pr is not None:
                    lvl = _child(p_pr, w("outlineLvl"))
                    outline = _int(lvl.get(w("val")), 9) if lvl is not None else None
                    num_pr = _child(p_pr, w("numPr"))
                    num = _num_pr(num_pr) if num_pr is not None else None
                inherited = (
                    name.lower() or inherited[0],
                    outline if outline is not None else inherited[1],
                    num if num is not None else inherited[2],
                )
                table[link] = inherited
        return table

    def _numbering_table(self) -> dict[tuple[int, int], bool]:
        ordered: dict[tuple[int, int], bool] = {}
        root = self._related_xml("numbering")
        if root is None:
            return ordered
        abstract: dict[str, dict[int, bool]] = {}
        for element in root.iterchildren(w("abstractNum")):
            levels: dict[int, bool] = {}
            for lvl in element.iterchildren(w("lvl")):
                fmt = _child(lvl, w("numFmt"))
                value = fmt.get(w("val")) if fmt is not None else "decimal"
                ilvl = _int(lvl.get(w("ilvl")), 0)
                if 0 <= ilvl < LIST_LEVELS:
                    levels[ilvl] = value not in ("bullet", "none")
            abstract[element.get(w("abstractNumId"))] = levels
        for num in root.iterchildren(w("num")):
            num_id = _int(num.get(w("numId")), 0)
            ref = _child(num, w("abstractNumId"))
            abstract_id = (ref.get(w("val")) if ref is not None else None) or f"#{num_id}"
            levels = dict(abstract.get(abstract_id, {}))
            restarts = frozenset(
                _int(override.get(w("ilvl")), 0)
                for override in num.iterchildren(w("lvlOverride"))
                if _child(override, w("startOverride")) is not None
            )
            self.num_lists[num_id] = (abstract_id, restarts)
            for override in num.iterchildren(w("lvlOverride")):
                lvl = _child(override, w("lvl"))
                if lvl is not None:
                    fmt = _child(lvl, w("numFmt"))
                    value = fmt.get(w("val")) if fmt is not None else "decimal"
                    ilvl = _int(override.get(w("ilvl")), 0)
                    if 0 <= ilvl < LIST_LEVELS:
                        levels[ilvl] = value not in ("bullet", "none")
            for ilvl, is_ordered in levels.items():
                ordered[(num_id, ilvl)] = is_ordered
        return ordered

    # the walk
    def run(self) -> Conversion:
        for block in self.package.body_blocks(self.main):
            self._body_child(block)
            self._check_length()
        self._close_list()
        self._headers_and_footers()
        self._notes_and_comments()
        if self.format_lost:
            self.report.add("formatting", count=self.format_lost)
        markdown = "\n".join(self.blocks).strip() + "\n" if self.blocks else ""
        markdown = re.sub(r"\n{3,}", "\n\n", markdown)
        title = self._core_title() or self.first_heading
        return Conversion(
            markdown=markdown,
            images=list(self.images.values()),
            unconverted=self.report.items(),
            title=title[:200],
            heading_count=self.heading_count,
        )

    def _check_length(self) -> None:
        """Refuse as soon as the Markdown outgrows a document body, not after the whole
        file has been converted."""
        for block in self.blocks[self.measured :]:
            self.length += len(block.encode("utf-8")) + 1
        self.measured = len(self.blocks)
        if self.length > self.limits.max_body_bytes:
            raise self._body_too_large()

    def _body_too_large(self) -> TooLarge:
        return TooLarge(
            _l(
                "The text of the file comes to more than %(limit)s MB, the most one document "
                "may hold. Split the document or move material into attachments.",
                limit=megabytes(self.limits.max_body_bytes),
            ),
            code="body_too_large",
        )

    def _core_title(self) -> str:
        for rel in self.package.relationships("").values():
            if rel.rel_type.endswith("/core-properties") and rel.target:
                root = self.package.xml(rel.target)
                title = root.find(f"{{{DC}}}title") if root is not None else None
                return (title.text or "").strip() if title is not None else ""
        return ""

    def _body_children(self, parent: Any) -> None:
        for child in parent.iterchildren():
            self._body_child(child)

    def _body_child(self, child: Any) -> None:
        tag = child.tag
        if tag == _P:
            self._paragraph(child)
        elif tag == w("tbl"):
            self._close_list()
            self._table(child)
        elif tag == w("sdt"):
            content = _child(child, w("sdtContent"))
            if content is not None:
                self._body_children(content)
        elif tag in (w("customXml"), w("ins"), w("moveTo")):
            if tag != w("customXml"):
                self.report.add("tracked_change")
            self._body_children(child)
        elif tag in (w("del"), w("moveFrom")):
            self.report.add("tracked_change", _all_text(child))
        elif tag == w("altChunk"):
            self.report.add("alt_chunk")

    def _paragraph(self, p: Any) -> None:
        if not len(p):
            return  # an empty paragraph: nothing to convert, and a list goes on after it
        p_pr = _leading(p, _PPR)
        style_id = ""
        num: tuple[int, int] | None = None
        outline: int | None = None
        if p_pr is not None:
            props = _children_by_tag(p_pr)
            style_el = props.get(_PSTYLE)
            style_id = style_el.get(_VAL, "") if style_el is not None else ""
            num_pr = props.get(_NUMPR)
            if num_pr is not None:
                num = _num_pr(num_pr)
            lvl = props.get(_OUTLINE_LVL)
            if lvl is not None:
                outline = _int(lvl.get(_VAL), 9)
            mark = props.get(_RPR)
            if mark is not None and _child(mark, _INS) is not None:
                self.report.add("tracked_change")
        name, style_outline, style_num = self.styles.get(style_id, ("", None, None))
        if style_id and not name:
            name = style_id.lower()
        if name.startswith(COVER_STYLE.lower()):
            self._skip_cover()
            return
        if name.startswith("toc ") or name == "toc heading":
            self.report.add("table_of_contents", _all_text(p))
            return
        num = num if num is not None else style_num
        if num is not None and num[1] == 0:
            num = None  # numId 0 switches numbering off
        level = _heading_level(name, outline if outline is not None else style_outline)
        text = self._inline(p).strip()
        if level:
            self._close_list()
            if num is not None:
                self.report.add("heading_numbers", text)
            if text:
                self.heading_count += 1
                self.first_heading = self.first_heading or _unescape(text)
                self.blocks.append(f"{'#' * level} {text}")
                self.blocks.append("")
            return
        if num is not None or (name.startswith("list ") and name != "list paragraph"):
            self._list_item(name, num, text)
            return
        if not text:
            return
        if name == "list paragraph" and self.list_level >= 0:
            indent = "    " * (self.list_level + 1)
            self.blocks.append("")
            self.blocks.append(indent + text.replace("\n", "\n" + indent))
            return
        self._close_list()
        if name in ("quote", "intense quote"):
            text = "> " + text
        elif name == "title":
            self.heading_count += 1
            self.first_heading = self.first_heading or _unescape(text)
            text = "# " + text
        self.blocks.append(text)
        self.blocks.append("")

    def _in_cover_style(self, element: Any) -> bool:
        """Whether the first paragraph inside is in the cover style, as every paragraph of
        the tables this system prints on a copy's cover and in its header is: the style
        survives LibreOffice and Word, which may drop the tables' captions."""
        first = next(element.iter(_P), None)
        props = _leading(first, _PPR) if first is not None else None
        style = _child(props, _PSTYLE) if props is not None else None
        if style is None:
            return False
        name = self.styles.get(style.get(_VAL, ""), ("",))[0] or style.get(_VAL, "").lower()
        return name.startswith(COVER_STYLE.lower())

    def _skip_cover(self) -> None:
        if not self.report.counts["qms_cover"]:
            self.report.add("qms_cover")

    def _list_item(self, name: str, num: tuple[int, int] | None, text: str) -> None:
        if num is not None:
            ilvl, num_id = num
            ordered = self.numbering.get((num_id, ilvl), False)
        else:  # "List Bullet 2", "List Number 3" without numbering attached
            match = re.search(r"(\d)$", name)
            ilvl = int(match.group(1)) - 1 if match else 0
            num_id = -1 if "number" in name else -2
            ordered = "number" in name
        ilvl = max(0, min(ilvl, self.list_level + 1, 8))
        list_id, restarts = self.num_lists.get(num_id, (f"#{num_id}", frozenset()))
        key = f"{list_id}:{ordered}"
        if self.list_level < 0:
            self.list_counters.clear()
            self.list_keys.clear()
            self.list_nums.clear()
        for deeper in [lvl for lvl in self.list_counters if lvl > ilvl]:
            self.list_counters.pop(deeper)
            self.list_keys.pop(deeper, None)
            self.list_nums.pop(deeper, None)
        restart = ilvl in restarts and self.list_nums.get(ilvl) != num_id
        self.list_nums[ilvl] = num_id
        if self.list_keys.get(ilvl) != key or restart:
            self.list_counters[ilvl] = 0
            if ilvl in self.list_keys and ilvl == 0:
                # a different list at top level: end the old one so Markdown starts anew
                self.blocks.append("")
            self.list_keys[ilvl] = key
        self.list_counters[ilvl] = self.list_counters.get(ilvl, 0) + 1
        marker = f"{self.list_counters[ilvl]}." if ordered else "-"
        indent = "    " * ilvl
        self.blocks.append(f"{indent}{marker} {text}".rstrip())
        self.list_level = ilvl

    def _close_list(self) -> None:
        if self.list_level >= 0:
            self.blocks.append("")
            self.list_level = -1
            self.list_counters.clear()
            self.list_keys.clear()
            self.list_nums.clear()

    def _table(self, tbl: Any) -> None:
        caption = tbl.find(f"{w('tblPr')}/{w('tblCaption')}")
        if (
            caption is not None and caption.get(w("val")) in (COVER_TABLE, APPROVAL_TABLE)
        ) or self._in_cover_style(tbl):
            self._skip_cover()
            return
        rows: list[list[str]] = []
        merged = 0
        for tr in tbl.iterchildren(w("tr")):
            cells: list[str] = []
            for tc in _row_cells(tr):
                tc_pr = _child(tc, w("tcPr"))
                span = 1
                if tc_pr is not None:
                    grid = _child(tc_pr, w("gridSpan"))
                    span = _int(grid.get(w("val")), 1) if grid is not None else 1
                    span = max(1, min(span, MAX_COLUMNS))
                    vmerge = _child(tc_pr, w("vMerge"))
                    if vmerge is not None and vmerge.get(w("val"), "continue") == "continue":
                        merged += 1
                        cells.append("")
                        cells.extend([""] * (span - 1))
                        continue
                if span > 1:
                    merged += 1
                cells.append(self._cell(tc))
                cells.extend([""] * (span - 1))
            if not rows:  # the header row: Markdown makes it bold anyway
                cells = [_unbold(c) for c in cells]
            rows.append(cells)
        if merged:
            self.report.add("merged_cells", count=merged)
        if not rows:
            return
        width = max(len(r) for r in rows) or 1
        if len(rows) * (width * 3 + 4) > self.limits.max_body_bytes:
            raise self._body_too_large()  # padded to its widest row, it could not fit
        lines = []
        for i, row in enumerate(rows):
            row = row + [""] * (width - len(row))
            lines.append("| " + " | ".join(row) + " |")
            if i == 0:
                lines.append("|" + "|".join(["---"] * width) + "|")
        self.blocks.extend(lines)
        self.blocks.append("")

    def _cell(self, tc: Any) -> str:
        parts = []
        for child in tc.iterchildren():
            if child.tag == w("p"):
                text = self._inline(child).strip()
                if text:
                    parts.append(text)
            elif child.tag == w("tbl"):
                self.report.add("nested_table", _all_text(child))
                parts.append(_escape(" ".join(_all_text(child).split())))
            elif child.tag == w("sdt"):
                parts.append(_escape(" ".join(_all_text(child).split())))
        return "<br>".join(parts).replace("|", "\\|").replace("\n", "<br>")

    # inline content of one paragraph
    def _inline(self, p: Any) -> str:
        segments: list[_Segment] = []
        self._inline_children(p, segments, None)
        return _render_segments(segments)

    def _inline_children(self, parent: Any, out: list[_Segment], link: str | None) -> None:
        for child in parent.iterchildren():
            tag = child.tag
            if tag == _R:
                self._run(child, out)
            elif tag == w("hyperlink"):
                rel = self.rels.get(child.get(f"{{{R}}}id") or "")
                url = rel.target_ref if rel is not None and rel.is_external else ""
                inner: list[_Segment] = []
                lost = self.format_lost  # a link's own underline and colour are not lost
                self._inline_children(child, inner, url)
                self.format_lost = lost
                text = _render_segments(inner)
                if url and text:
                    out.append(_Segment(f"[{text}]({_escape_url(url)})", raw=True))
                else:
                    out.extend(inner)
            elif tag in (w("ins"), w("moveTo")):
                self.report.add("tracked_change", _all_text(child))
                self._inline_children(child, out, link)
            elif tag in (w("del"), w("moveFrom")):
                self.report.add("tracked_change", _all_text(child, deleted=True))
            elif tag in (w("smartTag"), w("customXml"), w("fldSimple")):
                self._inline_children(child, out, link)
            elif tag == w("sdt"):
                content = _child(child, w("sdtContent"))
                if content is not None:
                    self._inline_children(content, out, link)
            elif tag in (f"{{{M}}}oMath", f"{{{M}}}oMathPara"):
                self.report.add("equation", "".join(child.itertext()))

    def _run(self, r: Any, out: list[_Segment]) -> None:
        r_pr = _leading(r, _RPR)
        bold = italic = code = False
        if r_pr is not None:
            props = _children_by_tag(r_pr)
            bold = _on(props.get(_B))
            italic = _on(props.get(_I))
            style = props.get(_RSTYLE)
            if style is not None:
                name = self.styles.get(style.get(_VAL, ""), ("",))[0]
                bold = bold or name in ("strong", "bold")
                italic = italic or name in ("emphasis", "intense emphasis")
            fonts = props.get(_RFONTS)
            if fonts is not None and (fonts.get(w("ascii")) or "").lower() in MONO_FONTS:
                code = True
            underline = props.get(_U)
            color = props.get(_COLOR)
            if (
                (underline is not None and underline.get(_VAL, "single") != "none")
                or props.get(_HIGHLIGHT) is not None
                or (
                    color is not None
                    and color.get(_VAL, "auto").lower() not in ("auto", "000000", "0563c1")
                )
            ):
                self.format_lost += 1
            vert = props.get(_VERTALIGN)
            if vert is not None and vert.get(_VAL) in ("superscript", "subscript"):
                tag = "sup" if vert.get(_VAL) == "superscript" else "sub"
                text = "".join(_text(t) for t in r.iterchildren(_T))
                if text:
                    out.append(_Segment(f"<{tag}>{_escape(text)}</{tag}>", raw=True))
                return
        for child in r.iterchildren():
            tag = child.tag
            if tag == _T:
                text = _text(child)
                if text:
                    out.append(_Segment(text, bold, italic, code))
            elif tag in (w("tab"), w("ptab")):
                out.append(_Segment(" ", bold, italic, code))
            elif tag in (w("br"), w("cr")):
                if child.get(w("type")) not in ("page", "column"):
                    out.append(_Segment("<br>", raw=True))
            elif tag == w("noBreakHyphen"):
                out.append(_Segment("-", bold, italic, code))
            elif tag == w("drawing"):
                self._drawing(child, out)
            elif tag == w("pict"):
                self._vml(child)
            elif tag == f"{{{MC}}}AlternateContent":
                choice = child.find(f"{{{MC}}}Choice")
                chosen = choice if choice is not None else child.find(f"{{{MC}}}Fallback")
                if chosen is not None:
                    self._run(chosen, out)
            elif tag == w("object"):
                self.report.add("embedded_object")
            elif tag in (w("footnoteReference"), w("endnoteReference")):
                self.report.add("footnote", self._note_text(child))
            elif tag == w("commentReference"):
                pass  # counted from the comments part
            elif tag == w("sym"):
                self.report.add("symbol")
            elif tag == w("instrText") and (child.text or "").strip().upper().startswith("TOC"):
                self.report.add("table_of_contents")

    def _drawing(self, drawing: Any, out: list[_Segment]) -> None:
        graphic = drawing.find(f".//{{{A}}}graphicData")
        uri = graphic.get("uri") if graphic is not None else ""
        if drawing.find(f".//{w('txbxContent')}") is not None:
            self.report.add("text_box", _all_text(drawing))
            return
        if uri == DIAGRAM_URI:
            self.report.add("smartart")
            return
        if uri == CHART_URI:
            self.report.add("chart")
            return
        blip = drawing.find(f".//{{{A}}}blip")
        if uri != PICTURE_URI or blip is None:
            self.report.add("shape")
            return
        doc_pr = drawing.find(f".//{{{WP}}}docPr")
        alt = ""
        if doc_pr is not None:
            alt = doc_pr.get("descr") or doc_pr.get("title") or ""
        rel = self.rels.get(blip.get(f"{{{R}}}embed") or "")
        if rel is None or rel.is_external or not self.package.has(rel.target):
            self.report.add("image_missing", alt)
            return
        content_type = self.package.content_type(rel.target)
        if content_type not in SHOWN_IMAGE_TYPES:
            self.report.add("image_format", f"{alt} ({content_type})".strip())
            return
        image = self._image(rel.target, content_type, alt)
        label = _escape(alt.replace("\n", " ")) or "image"
        out.append(_Segment(f"![{label}](/attachments/{image.sha256})", raw=True))

    def _image(self, part: str, content_type: str, alt: str) -> Image:
        """Each image part unpacked once, however often the body shows it."""
        image = self.images_by_part.get(part)
        if image is None:
            blob = self.package.read(part)
            sha = hashlib.sha256(blob).hexdigest()
            image = self.images.get(sha) or Image(
                sha256=sha,
                data=blob,
                content_type=content_type,
                filename=posixpath.basename(part),
                alt=alt,
            )
            self.images.setdefault(sha, image)
            self.images_by_part[part] = image
        return image

    def _vml(self, pict: Any) -> None:
        if pict.find(f".//{w('txbxContent')}") is not None:
            self.report.add("text_box", _all_text(pict))
        elif pict.find(f".//{{{V}}}textpath") is not None:
            self.report.add("watermark", pict.find(f".//{{{V}}}textpath").get("string", ""))
        elif pict.find(f".//{{{V}}}imagedata") is not None:
            self.report.add("image_format", "VML")
        else:
            self.report.add("shape")

    # notes, comments, headers: parts other than the body
    def _related(self, suffix: str) -> list[Relationship]:
        return [
            rel
            for rel in self.rels.values()
            if not rel.is_external and rel.target and rel.rel_type.endswith("/" + suffix)
        ]

    def _related_xml(self, suffix: str) -> Any:
        """The first part of that relationship type, parsed once."""
        for rel in self._related(suffix):
            if rel.target not in self.parsed:
                self.parsed[rel.target] = self.package.xml(rel.target)
            return self.parsed[rel.target]
        return None

    def _note_text(self, ref: Any) -> str:
        kind = "footnotes" if ref.tag == w("footnoteReference") else "endnotes"
        notes = self.notes.get(kind)
        if notes is None:
            root = self._related_xml(kind)
            tag = w("footnote") if kind == "footnotes" else w("endnote")
            notes = self.notes[kind] = {}
            for note in root.iterchildren(tag) if root is not None else ():
                notes.setdefault(note.get(w("id")), _all_text(note))
        return notes.get(ref.get(w("id")), "")

    def _notes_and_comments(self) -> None:
        root = self._related_xml("comments")
        if root is not None:
            for comment in root.iterchildren(w("comment")):
                author = comment.get(w("author"), "")
                self.report.add("comment", f"{author}: {_all_text(comment)}")

    def _headers_and_footers(self) -> None:
        for rel in self._related("header") + self._related("footer"):
            root = self.package.xml(rel.target)
            if root is None:
                continue
            ours = any(c.get(w("val")) == HEADER_TABLE for c in root.iter(w("tblCaption"))) or any(
                self._in_cover_style(tbl) for tbl in root.iter(w("tbl"))
            )
            for textpath in root.iter(f"{{{V}}}textpath"):
                if not ours:
                    self.report.add("watermark", textpath.get("string", ""))
            if ours:
                self._skip_cover()
                continue
            text = " ".join(t for t in (_field_free_text(p) for p in root.iter(w("p"))) if t)
            if text.strip():
                self.report.add("header_footer", text)


def _num_pr(num_pr: Any) -> tuple[int, int] | None:
    ilvl = _child(num_pr, w("ilvl"))
    num_id = _child(num_pr, w("numId"))
    if num_id is None:
        return None
    return (_int(ilvl.get(w("val")), 0) if ilvl is not None else 0, _int(num_id.get(w("val")), 0))


def _children_by_tag(element: Any) -> dict[str, Any]:
    """An element's children by tag (the first of each), read in one pass."""
    return {child.tag: child for child in reversed(element)}


def _text(t: Any) -> str:
    """All the text of a text element. Word writes only text in `w:t`; anything else in
    it (an element, whose tail holds the text after it) must not cut the text short."""
    return (t.text or "") if not len(t) else "".join(t.itertext())


def _leading(element: Any, tag: str) -> Any:
    """The properties child, which the schema puts first (read for every paragraph/run)."""
    first = element[0] if len(element) else None
    return first if first is not None and first.tag == tag else None


def _child(element: Any, tag: str) -> Any:
    """The first child with that tag (cheaper than `find`, which parses a path)."""
    return next(element.iterchildren(tag), None)


def _int(value: str | None, default: int) -> int:
    """An attribute as a number; Word's own files always have one, others may not."""
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _heading_level(name: str, outline: int | None) -> int:
    match = re.fullmatch(r"heading (\d)", name)
    if match:
        return min(int(match.group(1)), 6)
    if outline is not None and outline < 9 and name not in ("title", "subtitle"):
        return min(outline + 1, 6)
    return 0


def _row_cells(tr: Any) -> list[Any]:
    cells = []
    for child in tr.iterchildren():
        if child.tag == w("tc"):
            cells.append(child)
        elif child.tag in (w("sdt"), w("customXml")):
            content = _child(child, w("sdtContent")) if child.tag == w("sdt") else child
            if content is not None:
                cells.extend(content.iterchildren(w("tc")))
    return cells


def _on(element: Any) -> bool:
    if element is None:
        return False
    return element.get(w("val"), "true").lower() not in ("0", "false", "off", "none")


def _all_text(element: Any, *, deleted: bool = False) -> str:
    tags = {w("t")} | ({w("delText")} if deleted else set())
    return "".join(_text(t) for t in element.iter() if t.tag in tags)


def _field_free_text(p: Any) -> str:
    """A header paragraph's visible text, without cached PAGE/NUMPAGES results."""
    return "".join(_text(t) for t in p.iter(w("t"))).strip()


_ESCAPE = re.compile(r"([\\`*_\[\]])")
_LINE_START = re.compile(r"^(\s*)(#|>|[-+](?=\s))")
_LINE_START_NUMBER = re.compile(r"^(\s*)(\d+)(\.\s)")


def _escape(text: str) -> str:
    return _ESCAPE.sub(r"\\\1", text).replace("<", "&lt;")


def _unescape(text: str) -> str:
    return re.sub(r"\\([\\`*_\[\]])", r"\1", text).replace("&lt;", "<")


def _unbold(cell: str) -> str:
    if cell.startswith("**") and cell.endswith("**") and cell.count("**") == 2:
        return cell[2:-2]
    return cell


def _escape_url(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def _render_segments(segments: list[_Segment]) -> str:
    if not segments:
        return ""
    merged: list[_Segment] = []
    for seg in segments:
        if not seg.text:
            continue
        last = merged[-1] if merged else None
        if (
            last is not None
            and not last.raw
            and not seg.raw
            and last.bold == seg.bold
            and last.italic == seg.italic
            and last.code == seg.code
        ):
            last.text += seg.text
        else:
            merged.append(_Segment(seg.text, seg.bold, seg.italic, seg.code, seg.raw))
    out = []
    for seg in merged:
        if seg.raw:
            out.append(seg.text)
            continue
        text = seg.text.replace("\n", " ")
        core = text.strip()
        if not core or not (seg.bold or seg.italic or seg.code):
            out.append(_escape(text))
            continue
        lead = text[: len(text) - len(text.lstrip())]
        trail = text[len(text.rstrip()) :]
        body = f"`{core.replace('`', '')}`" if seg.code else _escape(core)
        if seg.italic:
            body = f"*{body}*"
        if seg.bold:
            body = f"**{body}**"
        out.append(f"{lead}{body}{trail}")
    text = "".join(out)
    first = text.lstrip()[:1]
    if not first or (first not in "#>-+" and not first.isdigit()):
        return text  # nothing Markdown would read as a block marker
    text = _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text, count=1)
    return _LINE_START_NUMBER.sub(
        lambda m: m.group(1) + m.group(2) + "\\" + m.group(3), text, count=1
    )
