"""Declaring work: names are checked, declared once, and listed by name."""

import pytest

from keel.worker import registry


def test_declared_work_is_listed_by_name_with_its_package():
    @registry.job("tests.nightly", cron="0 3 * * *", timezone="Europe/Lisbon", description="d")
    def nightly(ctx):
        return "done"

    @registry.reconciler("tests.loop", every=2, description="d")
    def loop(ctx):
        return None

    try:
        names = [j.name for j in registry.jobs()]
        assert "tests.nightly" in names and names == sorted(names)
        found = next(j for j in registry.jobs() if j.name == "tests.nightly")
        assert (found.cron, found.timezone, found.run) == ("0 3 * * *", "Europe/Lisbon", nightly)
        assert found.package == "tests.worker.test_registry"
        assert next(r for r in registry.reconcilers() if r.name == "tests.loop").every == 2.0
    finally:
        registry._JOBS.pop("tests.nightly", None)
        registry._RECONCILERS.pop("tests.loop", None)


@pytest.mark.parametrize("name", ["Nightly", "nightly", "tests.", "tests.Night ly"])
def test_a_name_that_is_not_package_dot_what_is_refused(name):
    with pytest.raises(ValueError, match="is not `<package>"):
        registry.job(name, cron="* * * * *", description="d")(lambda ctx: None)


def test_work_declared_twice_is_refused():
    registry.job("tests.once", cron="* * * * *", description="d")(lambda ctx: None)
    try:
        with pytest.raises(ValueError, match="declared twice"):
            registry.reconciler("tests.once", every=1, description="d")(lambda ctx: None)
    finally:
        registry._JOBS.pop("tests.once", None)


def test_a_reconciler_needs_a_positive_interval():
    with pytest.raises(ValueError, match="positive"):
        registry.reconciler("tests.never", every=0, description="d")
