"""The verdict cache: a hit skips jsonschema, and nothing about it can make a bad config pass."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap

import pytest

from pyrunc.config import cache, load_bundle, schema
from pyrunc.errors import ConfigError
from tests.unit.test_config_messages import BASE


@pytest.fixture
def setup(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    (bundle / "config.json").write_text(json.dumps(BASE))
    return bundle, tmp_path / "root" / "cache"


def _entries(cache_dir):
    """The verdict entries (the seccomp filter the checks compile is cached beside them)."""
    names = os.listdir(cache_dir) if cache_dir.exists() else []
    return sorted(n for n in names if not n.startswith("seccomp-"))


def _key(bundle):
    return cache.key_for(schema.digest(), (bundle / "config.json").read_bytes())


def test_valid_config_is_remembered(setup):
    bundle, cache_dir = setup
    load_bundle(str(bundle), cache_dir=str(cache_dir))
    assert _entries(cache_dir) == [_key(bundle)]
    assert oct(cache_dir.stat().st_mode & 0o777) == "0o700"
    assert cache.seen_valid(str(cache_dir), _key(bundle))


def test_invalid_config_is_never_remembered(setup):
    bundle, cache_dir = setup
    cfg = copy.deepcopy(BASE)
    cfg["process"]["user"]["uid"] = -1
    (bundle / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError):
        load_bundle(str(bundle), cache_dir=str(cache_dir))
    assert _entries(cache_dir) == []


def test_semantic_checks_still_run_on_a_hit(setup):
    bundle, cache_dir = setup
    load_bundle(str(bundle), cache_dir=str(cache_dir))
    (bundle / "rootfs").rmdir()
    with pytest.raises(ConfigError, match="root.path: .*: no such file or directory"):
        load_bundle(str(bundle), cache_dir=str(cache_dir))


@pytest.mark.parametrize("content", [b"", b"garbage", b"0" * 64 + b"\n", b"\xff\xfe"])
def test_corrupt_entry_is_a_miss(setup, content):
    bundle, cache_dir = setup
    cache_dir.mkdir(parents=True)
    key = _key(bundle)
    (cache_dir / key).write_bytes(content)
    assert not cache.seen_valid(str(cache_dir), key)
    load_bundle(str(bundle), cache_dir=str(cache_dir))       # validates, then rewrites the entry
    assert cache.seen_valid(str(cache_dir), key)


def test_a_planted_entry_for_other_bytes_does_not_apply(setup):
    bundle, cache_dir = setup
    good_key = _key(bundle)
    load_bundle(str(bundle), cache_dir=str(cache_dir))
    cfg = copy.deepcopy(BASE)
    cfg["linux"]["namespaces"][0]["type"] = "pidd"
    (bundle / "config.json").write_text(json.dumps(cfg))
    (cache_dir / _key(bundle)).write_text(good_key + "\n")   # right name, wrong content
    with pytest.raises(ConfigError, match="pidd"):
        load_bundle(str(bundle), cache_dir=str(cache_dir))


def test_symlinked_entry_is_ignored(setup, tmp_path):
    bundle, cache_dir = setup
    cache_dir.mkdir(parents=True)
    key = _key(bundle)
    (tmp_path / "elsewhere").write_text(key + "\n")
    os.symlink(tmp_path / "elsewhere", cache_dir / key)
    assert not cache.seen_valid(str(cache_dir), key)


def test_unusable_cache_dir_only_costs_a_miss(setup):
    bundle, cache_dir = setup
    cache_dir.parent.mkdir(parents=True)
    cache_dir.write_text("not a directory")
    assert load_bundle(str(bundle), cache_dir=str(cache_dir)) == BASE


def test_schema_change_invalidates(setup, monkeypatch):
    bundle, cache_dir = setup
    load_bundle(str(bundle), cache_dir=str(cache_dir))
    monkeypatch.setattr(schema, "VALIDATOR_REVISION", b"something-else")
    assert not cache.seen_valid(str(cache_dir), _key(bundle))


def test_prune_keeps_the_directory_small(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "MAX_ENTRIES", 8)
    for i in range(20):
        cache.remember_valid(str(tmp_path), f"{i:064x}")
    assert 4 <= len(os.listdir(tmp_path)) <= 8
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code) +
                          "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_import_is_light():
    # the package imports its pipeline lazily: import that too
    mods = _modules_after("import pyrunc.config, pyrunc.config.checks.pipeline")
    assert not {m for m in mods if m.split(".")[0] in ("jsonschema", "referencing", "click")}, mods


def test_exec_runs_the_process_rules_without_the_rest_of_config():
    """`exec` checks its process.json with checks/process.py (and the profile with
    checks/seccomp.py): that must not load the pipeline, the schema or the caches."""
    mods = _modules_after("import pyrunc.config.checks.process, pyrunc.config.checks.seccomp")
    assert {m for m in mods if m.startswith("pyrunc.config")} == {
        "pyrunc.config", "pyrunc.config.findings", "pyrunc.config.checks",
        "pyrunc.config.checks.process", "pyrunc.config.checks.seccomp"}, mods


def test_warm_cache_never_imports_jsonschema(setup):
    bundle, cache_dir = setup
    load_bundle(str(bundle), cache_dir=str(cache_dir))
    mods = _modules_after(f"""
        from pyrunc.config import load_bundle
        load_bundle({str(bundle)!r}, cache_dir={str(cache_dir)!r})
    """)
    assert "jsonschema" not in mods


def test_cold_cache_valid_config_never_imports_jsonschema(setup):
    """A miss goes to the compiled validator; jsonschema only words errors."""
    bundle, cache_dir = setup
    mods = _modules_after(f"""
        from pyrunc.config import load_bundle
        load_bundle({str(bundle)!r}, cache_dir={str(cache_dir)!r})
    """)
    assert "jsonschema" not in mods
    assert cache.seen_valid(str(cache_dir), _key(bundle))


def test_invalid_config_imports_jsonschema_for_its_messages(setup):
    bundle, cache_dir = setup
    cfg = copy.deepcopy(BASE)
    cfg["process"]["user"]["uid"] = -1
    (bundle / "config.json").write_text(json.dumps(cfg))
    mods = _modules_after(f"""
        from pyrunc.config import load_bundle
        from pyrunc.errors import ConfigError
        try:
            load_bundle({str(bundle)!r}, cache_dir={str(cache_dir)!r})
        except ConfigError as exc:
            assert "process.user.uid" in exc.message
    """)
    assert "jsonschema" in mods


@pytest.mark.parametrize("verb", ["state", "kill", "delete", "start"])
def test_shim_verbs_never_import_jsonschema(tmp_path, verb):
    """Shims call these constantly; jsonschema (50-70 ms) is for create/run only."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "pyrunc", "--root", str(tmp_path),
                           verb, "nosuch"], capture_output=True, text=True)
    loaded = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert f"pyrunc.lifecycle.{verb}" in loaded, proc.stderr[-2000:]  # the verb ran (via pyrunc.cli)
    assert not {m for m in loaded if m.split(".")[0] in ("jsonschema", "referencing")}
    assert not {m for m in loaded if m.startswith("pyrunc.config")}
