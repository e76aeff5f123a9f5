"""A swim-lane flowchart as SVG, drawn here without any JavaScript library.

Lanes are columns left to right; every step has its own row in the order written, so
labels never collide and the chart reads top to bottom on paper. Arrows run in the gaps
between rows and in a corridor at the right edge of each lane, never through a node.
Pure: strings in, a string out."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol
from xml.sax.saxutils import escape, quoteattr

LANE_W = 180
NODE_W = 132
HEADER_H = 46
GAP = 40
PAD = 12
FONT = 13
LINE_H = 17
FONT_FAMILY = ("'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', "
               "'Microsoft YaHei', 'WenQuanYi Micro Hei', sans-serif")

INK = "#1f2933"
NO_LINE_START = frozenset("，。、；：）》”！？")
LANE_FILL = ("#ffffff", "#f5f7fa")
MINE_FILL = "#fff3c4"
MINE_NODE = "#ffd966"


class FlowStep(Protocol):
    number: int
    lane: str
    title: str

    @property
    def kind(self) -> str: ...

    def successors(self) -> list[tuple[int, str]]: ...


@dataclass
class Step:
    """A plain step for callers without a model (tests, previews)."""

    number: int
    lane: str
    kind: str
    title: str
    next_steps: Sequence[int] = ()
    if_yes: int | None = None
    if_no: int | None = None

    def successors(self) -> list[tuple[int, str]]:
        if self.kind == "decision":
            return [(n, b) for n, b in ((self.if_yes, "yes"), (self.if_no, "no")) if n is not None]
        return [(n, "") for n in self.next_steps]


def text_width(text: str, size: float = FONT) -> float:
    """Wide (CJK) characters are one em, others a little over half."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else size * 0.58 for ch in text)


def _tokens(text: str) -> list[str]:
    # runs of Latin letters and digits stay together; every CJK character may break
    tokens: list[str] = []
    for ch in text:
        if tokens and ch.isascii() and ch.isalnum() and tokens[-1][-1:].isascii() \
                and tokens[-1][-1:].isalnum():
            tokens[-1] += ch
        else:
            tokens.append(ch)
    return tokens


def wrap(text: str, max_width: float, size: float = FONT) -> list[str]:
    """Lines of roughly equal width, none wider than max_width where possible."""
    text = " ".join(text.split())
    total = text_width(text, size)
    if total <= max_width:
        return [text]
    count = math.ceil(total / max_width)
    target = total / count
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        if line and text_width(line + token, size) > target + size * 0.5 \
                and len(lines) < count - 1 and token not in NO_LINE_START:
            lines.append(line.strip())
            line = token.lstrip()
        else:
            line += token
    lines.append(line.strip())
    return [x for x in lines if x]


@dataclass
class _Box:
    number: int
    lane: int
    kind: str
    title: str
    lines: list[str]
    top: float
    height: float
    width: float

    @property
    def cx(self) -> float:
        return self.lane * LANE_W + LANE_W / 2

    @property
    def cy(self) -> float:
        return self.top + self.height / 2

    @property
    def bottom(self) -> float:
        return self.top + self.height


def render(lanes: Sequence[str], steps: Sequence[FlowStep], *,
           highlight: Collection[str] = (), title: str = "", yes: str = "是", no: str = "否",
           id_prefix: str = "fc") -> str:
    """The chart as an SVG document. Steps in `highlight` lanes are drawn bold."""
    lane_index = {name: i for i, name in enumerate(lanes)}
    header_lines = [wrap(name, LANE_W - 16, FONT + 1) for name in lanes]
    header_h = max([HEADER_H] + [len(x) * (LINE_H + 1) + 14 for x in header_lines])
    boxes: dict[int, _Box] = {}
    y: float = header_h + GAP / 2
    for step in steps:
        kind = step.kind
        width = NODE_W + (12 if kind == "decision" else 0)
        inner = (width * 0.56 if kind == "decision" else width - 2 * PAD)
        lines = wrap(step.title, inner)
        height: float = len(lines) * LINE_H + 2 * PAD
        if kind == "decision":
            height = max(64.0, len(lines) * LINE_H + 34)
        boxes[step.number] = _Box(step.number, lane_index.get(step.lane, 0), kind, step.title,
                                  lines, y, height, width)
        y += height + GAP
    total_w = max(1, len(lanes)) * LANE_W
    total_h = y - GAP / 2 + 8
    out: list[str] = []
    add = out.append
    add(f'<svg xmlns="http://www.w3.org/2000/svg" class="flowchart" viewBox="0 0 {total_w} '
        f'{total_h:.0f}" width="{total_w}" height="{total_h:.0f}" role="img" '
        f'aria-labelledby="{id_prefix}-title" font-family={quoteattr(FONT_FAMILY)} '
        f'font-size="{FONT}">')
    add(f'<title id="{id_prefix}-title">{escape(title)}</title>')
    add(f'<defs><marker id="{id_prefix}-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{INK}"/></marker></defs>')
    mine = set(highlight)
    for i, name in enumerate(lanes):
        is_mine = name in mine
        fill = MINE_FILL if is_mine else LANE_FILL[i % 2]
        x = i * LANE_W
        add(f'<g class="lane{" mine" if is_mine else ""}" data-lane={quoteattr(name)}>')
        add(f'<rect x="{x}" y="0" width="{LANE_W}" height="{total_h:.0f}" fill="{fill}" '
            f'stroke="{INK}" stroke-width="1"/>')
        add(f'<rect x="{x}" y="0" width="{LANE_W}" height="{header_h}" fill="{fill}" '
            f'stroke="{INK}" stroke-width="{2 if is_mine else 1}"/>')
        add(_text_block(header_lines[i], x + LANE_W / 2, header_h / 2, FONT + 1, "lane-label",
                        bold=True))
        add("</g>")
    by_number = {s.number: s for s in steps}
    edge_no = 0
    for step in steps:
        for target, branch in step.successors():
            if target in boxes:
                add(_edge(boxes[step.number], boxes[target], branch, edge_no, yes, no,
                          id_prefix))
                edge_no += 1
    for step in steps:
        box = boxes[step.number]
        add(_node(box, by_number[step.number].lane in mine))
    add("</svg>")
    return "\n".join(out)


def _text_block(lines: list[str], cx: float, cy: float, size: float, css: str,
                bold: bool = False) -> str:
    first = cy - (len(lines) - 1) * LINE_H / 2
    weight = ' font-weight="bold"' if bold else ""
    spans = "".join(
        f'<tspan x="{cx:.1f}" y="{first + i * LINE_H:.1f}">{escape(line)}</tspan>'
        for i, line in enumerate(lines))
    return (f'<text class="{css}" text-anchor="middle" dominant-baseline="central" '
            f'font-size="{size}" fill="{INK}"{weight}>{spans}</text>')


def _node(box: _Box, is_mine: bool) -> str:
    cx, cy, w, h = box.cx, box.cy, box.width, box.height
    fill = MINE_NODE if is_mine else "#ffffff"
    stroke = f'stroke="{INK}" stroke-width="{3 if is_mine else 1.3}"'
    if box.kind == "decision":
        shape = (f'<polygon points="{cx:.1f},{box.top:.1f} {cx + w / 2:.1f},{cy:.1f} '
                 f'{cx:.1f},{box.bottom:.1f} {cx - w / 2:.1f},{cy:.1f}" fill="{fill}" {stroke}/>')
        num_x, num_y = cx - w / 2 + 2, box.top + 6
    else:
        radius = h / 2 if box.kind in ("start", "end") else 5
        shape = (f'<rect x="{cx - w / 2:.1f}" y="{box.top:.1f}" width="{w}" height="{h:.1f}" '
                 f'rx="{radius:.1f}" fill="{fill}" {stroke}/>')
        num_x, num_y = cx - w / 2 - 4, box.top - 4
    number = (f'<circle cx="{num_x + 8:.1f}" cy="{num_y + 8:.1f}" r="9" fill="#ffffff" '
              f'stroke="{INK}" stroke-width="1"/><text class="step-number" x="{num_x + 8:.1f}" '
              f'y="{num_y + 8:.1f}" text-anchor="middle" dominant-baseline="central" '
              f'font-size="10" fill="{INK}">{box.number}</text>')
    label = _text_block(box.lines, cx, cy, FONT, "step-label", bold=is_mine)
    css = f"step {box.kind}{' mine' if is_mine else ''}"
    return (f'<g class="{css}" id="step-{box.number}" data-step="{box.number}">'
            f'<title>{box.number}. {escape(box.title)}</title>{shape}{label}{number}</g>')


def _edge(src: _Box, dst: _Box, branch: str, k: int, yes: str, no: str, prefix: str) -> str:
    shift = (k % 3 - 1) * 6
    corridor = (src.lane + 1) * LANE_W - 4 - (k % 3) * 4
    below_src = src.bottom + GAP / 2 + shift
    above_dst = dst.top - GAP / 2 + shift
    points: list[tuple[float, float]]
    if branch == "no":
        start = (src.cx + src.width / 2, src.cy)
        points = [start, (corridor, start[1]), (corridor, above_dst), (dst.cx, above_dst),
                  (dst.cx, dst.top)]
    else:
        start = (src.cx, src.bottom)
        if dst.top > src.bottom and abs(dst.top - src.bottom - GAP) < 1:
            points = [start, (src.cx, below_src), (dst.cx, below_src), (dst.cx, dst.top)]
        else:
            points = [start, (src.cx, below_src), (corridor, below_src), (corridor, above_dst),
                      (dst.cx, above_dst), (dst.cx, dst.top)]
    cleaned = [points[0]] + [p for a, p in pairwise(points) if p != a]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in cleaned)
    out = (f'<polyline class="edge" data-from="{src.number}" data-to="{dst.number}" '
           f'points="{path}" fill="none" stroke="{INK}" stroke-width="1.3" '
           f'marker-end="url(#{prefix}-arrow)"/>')
    if branch == "yes":
        out += (f'<text class="branch" x="{src.cx + 6:.1f}" y="{src.bottom + 13:.1f}" '
                f'font-size="12" font-weight="bold" fill="{INK}">{escape(yes)}</text>')
    elif branch == "no":
        out += (f'<text class="branch" x="{src.cx + src.width / 2 + 4:.1f}" '
                f'y="{src.cy - 5:.1f}" font-size="12" font-weight="bold" '
                f'fill="{INK}">{escape(no)}</text>')
    return out
