"""Loading a bundle's config.json: the first step of create/run.

PLACEHOLDER until the validation work lands: json parse + the few checks the
lifecycle needs. The contract the rest of pyrunc relies on:

    load_bundle(bundle_dir, *, cache_dir=None, warn=print_to_stderr) -> dict

returns the parsed config (unchanged) or raises pyrunc.errors.ConfigError with a
message shaped `config.json: <json path>: <what>`; `warn(line)` receives one line
per SHOULD-warn finding.
"""
from __future__ import annotations

import json
import os

from pyrunc.errors import ConfigError


def load_bundle(bundle_dir: str, *, cache_dir: str | None = None, warn=None) -> dict:
    path = os.path.join(bundle_dir, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror.lower()}") from None
    try:
        cfg = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config.json:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg.lower()}") from None
    if not isinstance(cfg, dict):
        raise ConfigError("config.json: must be a JSON object")
    args = (cfg.get("process") or {}).get("args")
    if not isinstance(args, list) or not args:
        raise ConfigError("config.json: process.args: must be a non-empty array")
    root = (cfg.get("root") or {}).get("path")
    if not isinstance(root, str):
        raise ConfigError("config.json: root.path: is required")
    rootfs = root if os.path.isabs(root) else os.path.join(bundle_dir, root)
    if not os.path.isdir(rootfs):
        raise ConfigError(f"config.json: root.path: {rootfs}: no such directory")
    return cfg
