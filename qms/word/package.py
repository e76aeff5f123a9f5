"""An uploaded Word (.docx) package, opened within limits.

A .docx is a zip of XML parts. Everything a hostile file could use to exhaust a worker is
bounded here, before or while it is read, never after:
- from the zip's end record and directory, before any part is unpacked: the number of
  parts, each part's and the total unpacked size, the compression ratio, unsafe, duplicate
  or nested part names, encryption and compression methods;
- while unpacking: a part is read in chunks and refused as soon as it exceeds what the
  directory declared (zipfile also checks its CRC);
- while parsing XML: no document type declarations (they bring entities, whose text lxml
  would silently leave out, and entity expansion bombs), a budget of XML elements for the
  whole package, libxml2's own depth and text-node limits, and the body of
  `word/document.xml` parsed incrementally, one paragraph or table at a time.

Every refusal says which limit was reached, the file's figure and the limit. Messages that
quote the file (part names, entity names) are formatted eagerly with `gettext`, so they are
escaped like any other text when shown.
"""

from __future__ import annotations

import gc
import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from lxml import etree

from qms.config import Config
from qms.errors import Invalid, TooLarge

MB = 1024 * 1024
CHUNK = 1 << 16
RATIO_FLOOR = 1 * MB  # a small part may compress well without harm
DIRECTORY_BYTES_PER_PART = 1024  # a directory entry is 46 bytes plus its name and extras
MAX_PROLOGUE = 64 * 1024  # Word writes an XML declaration, nothing more, before the root
ALLOWED_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}  # all that OPC allows

W_MAIN = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W_BODY = f"{{{W_MAIN}}}body"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"


@dataclass(frozen=True)
class ImportLimits:
    """What one uploaded .docx may hold; `from_config` reads the QMS_* settings."""

    max_upload_bytes: int = Config.MAX_UPLOAD_MB * MB
    max_unpacked_bytes: int = Config.WORD_MAX_UNPACKED_MB * MB
    max_part_bytes: int = Config.WORD_MAX_PART_MB * MB
    max_ratio: int = Config.WORD_MAX_RATIO
    max_parts: int = Config.WORD_MAX_PARTS
    max_xml_elements: int = Config.WORD_MAX_XML_ELEMENTS
    max_block_bytes: int = Config.WORD_MAX_BLOCK_MB * MB
    max_body_bytes: int = Config.MAX_BODY_BYTES

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ImportLimits:
        return cls(
            max_upload_bytes=int(config["MAX_CONTENT_LENGTH"]),
            max_unpacked_bytes=int(config["WORD_MAX_UNPACKED_MB"]) * MB,
            max_part_bytes=int(config["WORD_MAX_PART_MB"]) * MB,
            max_ratio=int(config["WORD_MAX_RATIO"]),
            max_parts=int(config["WORD_MAX_PARTS"]),
            max_xml_elements=int(config["WORD_MAX_XML_ELEMENTS"]),
            max_block_bytes=int(config["WORD_MAX_BLOCK_MB"]) * MB,
            max_body_bytes=int(config["MAX_BODY_BYTES"]),
        )


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a file is parsed: every XML element seen
    makes a short-lived proxy object, and in a worker holding the whole application each
    collection they trigger walks all of its objects, tripling the parse time. The proxies
    are freed by reference counting; the collector runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def megabytes(size: int) -> str:
    """A size as a clerk reads it: "194 MB", "2.5 MB", "0.1 MB"."""
    value = size / MB
    return f"{value:,.0f}" if value >= 10 else f"{max(value, 0.1):.1f}"


def damaged(detail: str | None = None) -> Invalid:
    if detail:
        return Invalid(_("The file is damaged: %(detail)s", detail=detail), code="damaged")
    return Invalid(_l("The file is damaged: it cannot be opened as a .docx."), code="damaged")


@dataclass
class Relationship:
    rel_type: str
    target_ref: str
    is_external: bool
    target: str  # the part name inside the package; "" when external or outside the package


class Package:
    """A .docx whose zip directory passed the limits; parts are read and parsed within them.

    Use as a context manager. `elements` counts the XML elements parsed so far in all
    parts together, against `limits.max_xml_elements`."""

    def __init__(self, data: bytes, limits: ImportLimits) -> None:
        self.limits = limits
        self.elements = 0
        check_end_of_directory(data, limits)
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, struct.error):
            raise damaged() from None
        try:
            self.parts = check_directory(self.zip.infolist(), limits)
        except BaseException:
            self.zip.close()
            raise
        self._content_types: tuple[dict[str, str], dict[str, str]] | None = None

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc: object) -> None:
        self.zip.close()

    # -- parts as bytes ------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return name.lower() in self.parts

    def chunks(self, name: str) -> Iterator[bytes]:
        """The part's bytes in chunks, refused as soon as it unpacks to more than it
        declared or its checksum fails."""
        member = self.parts[name.lower()]
        size = 0
        try:
            with self.zip.open(member) as stream:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > member.file_size:
                        raise Invalid(
                            _(
                                "The file is refused: part %(name)s unpacks to more "
                                "than it declares (a “zip bomb”).",
                                name=member.filename,
                            ),
                            code="zip_bomb",
                        )
                    yield chunk
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            NotImplementedError,
            RuntimeError,
            ValueError,
            OSError,
        ):
            raise damaged(_("part %(name)s cannot be read.", name=member.filename)) from None

    def read(self, name: str) -> bytes:
        return b"".join(self.chunks(name))

    def verify_all(self) -> None:
        """Unpack every part once, checking sizes and checksums, keeping nothing."""
        for name in self.parts:
            for _chunk in self.chunks(name):
                pass

    # -- parts as XML --------------------------------------------------------------------
    def xml(self, name: str) -> Any:
        """A whole XML part, parsed within the element budget; None if there is no such part."""
        if not self.has(name):
            return None
        parser = _pull_parser()
        for chunk in self._xml_chunks(name):
            self._feed(parser, chunk, name)
            for _event in parser.read_events():
                self._count(name)
        return self._close(parser, name)

    def body_blocks(self, name: str) -> Iterator[Any]:
        """The children of `w:body` (paragraphs, tables …) one at a time, each complete,
        removed from the tree once the caller has had it: memory holds one block, not the
        document. A block larger than `max_block_bytes` of XML is refused."""
        parser = _pull_parser()
        body: Any = None
        read = block_start = 0
        for chunk in self._xml_chunks(name):
            chunk_start, read = read, read + len(chunk)
            self._feed(parser, chunk, name)
            for _event, element in parser.read_events():
                self._count(name)
                if body is None:
                    if element.tag == W_BODY:
                        body = element
                elif element.getparent() is body:
                    block_start = chunk_start
            if body is not None and len(body) > 1:
                # Parsing is in document order: every child but the last is complete.
                done = body[:-1]
                yield from done
                del body[: len(done)]
            if read - block_start > self.limits.max_block_bytes:
                raise TooLarge(
                    _l(
                        "One paragraph or table of the file takes more than %(limit)s MB of Word "
                        "XML, more than the import reads at once. Split it and upload the file "
                        "again.",
                        limit=megabytes(self.limits.max_block_bytes),
                    ),
                    code="too_complex",
                )
        self._close(parser, name)
        if body is not None:
            yield from list(body)

    def _xml_chunks(self, name: str) -> Iterator[bytes]:
        """The part's bytes, refused before parsing if its prologue declares a DTD."""
        chunks = self.chunks(name)
        head = b""
        for chunk in chunks:
            head += chunk
            state = prologue_state(head)
            if state == "dtd":
                raise document_type_refused(name, head)
            if state == "root":
                break
            if len(head) > MAX_PROLOGUE:
                raise damaged(_("part %(name)s does not start like a Word part.", name=name))
        if head:
            yield head
        yield from chunks

    def _feed(self, parser: Any, chunk: bytes, name: str) -> None:
        try:
            parser.feed(chunk)
        except etree.XMLSyntaxError as err:
            raise xml_refused(name, err) from None

    def _close(self, parser: Any, name: str) -> Any:
        try:
            return parser.close()
        except etree.XMLSyntaxError as err:
            raise xml_refused(name, err) from None

    def _count(self, name: str) -> None:
        self.elements += 1
        if self.elements > self.limits.max_xml_elements:
            raise TooLarge(
                _(
                    "The file holds more than %(limit)s XML elements (reached in part %(name)s), "
                    "more than a Word document of this size needs. Nothing was imported.",
                    limit=f"{self.limits.max_xml_elements:,}",
                    name=name,
                ),
                code="too_complex",
            )

    # -- relationships and content types ---------------------------------------------------
    def relationships(self, source: str) -> dict[str, Relationship]:
        """The relationships of a part ("" for the package itself), by id."""
        folder, base = posixpath.split(source)
        rels_name = posixpath.join(folder, "_rels", base + ".rels")
        root = self.xml(rels_name)
        found: dict[str, Relationship] = {}
        if root is None:
            return found
        for rel in root.iterchildren(f"{{{PACKAGE_RELS}}}Relationship"):
            target_ref = rel.get("Target") or ""
            external = (rel.get("TargetMode") or "").lower() == "external"
            found[rel.get("Id") or ""] = Relationship(
                rel_type=rel.get("Type") or "",
                target_ref=target_ref,
                is_external=external,
                target="" if external else resolve_target(folder, target_ref),
            )
        return found

    def content_type(self, name: str) -> str:
        if self._content_types is None:
            defaults: dict[str, str] = {}
            overrides: dict[str, str] = {}
            root = self.xml("[Content_Types].xml")
            if root is not None:
                for item in root.iterchildren(f"{{{CONTENT_TYPES}}}Default"):
                    defaults[(item.get("Extension") or "").lower()] = item.get("ContentType") or ""
                for item in root.iterchildren(f"{{{CONTENT_TYPES}}}Override"):
                    part = (item.get("PartName") or "").lstrip("/").lower()
                    overrides[part] = item.get("ContentType") or ""
            self._content_types = (defaults, overrides)
        defaults, overrides = self._content_types
        key = name.lower()
        return overrides.get(key) or defaults.get(key.rsplit(".", 1)[-1], "")


def resolve_target(folder: str, target_ref: str) -> str:
    """A relationship target as a part name; "" when it points outside the package."""
    target = target_ref.split("#", 1)[0].replace("\\", "/")
    path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
    path = posixpath.normpath(path) if path else ""
    if not path or path == "." or path.startswith("../") or path == "..":
        return ""
    return path


# -- the zip directory ---------------------------------------------------------------------

_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")


def check_end_of_directory(data: bytes, limits: ImportLimits) -> None:
    """Refuse too many parts from the zip's end record, before zipfile reads the directory
    into one object per entry."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - _EOCD.size - 65535))
    if at < 0 or at + _EOCD.size > len(data):
        raise damaged()
    (_sig, _disk, _cd_disk, _here, entries, cd_size, _cd_offset, _comment) = _EOCD.unpack_from(
        data, at
    )
    locator = at - _ZIP64_LOCATOR.size
    if locator >= 0 and data[locator : locator + 4] == b"PK\x06\x07":
        offset = _ZIP64_LOCATOR.unpack_from(data, locator)[2]
        if offset + _ZIP64_EOCD.size <= len(data) and data[offset : offset + 4] == b"PK\x06\x06":
            fields = _ZIP64_EOCD.unpack_from(data, offset)
            entries, cd_size = max(entries, fields[7]), max(cd_size, fields[8])
    if entries > limits.max_parts or cd_size > limits.max_parts * DIRECTORY_BYTES_PER_PART:
        shown = max(entries, cd_size // DIRECTORY_BYTES_PER_PART)
        raise too_many_parts(shown, limits)


def too_many_parts(count: int, limits: ImportLimits) -> Invalid:
    return Invalid(
        _l(
            "The file holds %(count)s parts; a Word file may hold at most %(limit)s. "
            "It is not a normal Word document.",
            count=f"{count:,}",
            limit=f"{limits.max_parts:,}",
        ),
        code="too_many_parts",
    )


_UNSAFE_NAME = re.compile(r"(^[/\\])|\\|(^[A-Za-z]:)|[\x00-\x1f]")


def check_directory(
    members: list[zipfile.ZipInfo], limits: ImportLimits
) -> dict[str, zipfile.ZipInfo]:
    """The parts by lower-case name, once the directory passed every limit."""
    if len(members) > limits.max_parts:
        raise too_many_parts(len(members), limits)
    parts: dict[str, zipfile.ZipInfo] = {}
    folders: set[str] = set()
    total = 0
    for member in members:
        name = member.filename
        if name.endswith("/") and member.file_size == 0:
            continue  # a folder entry, as some zip tools write
        segments = name.split("/")
        if _UNSAFE_NAME.search(name) or any(s in ("", ".", "..") for s in segments):
            raise Invalid(
                _(
                    "The file is refused: it holds a part with an unsafe name "
                    "(%(name)s), which no Word file has.",
                    name=name,
                ),
                code="unsafe_name",
            )
        key = name.lower()
        if key in parts:  # OPC part names ignore case
            raise Invalid(
                _("The file is refused: it holds two parts named %(name)s.", name=name),
                code="duplicate_part",
            )
        parts[key] = member
        folders.update(key.rsplit("/", n)[0] for n in range(1, len(segments)))
        if member.flag_bits & 0x1:
            raise Invalid(
                _l(
                    "The file is password-protected (encrypted). Remove the password "
                    "and upload it again."
                ),
                code="encrypted",
            )
        if member.compress_type not in ALLOWED_METHODS:
            raise Invalid(
                _(
                    "The file is refused: part %(name)s is compressed in a way Word never uses.",
                    name=name,
                ),
                code="damaged",
            )
        if member.file_size > limits.max_part_bytes:
            raise TooLarge(
                _(
                    "Part %(name)s of the file unpacks to %(size)s MB; one part may unpack to at "
                    "most %(limit)s MB.",
                    name=name,
                    size=megabytes(member.file_size),
                    limit=megabytes(limits.max_part_bytes),
                ),
                code="zip_bomb",
            )
        if member.file_size > RATIO_FLOOR:
            ratio = member.file_size / max(member.compress_size, 1)
            if ratio > limits.max_ratio:
                raise Invalid(
                    _(
                        "Part %(name)s of the file is compressed %(ratio)s times; at most "
                        "%(limit)s times is allowed. The file is refused as a “zip bomb”.",
                        name=name,
                        ratio=f"{ratio:,.0f}",
                        limit=f"{limits.max_ratio:,}",
                    ),
                    code="zip_bomb",
                )
        total += member.file_size
    if total > limits.max_unpacked_bytes:
        raise TooLarge(
            _l(
                "The file unpacks to %(size)s MB; a Word file may unpack to at most "
                "%(limit)s MB (a “zip bomb” is refused).",
                size=megabytes(total),
                limit=megabytes(limits.max_unpacked_bytes),
            ),
            code="zip_bomb",
        )
    nested = folders & parts.keys()
    if nested:
        raise Invalid(
            _(
                "The file is refused: %(name)s is both a part and a folder of parts.",
                name=sorted(nested)[0],
            ),
            code="duplicate_part",
        )
    return parts


# -- XML -----------------------------------------------------------------------------------


def _pull_parser() -> Any:
    # No resolve_entities=False: no DTD gets this far, and with it lxml's feed parser
    # reports an undefined entity as "no element found" instead of naming it.
    return etree.XMLPullParser(
        events=("start",),
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


_PROLOGUE = re.compile(r"(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.S)


def prologue_state(head: bytes) -> str:
    """ "dtd" if the XML declares a document type before its root element, "root" once
    the root element starts, "more" when the head does not tell yet."""
    text = _decode_head(head)
    rest = text[_PROLOGUE.match(text).end() :]  # type: ignore[union-attr]
    if rest[:9].upper() == "<!DOCTYPE":
        return "dtd"
    if rest.startswith(("<!--", "<?")) or (len(rest) < 9 and ">" not in rest):
        return "more"  # the head ends inside the prologue
    return "root"


def _decode_head(head: bytes) -> str:
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if head.startswith(b"\xff\xfe") or head[1:2] == b"\0":
        return head[: len(head) // 2 * 2].decode("utf-16-le", "ignore").lstrip("\ufeff")
    if head.startswith(b"\xfe\xff") or head[:1] == b"\0":
        return head[: len(head) // 2 * 2].decode("utf-16-be", "ignore").lstrip("\ufeff")
    return head.decode("latin-1")


_ENTITY_DECL = re.compile(r"<!ENTITY\s+(?:%\s+)?([^\s>]+)")


def document_type_refused(name: str, head: bytes) -> Invalid:
    entities = sorted(set(_ENTITY_DECL.findall(_decode_head(head))))[:5]
    if entities:
        return Invalid(
            _(
                "The file is refused: part %(name)s declares entities (%(entities)s) in a document "
                "type declaration. Word never writes these, and the text that uses them could not "
                "be imported faithfully. Open the file in Word, save it as .docx and upload it "
                "again.",
                name=name,
                entities=", ".join(f"&{e};" for e in entities),
            ),
            code="xml_entities",
        )
    return Invalid(
        _(
            "The file is refused: part %(name)s carries a document type declaration "
            "(<!DOCTYPE …>), which Word never writes; text that uses its entities could not be "
            "imported faithfully. Open the file in Word, save it as .docx and upload it again.",
            name=name,
        ),
        code="xml_entities",
    )


_UNDEFINED_ENTITY = re.compile(r"Entity '([^']{1,60})' not defined")


def xml_refused(name: str, err: etree.XMLSyntaxError) -> Invalid:
    message = str(err.msg or err)
    entity = _UNDEFINED_ENTITY.search(message)
    if entity:
        return Invalid(
            _(
                "The file is refused: part %(name)s uses an entity &%(entity)s; that is not "
                "defined, so the text around it cannot be read (line %(line)s). Open the file in "
                "Word, save it as .docx and upload it again.",
                name=name,
                entity=entity.group(1),
                line=err.lineno,
            ),
            code="xml_entities",
        )
    if "Excessive depth" in message:
        return Invalid(
            _(
                "The file is refused: part %(name)s is nested more than 256 levels deep, which no "
                "Word document is.",
                name=name,
            ),
            code="too_complex",
        )
    return damaged(
        _(
            "part %(name)s is not valid XML (line %(line)s: %(error)s).",
            name=name,
            line=err.lineno,
            error=message.strip()[:200],
        )
    )
