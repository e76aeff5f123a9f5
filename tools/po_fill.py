"""Fill msgstr values of the zh_CN catalog from a JSON mapping {msgid: msgstr}.

    python tools/po_fill.py mapping.json
Existing translations are overwritten only when the mapping names them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent.parent / "qms/translations/zh_Hans_CN/LC_MESSAGES/messages.po"


def main() -> None:
    mapping = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    with PO.open("rb") as f:
        catalog = read_po(f, locale="zh_CN")
    filled = 0
    for message in catalog:
        if message.id and message.id in mapping:
            message.string = mapping[message.id]
            if message.fuzzy:
                message.flags.discard("fuzzy")
            filled += 1
    with PO.open("wb") as f:
        write_po(f, catalog, width=100, omit_header=False, sort_output=True)
    missing = [m.id for m in catalog if m.id and not m.string]
    print(f"filled {filled}; still untranslated: {len(missing)}")
    for m in missing:
        print("  ", json.dumps(m, ensure_ascii=False))


if __name__ == "__main__":
    main()
