"""Submit a form the way a browser does: from the page's own HTML.

A test that posts a dictionary it wrote itself passes even when the page never renders a
field the view needs (a controlled copy could not be issued in the browser for that
reason). ``submit_form`` reads the form out of the page, keeps what the page filled in
(hidden fields, the CSRF token, selected options), lets the test type into fields that
exist on the page — and fails when the test types into a field the page does not have.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


class _Form:
    def __init__(self, attrs: dict[str, str | None]) -> None:
        self.action = attrs.get("action") or ""
        self.method = (attrs.get("method") or "get").lower()
        self.fields: dict[str, str] = {}
        self.names: set[str] = set()


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[_Form] = []
        self._form: _Form | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._option_value: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attrs_list)
        if tag == "form":
            self._form = _Form(attrs)
            self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            form.names.add(name)
            kind = (attrs.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    form.fields[name] = attrs.get("value") or "on"
            elif kind not in ("submit", "button", "file"):
                form.fields[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            form.names.add(name)
            self._select, self._select_first = name, None
        elif tag == "option" and self._select:
            value = attrs.get("value") or ""
            if self._select_first is None:
                self._select_first = value
                form.fields.setdefault(self._select, value)
            if "selected" in attrs:
                form.fields[self._select] = value
        elif tag == "button" and name:
            form.names.add(name)  # a test presses it by typing its value: action="preview"
        elif tag == "textarea" and name:
            form.names.add(name)
            self._textarea = name
            form.fields[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form.fields[self._textarea] += data


def find_form(html: str, action: str, where: dict[str, str] | None = None) -> _Form:
    """The form posting to ``action`` (whose fields hold ``where``, when several do)."""
    parser = _FormParser()
    parser.feed(html)
    for form in parser.forms:
        if form.action.split("?")[0] != action:
            continue
        if all(form.fields.get(k) == v for k, v in (where or {}).items()):
            return form
    actions = [f.action for f in parser.forms]
    raise AssertionError(f"the page has no form posting to {action}; it has {actions}")


def submit_form(
    client: Any, page: Any, action: str, where: dict[str, str] | None = None, **typed: str
) -> Any:
    """Post the form of ``page`` whose action is ``action``, with ``typed`` typed in."""
    html = page.get_data(as_text=True) if hasattr(page, "get_data") else str(page)
    form = find_form(html, action, where)
    missing = sorted(set(typed) - form.names)
    assert not missing, f"the form posting to {action} has no field {missing}"
    data = {**form.fields, **typed}
    if form.method == "get":
        return client.get(action, query_string=data)
    return client.post(action, data=data)
