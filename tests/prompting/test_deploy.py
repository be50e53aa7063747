"""A fitted selector as a folder and an MLflow model: round-trips, a fresh process, `mlflow models serve`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from metaopt.cli import main
from metaopt.errors import ConfigError
from prompting.deploy import DEPLOYABLE, fit_selector, load_selector
from prompting.prompt import PromptFormat
from prompting.tasks.base import Example

ICL = Path(__file__).resolve().parents[3] / "shared" / "data" / "icl"


def _pool(n: int = 24) -> list[Example]:
    return [Example(f"kw{c}x{i % 5} kw{c}x{(i + 2) % 5} filler{i}", f"c{c}") for c in range(3) for i in range(n // 3)]


@pytest.mark.parametrize("name", [n for n in DEPLOYABLE if n != "meta"])
def test_save_and_load_choose_the_same_demonstrations(tmp_path, name, fake_lm, fake_encoder):
    fmt = PromptFormat("Text: {text}\nLabel: {label}", instruction="Labels: {labels}\n\n")  # the fake LM reads it
    deployed = fit_selector(name, _pool(), classes=("c0", "c1", "c2"), verbalisers=("zero", "one", "two"),
                            prompt_format=fmt, lm=fake_lm, encoder=fake_encoder, seed=3,
                            **({"steps": 10, "train_queries": 6} if name == "learned" else {}))
    deployed.save(tmp_path / "sel")
    again = load_selector(tmp_path / "sel", encoder=fake_encoder)
    for query in ("kw1x2 filler3", "kw0x4 kw2x1", "nothing in common"):
        assert again.select(query, 4) == deployed.select(query, 4)
        assert again.prompt(query, 2) == deployed.prompt(query, 2)
    assert again.prompt("kw1x2", 1).startswith("Labels: zero, one, two\n\nText: ")


def test_cli_choices_match_the_library():
    from metaopt.cli.prompt_deploy import DEPLOYABLE as CLI

    assert CLI == DEPLOYABLE


def test_bad_folders_and_selectors_are_one_line(tmp_path, capsys, fake_lm, fake_encoder, lm_must_not_load):
    with pytest.raises(ConfigError, match="deployable"):
        fit_selector("bootstrap", _pool(), classes=("c0",), verbalisers=("z",), prompt_format=PromptFormat(),
                     lm=fake_lm, encoder=fake_encoder)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "selector.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not a selector saved"):
        load_selector(tmp_path / "junk")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    rows = tmp_path / "t.jsonl"
    rows.write_text("".join(json.dumps({"text": f"t{i}", "label": "ab"[i % 2]}) + "\n" for i in range(6)))

    def line(argv):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err.strip()
        assert exc.value.code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
        return err

    assert "empty folder" in line(["prompt", "fit", "--train", str(rows), "--out", str(tmp_path / "full")])
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    assert "does not exist" in line(["prompt", "fit", "--train", str(rows), "--out", "/nonexistent/x/sel"])
    assert "one of them" in line(["prompt", "fit", "--out", str(tmp_path / "new")])
    assert "no 'body' field" in line(["prompt", "fit", "--train", str(rows), "--text-field", "body", "--selector",
                                      "knn", "--out", str(tmp_path / "new")])
    assert "not a folder written" in line(["prompt", "select", "--selector", str(tmp_path), "--query", "x"])
    assert not (tmp_path / "new").exists()


def _select_in_fresh_process(folder: Path, query: str, k: int) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "metaopt", "prompt", "select", "--selector", str(folder), "--query",
                          query, "-k", str(k), "--json"], capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["demonstrations"]


@pytest.mark.slow
def test_learned_on_sst2_round_trips_through_a_fresh_process(tmp_path, real_lm, real_encoder):
    from prompting.datasets import get_dataset

    d = get_dataset("sst2", str(ICL))
    pool = d.task(0, pool=120, queries=1).pool
    deployed = fit_selector("learned", pool, classes=d.classes, verbalisers=d.verbalisers,
                            prompt_format=d.prompt_format, lm=real_lm, encoder=real_encoder,
                            encoder_name=real_encoder.name, steps=40)
    deployed.save(tmp_path / "sel")
    for query in ("a gripping , funny film", "tedious and overlong ."):
        here = [{"text": e.text, "label": e.label, "label_word": deployed.labels[e.label]}
                for e in deployed.select(query, 4)]
        assert _select_in_fresh_process(tmp_path / "sel", query, 4) == here


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_registered_model_is_served_by_mlflow_models_serve(tmp_path):
    """`prompt fit --register-model` on a real SQLite store, then `mlflow models serve` answers a query with
    the demonstrations `prompt select` chooses."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    rows = tmp_path / "train.jsonl"
    rows.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in [
        ("a wonderful , moving film", "pos"), ("sharp and funny", "pos"), ("a delight from start to end", "pos"),
        ("dull and lifeless", "neg"), ("a tedious mess", "neg"), ("clumsy , boring and long", "neg")]))
    assert main(["prompt", "fit", "--train", str(rows), "--selector", "knn", "--out", str(tmp_path / "sel"),
                 "--register-model", "review-demos", "--tracking-uri", uri, "-k", "2"]) == 0
    import mlflow

    mlflow.set_tracking_uri(uri)
    signature = mlflow.models.get_model_info("models:/review-demos/1").signature
    assert [c.name for c in signature.inputs.inputs] == ["query", "k"]
    assert [c.name for c in signature.outputs.inputs] == ["demonstrations", "prompt"]
    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    server = subprocess.Popen(["mlflow", "models", "serve", "-m", "models:/review-demos/1", "--env-manager", "local",
                               "-p", str(port), "--host", "127.0.0.1"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "mlflow models serve did not start"
                time.sleep(1)
        body = json.dumps({"dataframe_records": [{"query": "a boring , clumsy film", "k": 2}]}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", body,
                                         {"Content-Type": "application/json"})
        answer = json.loads(urllib.request.urlopen(request, timeout=60).read())["predictions"][0]
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    served = json.loads(answer["demonstrations"])
    assert served == _select_in_fresh_process(tmp_path / "sel", "a boring , clumsy film", 2)
    assert served[-1]["label"] == "neg" and answer["prompt"].endswith("Text: a boring , clumsy film\nLabel:")
