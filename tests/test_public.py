"""Keel's public names, pinned (as httpx pins `__all__`): a change to them is a decision.

The root package and every package with an `__all__` export exactly these names, each of
which exists; packages without one are used through their modules, whose names are pinned.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import keel

EXPORTS = {
    "keel": ["KeelError", "__version__", "run"],
    "keel.api": ["create_app"],
    "keel.audit": [
        "Change",
        "Event",
        "GOVERNANCE",
        "append",
        "canonical_bytes",
        "digest",
        "head",
        "list_events",
        "new_op",
    ],
    "keel.auth": [
        "ROLES",
        "Principal",
        "TokenInfo",
        "create_token",
        "exchange_login_code",
        "list_tokens",
        "revoke_tokens",
        "role_allows",
        "verify",
    ],
    "keel.demo": ["Demo", "build_demo", "examples_dir"],
    "keel.guard": [
        "DEFAULT_POLICY",
        "STRICT_POLICY",
        "Finding",
        "Policy",
        "ResponseStreamGuard",
        "ScanResult",
        "StagePolicy",
        "StreamFilter",
        "guard_response",
        "parse_policy",
        "scan",
    ],
    "keel.notifications": [
        "STATUSES",
        "Delivery",
        "Policy",
        "Subscription",
        "deliveries",
        "known",
        "list_subscriptions",
        "remove",
        "resolve",
        "run_pass",
        "subscribe",
    ],
    "keel.store": ["Base", "make_engine", "transaction"],
    "keel.workspace": ["EMBEDDED", "SERVER", "Workspace", "init_workspace", "open_workspace"],
}
MODULES = {
    "keel.catalog": "apply entity export graph impact kinds parse pods queries refs registry "
    "render rules service source suggest tables validate",
    "keel.pipeline": "approvals attach bom checks collectors environments evidence openlineage "
    "policy policy_kind promotion refusals releases reviews runs sdk tables testreports",
    "keel.readiness": "checks collectors facts jobs reviews scorecard stages tables",
    "keel.incidents": "detect jobs service tables timeline",
    "keel.worker": "collectors cron leader registry runner schedule tables",
}
PACKAGES = sorted(m.name for m in pkgutil.iter_modules(keel.__path__, "keel.") if m.ispkg)


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_the_exported_names(name):
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(EXPORTS[name])
    for export in module.__all__:
        assert getattr(module, export) is not None, f"{name}.{export}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_the_modules_of_packages_used_through_their_modules(name):
    package = importlib.import_module(name)
    found = sorted(
        m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")
    )
    assert found == sorted(MODULES[name].split())


def test_every_package_is_pinned_one_way_or_left_internal_by_name():
    internal = {"keel.cli", "keel.gateway", "keel.serving", "keel.web"}  # run as processes
    assert set(PACKAGES) == set(EXPORTS) - {"keel"} | set(MODULES) | internal


def test_the_version_is_the_packages():
    from importlib.metadata import version

    assert keel.__version__ == version("keel")
