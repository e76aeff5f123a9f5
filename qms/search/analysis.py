"""Chinese-aware text analysis shared by indexing, querying and highlighting.

Folding: NFKC (full-width → half-width), OpenCC t2s character table (traditional →
simplified), lower case. It is applied per character so that every folded character
can be traced back to its original (highlight offsets), and so that the index and the
query fold identically whatever the neighbouring characters are (OpenCC's phrase table is
context-dependent: 乾隆 keeps 乾 while 乾 alone becomes 干 — a per-character table never
loses a match that way). tw2sp is never used: it rewrites vocabulary.

Index terms (`index_terms`): a run of CJK characters gives its character n-grams of sizes
1–max_gram (every single character and the overlapping bigrams), each at the position of
its first character, so that a one- or two-character query is a single posting list.
Latin words and numbers stay whole; words chained by one connector (`KF-004`, `GB/T`) are
also indexed as compounds (every chain of 2–6 words), so a document number, whole or
partial, is one term too. Positions count one per CJK character and one per word; a
longer query is checked as terms at fixed offsets from the phrase start, so 文件控制 never
matches 文件 … 控制. (Trigrams would make three-character queries single lookups, but they
more than double the postings, and the rebuild with them; measured, the positional check
on cached bigram lists is within the benchmark's targets without them.)

`index_positions` and `phrase_tokens` describe the same text as bigrams (the token form a
parsed query carries; the engine turns it into n-gram lookups).
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import opencc

CJK_RANGES = (
    "\u3040-\u30ff"  # kana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified
    "\uac00-\ud7af"  # hangul
    "\uf900-\ufaff"  # compatibility ideographs
    "\U00020000-\U0003134f"  # extensions B–G
)
TOKEN_RE = re.compile(rf"(?P<cjk>[{CJK_RANGES}]+)|(?P<word>[^\W_{CJK_RANGES}]+)")
CJK_RE = re.compile(rf"[{CJK_RANGES}]")
MAX_GRAM = 2
COMPOUND_WORDS = 6  # longest chain of connected words indexed as one term
CONNECTORS = frozenset("-/._:")
# Gap between the parts of one field (title, body, steps …) so no phrase spans two parts.
PART_GAP = 50


@functools.cache
def _t2s_table() -> dict[str, str]:
    """OpenCC's t2s character dictionary, first candidate, single characters only."""
    path = os.path.join(os.path.dirname(opencc.__file__), "dictionary", "TSCharacters.txt")
    table: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            trad, _, cands = line.rstrip("\n").partition("\t")
            simp = cands.split(" ")[0]
            if len(trad) == 1 and len(simp) == 1:
                table[trad] = simp
    return table


class _FoldTable(dict[int, str]):
    """str.translate table built lazily: code point → folded text (usually one char)."""

    def __missing__(self, codepoint: int) -> str:
        t2s = _t2s_table()
        folded = "".join(t2s.get(c, c) for c in unicodedata.normalize("NFKC", chr(codepoint)))
        folded = folded.lower()
        if len(folded) != 1:
            _IRREGULAR.add(chr(codepoint))
        self[codepoint] = folded
        return folded


_FOLD = _FoldTable()
_IRREGULAR: set[str] = set()  # characters seen so far that do not fold to one character


def fold(text: str) -> str:
    """Width, script and case folded text (used for both index and query)."""
    if text.isascii():
        return text.lower()
    return text.translate(_FOLD)


def fold_with_offsets(text: str) -> tuple[str, Sequence[int]]:
    """Folded text and, for every folded character, the index of its original character."""
    folded_text = fold(text)  # fills the table for every character of the text
    if _IRREGULAR.isdisjoint(text):  # one character for one: the offsets are the indexes
        return folded_text, range(len(text))
    folded: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        f = _FOLD[ord(ch)]
        folded.append(f)
        if len(f) == 1:
            offsets.append(i)
        else:
            offsets.extend([i] * len(f))
    return "".join(folded), offsets


def is_cjk(text: str) -> bool:
    return CJK_RE.search(text) is not None


# -- indexing --------------------------------------------------------------------------

def index_positions(parts: list[str] | tuple[str, ...] | str) -> dict[str, list[int]]:
    """term → sorted positions, for already folded text (one part or several)."""
    if isinstance(parts, str):
        parts = [parts]
    poses: defaultdict[str, list[int]] = defaultdict(list)
    pos = 0
    for part in parts:
        for m in TOKEN_RE.finditer(part):
            s = m.group()
            if m.lastgroup == "cjk":
                n = len(s)
                for i in range(n - 1):
                    poses[s[i:i + 2]].append(pos + i)
                for i in range(n):
                    poses[s[i]].append(pos + i)
                pos += n
            else:
                poses[s].append(pos)
                pos += 1
        pos += PART_GAP
    # bigrams and unigrams of one run were appended in two passes; keep positions sorted
    for plist in poses.values():
        if len(plist) > 1:
            plist.sort()
    return poses


def index_terms(parts: list[str] | tuple[str, ...] | str,
                max_gram: int = MAX_GRAM) -> dict[str, list[int]]:
    """term → sorted positions, for already folded text: CJK n-grams of sizes 1–max_gram, whole
    words, and compounds of connected words."""
    if isinstance(parts, str):
        parts = [parts]
    poses: defaultdict[str, list[int]] = defaultdict(list)
    pos = 0
    for part in parts:
        chain: list[tuple[int, int, int]] = []  # (start, end, position) of connected words
        for m in TOKEN_RE.finditer(part):
            s = m.group()
            if m.lastgroup == "cjk":
                n = len(s)
                for size in range(1, min(max_gram, n) + 1):
                    for i in range(n - size + 1):
                        poses[s[i:i + size]].append(pos + i)
                pos += n
                if len(chain) > 1:
                    _add_compounds(part, chain, poses)
                chain = []
            else:
                start = m.start()
                if chain and not (start - chain[-1][1] == 1 and part[start - 1] in CONNECTORS):
                    if len(chain) > 1:
                        _add_compounds(part, chain, poses)
                    chain = []
                chain.append((start, m.end(), pos))
                poses[s].append(pos)
                pos += 1
        if len(chain) > 1:
            _add_compounds(part, chain, poses)
        pos += PART_GAP
    return poses  # every list is in order: terms are added left to right


def _add_compounds(part: str, chain: list[tuple[int, int, int]],
                   poses: defaultdict[str, list[int]]) -> None:
    for i in range(len(chain)):
        for j in range(i + 1, min(len(chain), i + COMPOUND_WORDS)):
            poses[part[chain[i][0]:chain[j][1]]].append(chain[i][2])


def compound(folded: str) -> str | None:
    """The folded text itself when it is one indexed compound (words joined by single
    connectors, at most COMPOUND_WORDS of them), else None."""
    runs = list(TOKEN_RE.finditer(folded))
    if not 2 <= len(runs) <= COMPOUND_WORDS or any(m.lastgroup != "word" for m in runs):
        return None
    for a, b in itertools.pairwise(runs):
        if b.start() - a.end() != 1 or folded[a.end()] not in CONNECTORS:
            return None
    return folded[runs[0].start():runs[-1].end()]


def runs_from_tokens(tokens: list[str]) -> list[str]:
    """The CJK runs and words a phrase_tokens list was made from."""
    runs: list[str] = []
    previous_bigram = False
    for tok in tokens:
        cjk = is_cjk(tok)
        if cjk and len(tok) == 2:
            if previous_bigram:
                runs[-1] += tok[1]
            else:
                runs.append(tok)
            previous_bigram = True
            continue
        if not (cjk and len(tok) == 1 and previous_bigram):  # not a run's trailing unigram
            runs.append(tok)
        previous_bigram = False
    return runs


def gram_plan(runs: list[str], max_gram: int = MAX_GRAM) -> list[tuple[str, int]]:
    """The index terms a phrase of consecutive runs needs, each with its offset from the
    phrase start: a CJK run is covered by its overlapping n-grams (of the index's size)."""
    plan: list[tuple[str, int]] = []
    offset = 0
    for run in runs:
        if is_cjk(run[0]):
            n = len(run)
            # every overlapping n-gram: the rarest one picks the candidates, and a gram
            # spanning two words is usually much rarer than either word
            plan.extend((run[i:i + max_gram], offset + i)
                        for i in range(max(n - max_gram, 0) + 1))
            offset += n
        else:
            plan.append((run, offset))
            offset += 1
    return plan


# -- querying ---------------------------------------------------------------------------

def phrase_tokens(folded: str) -> list[str]:
    """The consecutive tokens of a query phrase: bigrams of a CJK run (its last character
    as a unigram when another token follows), a lone CJK character, whole words."""
    runs = [(m.lastgroup, m.group()) for m in TOKEN_RE.finditer(folded)]
    tokens: list[str] = []
    for index, (kind, s) in enumerate(runs):
        if kind == "cjk":
            if len(s) == 1:
                tokens.append(s)
                continue
            tokens.extend(s[i:i + 2] for i in range(len(s) - 1))
            if index < len(runs) - 1:
                tokens.append(s[-1])
        else:
            tokens.append(s)
    return tokens


@functools.cache
def _segmenter() -> Any:
    """jieba's tokenizer, loaded on first use (about a second): only the fallback for an
    unspaced multi-word query needs it, never indexing."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def split_words(folded: str) -> list[str]:
    """The words of folded text by jieba's dictionary (退还时限 → 退还, 时限), punctuation
    and spaces dropped, each word once, in order."""
    out: list[str] = []
    for piece in _segmenter().cut(folded, HMM=False):
        for m in TOKEN_RE.finditer(piece):
            if m.group() not in out:
                out.append(m.group())
    return out


def words(folded: str) -> Iterator[str]:
    """The Latin words and numbers of folded text."""
    for m in TOKEN_RE.finditer(folded):
        if m.lastgroup == "word":
            yield m.group()
