"""The certification due dates as an iCalendar feed (RFC 5545) that Outlook or a phone
subscribes to: one all-day event per due date, with alarms 90, 30 and 7 days before."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from qms.certification.rules import REMINDER_DAYS


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _fold(line: str) -> list[str]:
    """Lines longer than 75 octets are folded (RFC 5545 3.1), never inside a character."""
    out: list[str] = []
    current = ""
    for char in line:
        limit = 75 if not out else 74
        if len((current + char).encode()) > limit:
            out.append(current)
            current = char
        else:
            current += char
    out.append(current)
    return [out[0], *(" " + part for part in out[1:])]


def calendar(events: Iterable[tuple[str, date, str, str]], *, host: str, stamp: datetime) -> bytes:
    """events: (uid, day, summary, description)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//QMS//Certification//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:" + _escape("质量认证 / Certification"),
    ]
    dtstamp = stamp.strftime("%Y%m%dT%H%M%SZ")
    for uid, day, summary, description in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}@{host}",
            f"DTSTAMP:{dtstamp}",
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{date.fromordinal(day.toordinal() + 1):%Y%m%d}",
            "SUMMARY:" + _escape(summary),
            "DESCRIPTION:" + _escape(description),
            "TRANSP:TRANSPARENT",
        ]
        for days in REMINDER_DAYS:
            lines += [
                "BEGIN:VALARM",
                "ACTION:DISPLAY",
                "DESCRIPTION:" + _escape(summary),
                f"TRIGGER:-P{days}D",
                "END:VALARM",
            ]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    folded = [part for line in lines for part in _fold(line)]
    return ("\r\n".join(folded) + "\r\n").encode()
