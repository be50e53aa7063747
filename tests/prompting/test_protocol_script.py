"""docs/scripts/prompt_protocol.py on fakes: per-task JSON, resuming where a run stopped, paired tables."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def protocol():
    return runpy.run_path(str(ROOT / "docs" / "scripts" / "prompt_protocol.py"), run_name="protocol")


def test_protocol_resumes_per_task_and_pairs_against_knn(protocol, tmp_path, monkeypatch, family, fake_lm,
                                                         fake_encoder):
    import prompting.tasks

    monkeypatch.setattr(prompting.tasks, "get_family", lambda name: family)
    base = ["--families", "synthetic", "--selectors", "zero,knn,balanced_knn,learned,meta", "--queries", "2",
            "--pool", "6", "--subset", "1", "--extra-ks", "2", "--no-protonet", "--out", str(tmp_path),
            "--param", "steps=10", "--param", "meta_tasks=2", "--param", "train_queries=4"]
    args = protocol["parse_args"]([*base, "--tasks", "2"])
    protocol["run_family"]("synthetic", args, fake_lm, fake_encoder, tmp_path)
    first = json.loads((tmp_path / "synthetic.json").read_text())
    assert set(first["tasks"]) == {"0", "1"}
    assert {"knn@2", "knn+cc@2", "meta+cc@4", "zero@0"} <= set(first["tasks"]["0"])
    assert "knn@2" not in first["tasks"]["1"]  # extra k only on the subset
    assert (tmp_path / "synthetic.meta.pt").exists()

    fake_lm.prompts.clear()
    args = protocol["parse_args"]([*base, "--tasks", "3"])  # a longer run picks up where the first stopped
    protocol["run_family"]("synthetic", args, fake_lm, fake_encoder, tmp_path)
    second = json.loads((tmp_path / "synthetic.json").read_text())
    assert second["tasks"]["0"] == first["tasks"]["0"] and set(second["tasks"]) == {"0", "1", "2"}
    task0 = family.tasks("test", 1, 0, ways=4, pool_per_class=6, queries_per_class=2)[0]
    assert not any(task0.queries[0].text in p for p in fake_lm.prompts)  # done tasks are not scored again

    text = protocol["tables"](tmp_path, ["synthetic"])
    assert "| knn | 4 | 3 |" in text and "| learned | 4 | 3 |" in text and "| knn | 2 | 1 |" in text
    with pytest.raises(SystemExit, match="another configuration"):
        protocol["run_family"]("synthetic", protocol["parse_args"]([*base, "--k", "8"]), fake_lm, fake_encoder,
                               tmp_path)


def test_k_runs_on_every_task_before_the_extra_ks_of_the_subset(protocol, tmp_path, monkeypatch, family, fake_lm,
                                                               fake_encoder):
    """The targets are judged at k: a stop part-way leaves k scored on as many tasks as possible, and a task
    that stopped after its k-pass gets its extra ks added on the next run, its k scores kept."""
    import prompting.comparison
    import prompting.tasks

    monkeypatch.setattr(prompting.tasks, "get_family", lambda name: family)
    calls, real = [], prompting.comparison.score_task

    def recording(cfg, task, seed, **kwargs):
        calls.append((seed, kwargs["shots"]))
        return real(cfg, task, seed, **kwargs)

    monkeypatch.setattr(prompting.comparison, "score_task", recording)
    args = protocol["parse_args"](["--families", "synthetic", "--selectors", "zero,knn", "--queries", "2",
                                   "--pool", "6", "--tasks", "3", "--subset", "2", "--extra-ks", "1,2",
                                   "--no-protonet", "--calibration", "off", "--out", str(tmp_path)])
    protocol["run_family"]("synthetic", args, fake_lm, fake_encoder, tmp_path)
    assert calls == [(0, (4,)), (1, (4,)), (2, (4,)), (0, (1, 2)), (1, (1, 2))]
    state = json.loads((tmp_path / "synthetic.json").read_text())
    assert {"knn@1", "knn@2", "knn@4"} <= set(state["tasks"]["1"]) and "knn@1" not in state["tasks"]["2"]

    state["tasks"]["1"] = {k: v for k, v in state["tasks"]["1"].items() if not k.endswith(("@1", "@2"))}
    (tmp_path / "synthetic.json").write_text(json.dumps(state))  # as if stopped after task 1's k-pass
    calls.clear()
    protocol["run_family"]("synthetic", args, fake_lm, fake_encoder, tmp_path)
    assert calls == [(1, (1, 2))]
    again = json.loads((tmp_path / "synthetic.json").read_text())
    assert again["tasks"]["1"]["knn@4"] == state["tasks"]["1"]["knn@4"] and "knn@2" in again["tasks"]["1"]


def test_a_changed_selector_is_rescored_alone_on_finished_tasks(protocol, tmp_path, monkeypatch, family, fake_lm,
                                                                fake_encoder):
    import torch

    import prompting.tasks

    monkeypatch.setattr(prompting.tasks, "get_family", lambda name: family)
    base = ["--families", "synthetic", "--selectors", "knn,learned,meta", "--queries", "2", "--pool", "6",
            "--subset", "0", "--no-protonet", "--out", str(tmp_path), "--tasks", "2", "--param", "steps=10",
            "--param", "meta_tasks=2", "--param", "train_queries=4"]
    args = protocol["parse_args"](base)
    protocol["run_family"]("synthetic", args, fake_lm, fake_encoder, tmp_path)
    path = tmp_path / "synthetic.json"
    first = json.loads(path.read_text())
    assert first["revisions"]["1"]["learned"] == protocol["REVISIONS"]["learned"]

    old = json.loads(path.read_text())  # as an older revision of learned and meta left it
    for t in ("0", "1"):
        old["tasks"][t].update({"learned@4": -1.0, "meta@4": -1.0, "knn@4": -2.0})
        old["revisions"][t] = {"knn": 1, "learned": 1, "meta": 1}
    path.write_text(json.dumps(old))
    saved = torch.load(tmp_path / "synthetic.meta.pt", weights_only=False)
    saved["revision"] = 1
    torch.save(saved, tmp_path / "synthetic.meta.pt")

    protocol["run_family"]("synthetic", args, fake_lm, fake_encoder, tmp_path)
    again = json.loads(path.read_text())
    for t in ("0", "1"):
        assert again["tasks"][t]["knn@4"] == -2.0  # an unchanged selector's column stands
        assert again["tasks"][t]["learned@4"] == first["tasks"][t]["learned@4"]  # re-scored: same seeds, same result
        assert again["tasks"][t]["meta+cc@4"] == first["tasks"][t]["meta+cc@4"]
        assert again["revisions"][t] == {"knn": 1, "learned": protocol["REVISIONS"]["learned"],
                                         "meta": protocol["REVISIONS"]["meta"]}
    assert torch.load(tmp_path / "synthetic.meta.pt", weights_only=False)["revision"] == protocol["REVISIONS"]["meta"]


def test_threads_below_one_is_refused_in_one_line(protocol, capsys):
    with pytest.raises(SystemExit) as exit_:
        protocol["parse_args"](["--threads", "0"])
    assert exit_.value.code == 2
    assert "--threads must be at least 1, got 0" in capsys.readouterr().err


def test_tables_keep_the_families_other_processes_ran(protocol, tmp_path, monkeypatch, family, fake_lm,
                                                      fake_encoder):
    import prompting.tasks

    monkeypatch.setattr(prompting.tasks, "get_family", lambda name: family)
    args = protocol["parse_args"](["--families", "synthetic", "--selectors", "zero,knn", "--queries", "2",
                                   "--pool", "6", "--tasks", "1", "--subset", "0", "--no-protonet",
                                   "--out", str(tmp_path)])
    protocol["run_family"]("synthetic", args, fake_lm, fake_encoder, tmp_path)
    (tmp_path / "synthetic.json").rename(tmp_path / "wordnet.json")  # as a process for wordnet alone leaves it
    protocol["main"](["--report-only", "--families", "fortunes", "--out", str(tmp_path)])
    assert "### wordnet: 1 tasks" in (tmp_path / "tables.md").read_text()
    assert (tmp_path / "wordnet.png").read_bytes()[:4] == b"\x89PNG"  # its figure too


@pytest.mark.parametrize(("argv", "named"), [(["--param", "rank=-1"], "rank must be >= 0, got -1"),
                                             (["--param", "rank"], "--param rank: use KEY=VALUE"),
                                             (["--selectors", "knn,oracle"], "unknown selector 'oracle'")])
def test_bad_selector_settings_are_refused_before_the_lm_loads(protocol, argv, named, capsys):
    with pytest.raises(SystemExit) as exit_:
        protocol["parse_args"](argv)
    assert exit_.value.code == 2 and named in capsys.readouterr().err


def _family_file(out, name, gains, *, boot=0.5):
    """A finished family whose learned@4 beats kNN@4 by ``gains[t]`` on task t (meta ties kNN)."""
    tasks = {str(t): {"knn@4": 0.6 + 0.01 * (t % 3), "bootstrap@4": boot} for t in range(len(gains))}
    for t, g in enumerate(gains):
        tasks[str(t)].update({"learned@4": tasks[str(t)]["knn@4"] + g, "meta@4": tasks[str(t)]["knn@4"]})
    (out / f"{name}.json").write_text(json.dumps({"config": {"k": 4}, "tasks": tasks}))


def test_targets_are_judged_per_family_from_paired_intervals(protocol, tmp_path):
    _family_file(tmp_path, "wordnet", [0.05, 0.04, 0.06, 0.05])  # +5 points, a tight interval: a gain
    _family_file(tmp_path, "chatterbot", [0.03, 0.02, 0.04, 0.03])  # +3: a gain
    _family_file(tmp_path, "fortunes", [0.0, 0.005, -0.005, 0.0])  # a tie within 1 point: no worse, no gain
    lines = protocol["targets"](tmp_path, ["wordnet", "chatterbot", "fortunes"], planned=4)
    # differences 5, 4, 6, 5 points: sd 0.816, t(3) = 3.182 -> ± 1.3
    assert "| wordnet | learned | 4 | 4 | 5.0 ± 1.3 | yes | yes | 15.8 ± 2.4 | yes |" in lines
    assert "| fortunes | learned | 4 | 4 | 0.0 ± 0.6 | yes | no | 10.7 ± 1.4 | yes |" in lines
    assert any(line.startswith("learned: no worse than kNN on 3 of 3 families, a gain on 2, better than bootstrap "
                               "on 3: target met") for line in lines)
    assert any(line.startswith("meta:") and "a gain on 0" in line and "target not met" in line for line in lines)

    _family_file(tmp_path, "fortunes", [-0.05, -0.01, -0.03, 0.0])  # the interval's lower end below -1 point
    lines = protocol["targets"](tmp_path, ["wordnet", "chatterbot", "fortunes"], planned=40)
    learned = next(line for line in lines if line.startswith("learned:"))
    assert "no worse than kNN on 2 of 3" in learned and "target not met (provisional: 4 of 40 tasks)" in learned


def test_jobs_run_one_family_per_process(protocol, monkeypatch):
    import os
    import sys

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    commands = protocol["family_commands"](["--out", "o", "--families=wordnet,fortunes", "--jobs", "2", "--k", "4"],
                                           ["wordnet", "fortunes"], 2, None)
    assert [c[2:] for c in commands] == [["--out", "o", "--k", "4", "--families", f, "--threads", "4"]
                                         for f in ("wordnet", "fortunes")]  # 8 cores / 2 jobs
    assert all(c[0] == sys.executable and c[1].endswith("prompt_protocol.py") for c in commands)
    assert protocol["family_commands"](["--jobs", "2"], ["wordnet", "bbc"], 2, 3)[0][-2:] == ["--threads", "3"]
    ok, bad = [sys.executable, "-c", "pass"], [sys.executable, "-c", "raise SystemExit(3)"]
    assert protocol["run_jobs"]([ok, bad, bad, ok], 2) == 2


def test_jobs_below_one_is_refused(protocol, capsys):
    with pytest.raises(SystemExit) as exit_:
        protocol["parse_args"](["--jobs", "0"])
    assert exit_.value.code == 2 and "--jobs must be at least 1, got 0" in capsys.readouterr().err


def _shard_args(protocol, tmp_path, *extra):
    return protocol["parse_args"](["--families", "synthetic", "--selectors", "knn,bootstrap,meta", "--queries", "2",
                                   "--pool", "6", "--tasks", "5", "--subset", "2", "--extra-ks", "2",
                                   "--no-protonet", "--calibration", "off", "--out", str(tmp_path),
                                   "--param", "meta_tasks=2", "--param", "train_queries=4", "--param", "num_sets=2",
                                   "--param", "val_size=2", *extra])


def test_shards_of_a_family_run_at_once_and_merge_into_one_file(protocol, tmp_path, monkeypatch, family, fake_lm,
                                                                fake_encoder, at_once):
    """Two shards in parallel write what one process writes: every task, the same scores and LM-prompt totals,
    and the meta selector meta-trained once (the second shard waits for it and loads it)."""
    import prompting.tasks
    from prompting.selectors.meta import MetaLearned

    monkeypatch.setattr(prompting.tasks, "get_family", lambda name: family)
    alone = tmp_path / "alone"
    protocol["run_family"]("synthetic", _shard_args(protocol, alone), fake_lm, fake_encoder, alone)
    expected = json.loads((alone / "synthetic.json").read_text())

    trainings, real = [], MetaLearned.meta_train

    def counting(self, *args, **kwargs):
        trainings.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MetaLearned, "meta_train", counting)
    shared = tmp_path / "shared"
    shards = [_shard_args(protocol, shared, "--shard", f"{i}/2") for i in range(2)]
    _, errors = at_once(*[lambda a=a: protocol["run_family"]("synthetic", a, type(fake_lm)(), fake_encoder, shared)
                          for a in shards])
    assert not errors
    merged = json.loads((shared / "synthetic.json").read_text())
    assert merged["tasks"] == expected["tasks"] and merged["revisions"] == expected["revisions"]
    assert merged["selection_prompts"] == expected["selection_prompts"]
    assert merged["selection_prompts"]["bootstrap"] == 4 * 7  # 5 tasks at k = 4, 2 at k = 2: 4 prompts each
    assert merged["meta_guard"] == expected["meta_guard"] and len(trainings) == 1


def test_a_resumed_run_keeps_the_totals_of_lm_prompts(protocol, tmp_path, monkeypatch, family, fake_lm,
                                                      fake_encoder):
    """Loading the saved meta selector once reset the running totals to the ones at meta-training time."""
    import prompting.tasks

    monkeypatch.setattr(prompting.tasks, "get_family", lambda name: family)
    protocol["run_family"]("synthetic", _shard_args(protocol, tmp_path, "--k-only"), fake_lm, fake_encoder, tmp_path)
    first = json.loads((tmp_path / "synthetic.json").read_text())
    assert first["selection_prompts"]["bootstrap"] == 4 * 5 and "knn@2" not in first["tasks"]["0"]  # k alone
    protocol["run_family"]("synthetic", _shard_args(protocol, tmp_path), fake_lm, fake_encoder, tmp_path)
    again = json.loads((tmp_path / "synthetic.json").read_text())
    assert again["selection_prompts"]["bootstrap"] == 4 * 7 and "knn@2" in again["tasks"]["1"]
    assert again["selection_prompts"]["meta (meta-training)"] == first["selection_prompts"]["meta (meta-training)"] > 0


def test_jobs_above_the_families_split_each_family_into_shards(protocol, monkeypatch):
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    commands = protocol["family_commands"](["--families", "fortunes", "--jobs", "2", "--shard", "0/3", "--k-only"],
                                           ["fortunes"], 2, None)
    assert [c[2:] for c in commands] == [["--k-only", "--families", "fortunes", "--threads", "1", "--shard", s]
                                         for s in ("0/2", "1/2")]


@pytest.mark.parametrize("shard", ["2/2", "1", "a/2", "-1/2"])
def test_a_bad_shard_is_refused_in_one_line(protocol, shard, capsys):
    with pytest.raises(SystemExit) as exit_:
        protocol["parse_args"]([f"--shard={shard}"])
    assert exit_.value.code == 2 and f"--shard {shard}: use I/N with 0 <= I < N" in capsys.readouterr().err
