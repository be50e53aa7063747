"""WordNet glosses labelled with their lexicographer supersense (Debian ``wordnet-base``)."""

from __future__ import annotations

from pathlib import Path

from prompting._sources import wordnet_folder
from prompting.tasks.base import TaskFamily, split_classes

__all__ = ["LEXNAMES", "wordnet_family"]

# WordNet's lexicographer files by number; wordnet-base lacks the `lexnames` file that lists them.
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive "
    "noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity "
    "noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change verb.cognition "
    "verb.communication verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()

_SPECIAL = {"adj.all": "adjective", "adj.pert": "relational", "adv.all": "adverb", "adj.ppl": "participle",
            "noun.Tops": "general"}


def _verbaliser(lexname: str) -> str:
    # noun.motion and verb.motion share a word; TaskFamily.sample never puts both in one task.
    return _SPECIAL.get(lexname, lexname.split(".", 1)[1])


def wordnet_family(folder: str | Path | None = None, *, max_per_class: int = 3000) -> TaskFamily:
    """45 supersense classes; a text is ``"lemma: definition"``. Class split 25 / 5 / 15 (fixed)."""
    root = Path(folder) if folder else wordnet_folder()
    texts: dict[str, list[str]] = {name: [] for name in LEXNAMES}
    for pos in ("noun", "verb", "adj", "adv"):
        with open(root / f"data.{pos}", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(" ") or "|" not in line:  # licence header
                    continue
                fields, gloss = line.split("|", 1)
                parts = fields.split()
                lexname = LEXNAMES[int(parts[1])]
                if len(texts[lexname]) >= max_per_class:
                    continue
                lemma = parts[4].replace("_", " ")
                lemma = lemma.split("(")[0]  # adjective markers like "(a)"
                definition = gloss.strip().split('; "')[0].strip()
                texts[lexname].append(f"{lemma}: {definition}")
    texts = {k: v for k, v in texts.items() if v}
    names = sorted(texts)
    return TaskFamily("wordnet", texts, {c: _verbaliser(c) for c in names},
                      split_classes(len(names), (25 / 45, 5 / 45)))
