"""The error hierarchy: every KeelError carries an exit code and an HTTP status, the API
answers with exactly that status, and every other exception class of `src/` is named in the
hierarchy's docstring as deliberately outside it."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import keel
from keel import errors
from keel.api import problems

SRC = Path(keel.__file__).parent


def _all_subclasses(cls: type) -> list[type]:
    for info in pkgutil.walk_packages(keel.__path__, "keel."):
        importlib.import_module(info.name)  # every module, so every subclass is defined
    found, todo = [], [cls]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


SUBCLASSES = _all_subclasses(errors.KeelError)


def _instance(cls: type) -> Exception:
    try:
        return cls("one line")
    except TypeError:
        return cls("one line", ["one line"])


def test_the_hierarchy_is_complete():
    names = {c.__name__ for c in SUBCLASSES}
    assert {"UsageError", "InputError", "NotFoundError", "ConflictError", "NoStanding"} <= names
    assert errors.ConflictError.http_status == 409 and issubclass(
        errors.ConflictError, errors.UsageError
    )


@pytest.mark.parametrize("cls", [errors.KeelError, *SUBCLASSES], ids=lambda c: c.__qualname__)
def test_every_error_maps_to_its_status_and_exit_code(cls):
    assert isinstance(cls.exit_code, int) and cls.exit_code in (1, 2, 3)
    assert isinstance(cls.http_status, int) and 400 <= cls.http_status <= 599
    app = FastAPI()
    problems.install(app)

    @app.get("/raise")
    def _raise():
        raise _instance(cls)

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/raise")
    assert answer.status_code == cls.http_status
    assert answer.headers["content-type"] == problems.MEDIA_TYPE
    assert answer.json()["status"] == cls.http_status


def test_every_other_exception_is_named_as_outside_the_hierarchy():
    documented = errors.__doc__ or ""
    outside = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Name) and b.id == "Exception" for b in node.bases
            ):
                outside.append(node.name)
    private = {name for name in outside if name.startswith("_")}  # never leaves its module
    assert sorted(n for n in outside if n not in private and n not in documented) == []
    assert "KeelError" in outside
