"""Any config, however broken, ends in findings, never in a crash or a Python repr.

Feeds generated configs and mutants (the strategies of test_schema_oracle)
through the whole check_bundle pipeline: schema, semantic rules (strict and
best-effort), the --strict listing.
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrunc.config import check_bundle
from pyrunc.config.findings import SEVERITIES
from tests.unit.test_schema_oracle import COMMON, configs, mutants

REPR_SIGNS = re.compile(r"Traceback|\bNone\b|\bTrue\b|\bFalse\b|<class|\{'|\['|'\]|object at 0x")
BUNDLE = tempfile.mkdtemp(prefix="pyrunc-fuzz-")


@pytest.fixture(scope="module", autouse=True)
def _remove_bundle():
    """One bundle dir for every example (hypothesis and function fixtures do
    not mix); gone with the module, as every test leaves nothing behind."""
    yield
    shutil.rmtree(BUNDLE, ignore_errors=True)


@st.composite
def documents(draw):
    doc = draw(st.one_of(configs, mutants(), mutants("range"), mutants("enum")))
    if isinstance(doc, dict) and isinstance(doc.get("root"), dict) and draw(st.booleans()):
        doc["root"]["path"] = "rootfs"      # let the rules past the rootfs check more often
    return doc


@settings(max_examples=300, **COMMON)
@given(documents())
def test_every_document_gives_clean_findings(doc):
    import os
    os.makedirs(f"{BUNDLE}/rootfs", exist_ok=True)
    with open(f"{BUNDLE}/config.json", "w") as f:
        json.dump(doc, f)
    cfg, found = check_bundle(BUNDLE, strict=True)
    assert (cfg is None) == any(f.severity == "error" for f in found)
    for finding in found:
        assert finding.severity in SEVERITIES
        text = finding.text()
        assert "\n" not in text
        assert not REPR_SIGNS.search(text), text
