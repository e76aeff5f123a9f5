"""Markdown to safe HTML: headings, lists, tables, emphasis. Whatever HTML or script a
body contains is sanitised away (nh3), never run. Images from other sites are not loaded
(a remote image tells its owner who reads which document, and when): a Markdown image
becomes a link the reader may follow, a raw HTML one loses its address."""

from __future__ import annotations

import hashlib
import re
import threading
import xml.etree.ElementTree as ET
from collections import OrderedDict
from urllib.parse import urlsplit

import markdown
import nh3
from flask_babel import get_locale
from flask_babel import gettext as _
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString

ALLOWED_TAGS = {
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "p",
    "br",
    "hr",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "b",
    "i",
    "code",
    "pre",
    "blockquote",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "a",
    "del",
    "ins",
    "sup",
    "sub",
    "span",
    "img",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "th": {"align", "colspan", "rowspan"},
    "td": {"align", "colspan", "rowspan"},
    "ol": {"start"},
    "img": {"src", "alt", "title"},
    "h1": {"id"},
    "h2": {"id"},
    "h3": {"id"},
    "h4": {"id"},
    "span": {"class"},  # only class="docno" (see _only_own_values)
}


def is_remote(src: str) -> bool:
    """An address on another site (or one we cannot read): anything but a path of ours."""
    src = src.strip()
    if src.startswith(("//", "\\", "/\\")):
        return True
    try:
        return bool(urlsplit(src).scheme)
    except ValueError:
        return True


class _RemoteImagesAsLinks(Treeprocessor):
    def run(self, root: ET.Element) -> None:
        for img in list(root.iter("img")):
            src = img.get("src", "")
            if not is_remote(src):
                continue
            name = img.get("alt") or img.get("title") or src
            img.tag = "a"
            img.attrib.clear()
            img.set("href", src)
            img.text = _("[Image from another site, not loaded: %(name)s]", name=name)


class _RemoteImages(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.treeprocessors.register(_RemoteImagesAsLinks(md), "qms_remote_images", 1)


# A document number (BD-KF-001) in the text is kept on one line: in a narrow table column on
# a phone it would otherwise break at its hyphens.
DOCUMENT_NUMBER = r"(?<![\w-])[A-Z]{2,4}-[A-Z]{2,4}-\d{2,4}(?![\w-])"


class _DocumentNumber(InlineProcessor):
    def handleMatch(  # type: ignore[override]
        self, m: re.Match[str], data: str
    ) -> tuple[ET.Element, int, int]:
        span = ET.Element("span")
        span.set("class", "docno")
        span.text = AtomicString(m.group(0))  # not matched again inside itself
        return span, m.start(0), m.end(0)


class _DocumentNumbers(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.inlinePatterns.register(_DocumentNumber(DOCUMENT_NUMBER, md), "qms_docno", 5)


# The only images a body shows are its own attachments (a Word import stores them there).
_OWN_IMAGE = re.compile(r"^/attachments/[0-9a-f]{64}$")


def _only_own_image_sources(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src" and not _OWN_IMAGE.match(value):
        return None
    if tag == "span" and attribute == "class" and value != "docno":
        return None  # a body may not style itself with the application's classes
    return value


# Bump when the rendering changes (extensions, allowed tags …): cached pages are keyed on it.
RENDERER_VERSION = "2"
# A revision's text never changes once stored, so its page reuses the HTML made from it.
# Bounded by the bytes of HTML kept (a body may be 2 MB), per process.
CACHE_BYTES = 32 * 1024 * 1024


class _RenderCache:
    """Least recently used HTML by sha256 of (renderer version, locale, Markdown)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.entries: OrderedDict[bytes, str] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: bytes) -> str | None:
        with self.lock:
            html = self.entries.get(key)
            if html is not None:
                self.entries.move_to_end(key)
            return html

    def put(self, key: bytes, html: str) -> None:
        cost = len(html)
        if cost > self.max_bytes // 4:
            return
        with self.lock:
            if key in self.entries:
                return
            self.entries[key] = html
            self.size += cost
            while self.size > self.max_bytes:
                _key, dropped = self.entries.popitem(last=False)
                self.size -= len(dropped)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.size = 0


_cache = _RenderCache(CACHE_BYTES)


def render(text: str) -> str:
    """Safe HTML of a Markdown body, made once per text and language in each process (the
    only translated words are those of a remote image's stand-in link)."""
    locale = str(get_locale() or "")
    key = hashlib.sha256(
        f"{RENDERER_VERSION}\0{locale}\0".encode() + (text or "").encode("utf-8", "surrogatepass")
    ).digest()
    html = _cache.get(key)
    if html is None:
        html = render_uncached(text)
        _cache.put(key, html)
    return html


def render_uncached(text: str) -> str:
    html = markdown.markdown(
        text or "",
        extensions=["tables", "sane_lists", "fenced_code", "toc", _RemoteImages(),
                    _DocumentNumbers()],
        extension_configs={"toc": {"permalink": False}, "tables": {"use_align_attribute": True}},
        output_format="html",
    )
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        attribute_filter=_only_own_image_sources,
    )


def plain_text(text: str) -> str:
    """The visible text of a Markdown body (for search snippets and diffs)."""
    return nh3.clean(render(text), tags=set())
