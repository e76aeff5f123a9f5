"""Chinese is the default and English is complete: every message in the code and the
templates has a Chinese translation, with the same placeholders."""

import re

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from qms.config import PROJECT_ROOT

CATALOG = PROJECT_ROOT / "qms/translations/zh_Hans_CN/LC_MESSAGES/messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
METHODS = [("**.py", "python"), ("**.html", "jinja2")]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _wanted(path: str) -> bool:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return not name.startswith(".") and name != "__pycache__"  # templates/_macros counts


def _extracted() -> set[str]:
    found: set[str] = set()
    for folder in ("qms", "templates"):
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            PROJECT_ROOT / folder, METHODS, keywords=KEYWORDS, directory_filter=_wanted
        ):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_message_has_a_chinese_translation():
    with CATALOG.open("rb") as f:
        catalog = read_po(f)
    translated = {m.id[0] if isinstance(m.id, tuple) else m.id: m.string for m in catalog if m.id}
    missing = sorted(m for m in _extracted() if not translated.get(m))
    assert missing == []


def test_placeholders_are_kept():
    with CATALOG.open("rb") as f:
        catalog = read_po(f)
    wrong = []
    for m in catalog:
        if not m.id or not m.string or isinstance(m.id, tuple):
            continue
        if sorted(PLACEHOLDER.findall(m.id)) != sorted(PLACEHOLDER.findall(m.string)):
            wrong.append(m.id)
    assert wrong == []
