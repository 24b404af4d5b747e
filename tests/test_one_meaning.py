"""One meaning per name: a system argument is read by one function, environments are one constant."""

from __future__ import annotations

import ast

import pytest

from keel.catalog.refs import system_key_of
from keel.errors import UsageError
from keel.pipeline.environments import ENVIRONMENTS, check_environment
from tests.conftest import REPO

SRC = REPO / "src" / "keel"


def _trees():
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(REPO), ast.parse(path.read_text())


def test_a_system_argument_is_read_only_by_system_key_of():
    ad_hoc = [
        f"{path}:{node.lineno}"
        for path, tree in _trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", "")) != "RefField"
        and any(
            k.arg == "default_kind"
            and isinstance(k.value, ast.Constant)
            and k.value.value == "system"
            for k in node.keywords
        )
    ]
    assert ad_hoc == ["src/keel/catalog/refs.py:80"], ad_hoc


@pytest.mark.parametrize(
    "text, key",
    [
        ("credit", "system:default/credit"),
        ("system:ops/Credit", "system:ops/credit"),
        ("ops/credit", "system:ops/credit"),
        ("model:credit", "model:default/credit"),  # a kind named is kept: callers check it
    ],
)
def test_system_key_of(text, key):
    assert system_key_of(text) == key


@pytest.mark.parametrize("text", ["", " credit", "a/b/c", "system:"])
def test_system_key_of_refuses_a_malformed_reference(text):
    with pytest.raises(ValueError):
        system_key_of(text)


def test_environments_are_defined_once():
    defined = [
        f"{path}:{node.lineno}"
        for path, tree in _trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name) and target.id in ("ENVIRONMENTS", "Environment")
    ]
    assert all(d.startswith("src/keel/pipeline/environments.py") for d in defined), defined
    assert len(defined) == 2
    assert ENVIRONMENTS == ("staging", "production")
    assert check_environment("staging") == "staging"
    with pytest.raises(UsageError, match="not one of staging, production"):
        check_environment("prod")
