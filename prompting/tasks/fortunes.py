"""Topics of the fortune-cookie files (Debian ``fortunes`` and its language variants), allow-listed."""

from __future__ import annotations

from pathlib import Path

from metaopt.errors import MissingDependencyError
from prompting._sources import fortunes_folder
from prompting.tasks.base import TaskFamily, split_classes

__all__ = ["ALLOWED_TOPICS", "fortunes_family"]

# Topic files by language (subfolder, "" for English) and the label word. Files known to be offensive,
# or that are one person's quotes rather than a topic, stay out.
ALLOWED_TOPICS: dict[str, dict[str, str]] = {
    "en": {"art": "art", "computers": "computers", "definitions": "definitions", "education": "education",
           "food": "food", "kids": "children", "law": "law", "linux": "linux", "literature": "literature",
           "love": "love", "medicine": "medicine", "pets": "pets", "politics": "politics", "riddles": "riddles",
           "science": "science", "songs-poems": "poems", "sports": "sports", "startrek": "star trek",
           "wisdom": "wisdom", "work": "work", "platitudes": "platitudes", "magic": "magic", "tao": "tao",
           "news": "news", "debian": "debian", "perl": "perl", "goedel": "logic"},
    "de": {"de/computer": "Computer", "de/fussball": "Fußball", "de/gedichte": "Gedichte", "de/murphy": "Murphy",
           "de/quiz": "Quiz", "de/regeln": "Regeln", "de/sprichworte": "Sprichwörter", "de/tips": "Tipps",
           "de/wusstensie": "Wissen", "de/mathematiker": "Mathematik", "de/namen": "Namen", "de/witze": "Witze"},
    "es": {"es/arte.fortunes": "arte", "es/ciencia.fortunes": "ciencia", "es/familia.fortunes": "familia",
           "es/filosofia.fortunes": "filosofía", "es/informatica.fortunes": "informática",
           "es/libertad.fortunes": "libertad", "es/poder.fortunes": "poder", "es/vida.fortunes": "vida",
           "es/amistad.fortunes": "amistad", "es/sentimientos.fortunes": "sentimientos",
           "es/verdad.fortunes": "verdad", "es/proverbios.fortunes": "proverbios"},
}


def _read(path: Path) -> list[str]:
    raw = path.read_bytes().decode("utf-8", errors="replace")
    return [entry.strip() for entry in raw.split("\n%\n") if 10 <= len(entry.strip()) <= 400]


def fortunes_family(lang: str = "en", folder: str | Path | None = None) -> TaskFamily:
    """One class per allow-listed topic file of ``lang``; fortunes longer than 400 characters are left out."""
    root = Path(folder) if folder else fortunes_folder()
    texts: dict[str, list[str]] = {}
    for rel in ALLOWED_TOPICS[lang]:
        path = root / rel
        if path.is_file():
            texts[rel] = _read(path)
    if len(texts) < 8:
        pkg = "fortunes" if lang == "en" else f"fortunes-{lang}"
        raise MissingDependencyError(f"only {len(texts)} fortune topics of language {lang!r} found under {root}: "
                                     f"apt-get install {pkg}")
    names = sorted(texts)
    return TaskFamily(f"fortunes-{lang}", texts, {c: ALLOWED_TOPICS[lang][c] for c in names},
                      split_classes(len(names), (0.48, 0.15)))
