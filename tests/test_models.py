"""Every model of user input refuses unknown fields the same way, at any depth (issue 13).

Top-level API bodies named the field and the accepted ones; objects inside them (evidence,
run facts and their datasets, a route's guard policy) gave pydantic's raw message or, for a
run's datasets, kept the field. Now they all derive from `keel.models.Strict`: this test walks
the modules whose models take user JSON and finds none that does not.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from pydantic import BaseModel, Field, ValidationError

import keel
from keel.models import Strict, line, nearest

# models that are not user input, or whose input is refused elsewhere with file:line lines
NOT_INPUT = {
    "keel.api.catalog.ApplyResult",  # an answer
    "keel.catalog.queries.Page",  # an answer
}
CATALOG = ("keel.catalog.kinds", "keel.pipeline.policy_kind")  # `keel.catalog.parse` refuses


def _models():
    for info in pkgutil.walk_packages(keel.__path__, "keel."):
        if info.name.startswith(("keel.cli", "keel.web", "keel.demo", "keel.serving")):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseModel)
                and obj.__module__ == info.name
                and obj is not Strict
            ):
                yield f"{info.name}.{name}", obj


def test_every_input_model_is_strict():
    loose = [
        name
        for name, model in _models()
        if name not in NOT_INPUT and not name.startswith(CATALOG) and not issubclass(model, Strict)
    ]
    assert loose == []


def test_an_unknown_nested_field_is_one_line_with_its_path_and_the_accepted_ones():
    class Inner(Strict):
        source: str | None = None
        digest: str

    class Outer(Strict):
        datasets: list[Inner] = Field(default_factory=list)

    with pytest.raises(ValidationError) as caught:
        Outer.model_validate({"datasets": [{"digest": "d", "sourse": "x"}]})
    assert line(caught.value.errors()[0], "facts") == (
        "facts datasets.0.sourse: unknown field 'sourse'; accepted: source, digest "
        "(did you mean 'source'?)"
    )


def test_nearest_names_close_misspellings_only():
    assert nearest("pods", ["pod", "owner"]) == "pod"
    assert nearest("OWNER", ["pod", "owner"]) == "owner"
    assert nearest("zzz", ["pod", "owner"]) is None


def test_every_problem_of_an_object_is_reported_and_braces_are_kept():
    class Stage(Strict):
        pii: str | None = None
        level: int = 0

    with pytest.raises(ValidationError) as caught:
        Stage.model_validate({"level": "high", "{x}": 1})
    assert sorted(line(e) for e in caught.value.errors()) == [
        "level: Input should be a valid integer, unable to parse string as an integer",
        "{x}: unknown field '{x}'; accepted: pii, level",
    ]
