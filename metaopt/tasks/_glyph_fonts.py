"""Noto font discovery for the glyph benchmark: which alphabet each font file draws, and its letters.

An alphabet is a Unicode script as named in character names ("DEVANAGARI LETTER KA" belongs to
DEVANAGARI). Font files are grouped by the script part of their file name, so every design of a
script (Sans, Serif, Kufi, Looped, every weight and width) becomes a possible "drawer" for it.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass

from fontTools.ttLib import TTFont

from metaopt.errors import MissingDependencyError

__all__ = ["NOTO_DIR", "INSTALL_HINT", "Alphabet", "noto_files", "discover_alphabets", "family_of"]

NOTO_DIR = "/usr/share/fonts/truetype/noto"
INSTALL_HINT = "apt-get install fonts-noto-core fonts-noto-extra"

# Words in Noto file names that name a design of a script rather than the script itself.
_STYLE = re.compile(
    r"Sans|Serif|Kufi|Naskh|Nastaliq|Looped|Rashi|Traditional|UI|Display|Mono|Slanted|Unjoined"
)
# Not alphabets: ideographs and logograms (thousands of near-identical signs), pictographic
# hieroglyphs, symbol/maths/music/emoji fonts and numeral-only fonts. Rashi is a separate Hebrew
# script whose letter shapes differ from square Hebrew, so its drawers would not share the letters.
_SKIP_FAMILY = re.compile(
    r"CJK|Emoji|Symbols|Math|Music|Hieroglyph|Numbers|Numerals|Cuneiform|Tangut|Nushu|SignWriting|Khitan|Rashi"
)
# "<SCRIPT> [CAPITAL |SMALL ]LETTER|SYLLABLE|... <name>": the script is the part before the keyword.
_LETTER_NAME = re.compile(
    r"^(.*?) (?:CAPITAL |SMALL )?(?:LETTER|SYLLABLE|SYLLABICS|CHARACTER|VOWEL|CONSONANT) "
)
_LETTER_CATEGORIES = {"Lu", "Ll", "Lo", "Lt"}
# Latin, Greek and Cyrillic come with hundreds of phonetic and historic extensions in the pan-European
# Noto families; like Omniglot we keep only the basic alphabets.
_EUROPEAN = {
    "LATIN": [(0x41, 0x5A), (0x61, 0x7A)],
    "GREEK": [(0x391, 0x3A9), (0x3B1, 0x3C9)],
    "CYRILLIC": [(0x410, 0x44F)],
}
# Georgian Mtavruli are capital forms of Mkhedruli letters, so they would duplicate classes.
_DROP_KEYS = {"GEORGIAN MTAVRULI"}
MIN_LETTERS = 10


@dataclass(frozen=True)
class Alphabet:
    """One script: its display name, its letters (code points) and the font files that draw it."""

    name: str
    letters: tuple[int, ...]
    fonts: tuple[str, ...]
    # code points each font really maps, so drawers fall back to a font that has the letter
    coverage: dict[str, frozenset[int]]


def noto_files(font_dir: str | None) -> list[str]:
    """All Noto .ttf/.otf files in ``font_dir`` (sorted), or a MissingDependencyError naming the packages."""
    root = font_dir or NOTO_DIR
    try:
        names = sorted(os.listdir(root))
    except OSError:
        names = []
    files = [os.path.join(root, n) for n in names if n.startswith("Noto") and n.endswith((".ttf", ".otf"))]
    if not files:
        raise MissingDependencyError(f"no Noto fonts found in {root}: {INSTALL_HINT}")
    return files


def family_of(path: str) -> str:
    """``NotoSerifDevanagari-Bold.ttf`` -> ``NotoSerifDevanagari`` (one design, all weights)."""
    return os.path.basename(path).rsplit(".", 1)[0].split("-")[0]


def _script_group(path: str) -> str:
    return _STYLE.sub("", family_of(path)[len("Noto") :])


def _is_letter(cp: int) -> bool:
    ch = chr(cp)
    if unicodedata.category(ch) not in _LETTER_CATEGORIES:
        return False
    # Presentation forms and precomposed letters duplicate a base letter plus a mark.
    if 0xFB00 <= cp <= 0xFFEF or unicodedata.decomposition(ch):
        return False
    name = unicodedata.name(ch, "")
    return " WITH " not in name and not name.endswith(" FORM")


def _letter_key(cp: int) -> str | None:
    match = _LETTER_NAME.match(unicodedata.name(chr(cp), ""))
    return match.group(1) if match else None


def _cmap(path: str) -> frozenset[int]:
    font = TTFont(path, lazy=True, fontNumber=0)
    try:
        cmap = font["cmap"].getBestCmap() or {}
    finally:
        font.close()
    return frozenset(cp for cp, glyph in cmap.items() if glyph != ".notdef" and _is_letter(cp))


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _display_name(key: str) -> str:
    # character names say "CANADIAN SYLLABICS E", so the name part alone is too short
    key = {"CANADIAN": "CANADIAN SYLLABICS"}.get(key, key)
    return "_".join(word.capitalize() for word in key.split())


def discover_alphabets(files: list[str], *, progress: bool = False) -> list[Alphabet]:
    """Alphabets with at least MIN_LETTERS letters, sorted by name; deterministic for a file list.
    Reading every font's character map takes seconds for the full Noto set: ``progress`` shows a bar."""
    from tqdm.auto import tqdm

    groups: dict[str, list[str]] = defaultdict(list)
    for path in files:
        if not _SKIP_FAMILY.search(family_of(path)):
            groups[_script_group(path)].append(path)
    coverage: dict[str, frozenset[int]] = {}
    letters: dict[str, set[int]] = defaultdict(set)
    fonts: dict[str, list[str]] = defaultdict(list)
    bar = tqdm(total=sum(map(len, groups.values())), desc="reading Noto fonts", unit="font", disable=not progress)
    for group, paths in sorted(groups.items()):
        by_key: dict[str, set[int]] = defaultdict(set)
        for path in paths:
            coverage[path] = _cmap(path)
            bar.update(1)
            for cp in coverage[path]:
                key = _letter_key(cp)
                if key is not None:
                    by_key[key].add(cp)
        for key, cps in _accepted_keys(group, by_key).items():
            letters[key] |= cps
            fonts[key].extend(paths)
    bar.close()
    alphabets = []
    for key in sorted(letters):
        if len(letters[key]) < MIN_LETTERS:
            continue
        paths = tuple(sorted(set(fonts[key])))
        alphabets.append(
            Alphabet(_display_name(key), tuple(sorted(letters[key])), paths, {p: coverage[p] for p in paths})
        )
    return sorted(alphabets, key=lambda a: a.name)


def _accepted_keys(group: str, by_key: dict[str, set[int]]) -> dict[str, set[int]]:
    """The scripts a font group really is for: its main script and scripts its name spells out,
    not the few borrowed letters (e.g. Greek in the Elbasan font)."""
    if not by_key:
        return {}
    if group == "":
        # pan-European families (NotoSans, NotoSerif, ...): basic Latin, Greek and Cyrillic only
        out = {}
        for key, ranges in _EUROPEAN.items():
            cps = {cp for cp in by_key.get(key, ()) if any(lo <= cp <= hi for lo, hi in ranges)}
            if cps:
                out[key] = cps
        return out
    counts = Counter({key: len(cps) for key, cps in by_key.items()})
    dominant = max(counts, key=lambda k: (counts[k], k))
    merged: dict[str, set[int]] = defaultdict(set)
    for key, cps in by_key.items():
        if key in _DROP_KEYS:
            continue
        # "KHMER INDEPENDENT", "PHAGS-PA SUBJOINED": more letters of the main script
        if key.startswith(dominant + " "):
            key = dominant
        if key == dominant or _norm(key).startswith(_norm(group)) or _norm(group).startswith(_norm(key)):
            merged[key] |= cps
    return dict(merged)
