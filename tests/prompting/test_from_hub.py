"""Model and encoder names: a folder, the cache, the hub when it answers, and one quick line when it does not."""

from __future__ import annotations

import pytest

import prompting._sources as sources
from metaopt.errors import ConfigError


class Loader:
    def __init__(self, cached: bool) -> None:
        self.cached, self.calls = cached, []

    def __call__(self, name, **kwargs):
        self.calls.append(kwargs.get("local_files_only", False))
        if kwargs.get("local_files_only") and not self.cached:
            raise OSError("not in the cache")
        return f"model {name}"


def test_folder_cache_hub_and_offline(tmp_path, monkeypatch):
    load = Loader(cached=False)
    assert sources.from_hub(load, str(tmp_path), "--model") == f"model {tmp_path}" and load.calls == [False]
    cached = Loader(cached=True)
    assert sources.from_hub(cached, "org/name", "--model") == "model org/name" and cached.calls == [True]
    monkeypatch.setattr(sources, "_hub_answers", lambda: True)
    online = Loader(cached=False)
    assert sources.from_hub(online, "org/name", "--model") == "model org/name" and online.calls == [True, False]
    monkeypatch.setattr(sources, "_hub_answers", lambda: False)
    offline = Loader(cached=False)
    with pytest.raises(ConfigError, match="--encoder 'org/name': not a local folder or a cached model"):
        sources.from_hub(offline, "org/name", "--encoder")
    assert offline.calls == [True]  # the hub itself was never asked
    monkeypatch.setattr(sources, "_hub_answers", lambda: pytest.fail("HF_HUB_OFFLINE needs no probe"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="cannot be reached"):
        sources.from_hub(Loader(cached=False), "org/name", "--model")
