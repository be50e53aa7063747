"""Your own labelled texts as a task family, through `compare` and `prompt tune`.

1. Write the texts as JSON Lines (one {"text": ..., "label": ...} per line): `--family jsonl:PATH` on the
   command line reads the same file.
2. Build the family: classes are split into disjoint meta-train / validation / test shares, so the meta
   selector trains on some topics and is scored on others; a task is a few classes with a pool of
   labelled candidates and held-out queries.
3. `compare`: every selector on the same held-out tasks, with and without contextual calibration.
4. `tune_selector` (what `metaopt prompt tune` runs): Optuna searches the learned selector's
   hyperparameters on the validation classes, then scores the best on the test classes.

    python examples/custom_text_family.py            # a few minutes on one CPU core
    python examples/custom_text_family.py --tiny     # the smallest sizes (what the test runs)

The same from the command line, once the file exists:

    metaopt prompt compare --family jsonl:texts.jsonl --ways 2 --pool 3 --queries 2 --shots 2 \\
        --selectors zero,knn,balanced_knn,learned --calibration both --no-protonet --no-track
    metaopt prompt tune --family jsonl:texts.jsonl --selector learned --trials 4 --ways 2 --pool 3 --queries 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

# Six short texts for each of nine topics, written for this example.
TEXTS = {
    "cooking": ["Simmer the onions slowly until they turn golden and sweet.",
                "Knead the dough for ten minutes, then let it rise in a warm place.",
                "Season the soup with salt, pepper and a squeeze of lemon.",
                "Roast the vegetables at a high heat so their edges caramelise.",
                "Whisk the eggs and sugar until the mixture is pale and thick.",
                "Marinate the chicken overnight in yoghurt and spices."],
    "weather": ["Heavy rain is expected across the north by the afternoon.",
                "A cold front will bring strong winds and falling temperatures.",
                "Skies stay clear tonight with a light frost in rural areas.",
                "Thunderstorms may develop later as humid air moves in.",
                "Snow showers will ease by morning, leaving icy roads.",
                "A week of sunshine and dry weather lies ahead."],
    "football": ["The striker curled a free kick into the top corner.",
                 "The goalkeeper saved a penalty in the last minute of the match.",
                 "Both teams were level at half time after a scrappy first half.",
                 "The defender was sent off for a late tackle.",
                 "The club signed a new midfielder before the transfer deadline.",
                 "Fans sang for ninety minutes as their side won the derby."],
    "astronomy": ["The telescope captured a spiral galaxy millions of light years away.",
                  "Jupiter's moons can be seen with a small pair of binoculars.",
                  "A comet will pass close to the sun later this year.",
                  "The planet orbits a red dwarf star in its habitable zone.",
                  "A total solar eclipse darkened the sky for two minutes.",
                  "Astronomers measured the light from a distant supernova."],
    "finance": ["The central bank raised interest rates by a quarter point.",
                "Shares fell sharply after the company cut its profit forecast.",
                "Investors moved money into government bonds as markets wobbled.",
                "The currency weakened against the dollar for a third week.",
                "Quarterly earnings beat expectations on strong online sales.",
                "Inflation slowed slightly, easing pressure on household budgets."],
    "health": ["Regular exercise lowers the risk of heart disease.",
               "Drink plenty of water and rest if you have a fever.",
               "The vaccine reduced hospital admissions among older adults.",
               "A balanced diet includes fruit, vegetables and whole grains.",
               "Doctors recommend seven to nine hours of sleep a night.",
               "The clinic offers free blood pressure checks this month."],
    "music": ["The orchestra played the symphony with great energy.",
              "She tuned her guitar before the concert began.",
              "The band released a new album of quiet acoustic songs.",
              "The drummer kept a steady beat through the long solo.",
              "The choir sang in four-part harmony at the festival.",
              "He practises scales on the piano every morning."],
    "computing": ["Restart the router if the network connection keeps dropping.",
                  "The program crashed because of a null pointer error.",
                  "Back up your files before installing the operating system update.",
                  "The laptop's battery drains quickly when the screen is bright.",
                  "Compile the code again after fixing the syntax error.",
                  "The database query ran slowly until an index was added."],
    "travel": ["Our flight was delayed by two hours because of fog.",
               "The hostel is a short walk from the old town and the station.",
               "Remember to pack a passport, adapter and travel insurance.",
               "We took the night train across the mountains to the coast.",
               "The hotel upgraded us to a room with a sea view.",
               "Book museum tickets online to skip the queue."],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="smallest sizes: one task, one trial")
    ap.add_argument("--workdir", help="where the JSONL, Optuna and MLflow files go (default: a temp folder)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="metaopt-custom-"))
    work.mkdir(parents=True, exist_ok=True)

    # 1. The texts as JSON Lines.
    path = work / "texts.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": label}) + "\n"
                            for label, texts in TEXTS.items() for t in texts))

    # 2. The family (get_family("jsonl:...") is what --family jsonl:PATH does).
    from prompting import CompareConfig, FrozenLM, SentenceEncoder, compare, get_family

    family = get_family(f"jsonl:{path}")
    print(f"{len(family.class_names)} classes: train {family.classes('train')}, val {family.classes('val')}, "
          f"test {family.classes('test')}")

    # 3. compare: the same held-out tasks for every selector, each with and without calibration.
    lm = FrozenLM.load(dtype=args.dtype)
    encoder = SentenceEncoder()
    sizes = {"ways": 2, "pool_per_class": 3, "queries_per_class": 2}
    small = {"train_queries": 4, "num_candidates": 3, "steps": 20, "folds": 2, "meta_tasks": 2, "num_sets": 3,
             "val_size": 2}
    cfg = CompareConfig(family.name, ("zero", "knn", "balanced_knn", "learned") if args.tiny else
                        ("zero", "random", "knn", "balanced_knn", "bm25", "bootstrap", "learned", "meta"),
                        shots=(2,), tasks=1 if args.tiny else 4, calibration="both", protonet=False,
                        selector_params=small if args.tiny else {}, **sizes)
    result = compare(cfg, family=family, lm=lm, encoder=encoder)
    print(result.table())
    print(f"LM prompts spent by the selectors themselves: {result.selection_prompts}")

    # 4. prompt tune: an Optuna study on the validation classes, the best point scored on the test classes.
    from prompting.tune import PromptTuneConfig, tune_selector

    tune = PromptTuneConfig(family.name, "learned", trials=1 if args.tiny else 4, tasks=1, test_tasks=1,
                            fixed={"k": 2, **({"train_queries": 4, "num_candidates": 4, "steps": 20, "folds": 2}
                                              if args.tiny else {})},
                            storage=f"sqlite:///{work / 'optuna.db'}", tracking_uri=f"sqlite:///{work / 'mlflow.db'}",
                            progress=False, **sizes)
    summary = tune_selector(tune, family=family, lm=lm, encoder=encoder)
    print(f"tuned learned selector: best {summary['params']}, test accuracy {100 * summary['test_mean']:.1f}% "
          f"(defaults {100 * summary['default_test_mean']:.1f}%)")


if __name__ == "__main__":
    main()
