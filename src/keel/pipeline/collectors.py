"""The pipeline's figures for `/metrics`: releases made, what each environment serves, and
the releases waiting for an approval (keel.metrics)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

from keel.metrics import collector
from keel.pipeline.environments import ENVIRONMENTS
from keel.pipeline.promotion import missing, standing
from keel.pipeline.releases import list_releases
from keel.pipeline.tables import PromotionRow, ReleaseRow


@collector("pipeline")
def releases(session) -> Iterator:
    made = CounterMetricFamily("keel_releases_created", "Releases created (model@N).")
    made.add_metric([], session.scalar(select(func.count()).select_from(ReleaseRow)) or 0)
    yield made
    served = GaugeMetricFamily(
        "keel_releases_served",
        "Releases an environment serves now (one per model it serves).",
        labels=["environment"],
    )
    counts = dict(
        session.execute(
            select(PromotionRow.environment, func.count()).group_by(PromotionRow.environment)
        ).all()
    )
    for environment in ENVIRONMENTS:
        served.add_metric([environment], counts.get(environment, 0))
    yield served
    yield _pending(session)


def _pending(session) -> GaugeMetricFamily:
    """The newest release of each model that an environment does not serve yet and that
    still lacks an approval its policies ask for there."""
    pending = GaugeMetricFamily(
        "keel_approvals_pending",
        "Newest releases of a model not yet in an environment that lack a required approval.",
        labels=["environment"],
    )
    serving = {(r.release, r.environment) for r in session.scalars(select(PromotionRow))}
    newest = {}
    for release in list_releases(session):  # ordered by model, then version
        newest[release.model] = release
    counts = dict.fromkeys(ENVIRONMENTS, 0)
    for release in newest.values():
        facts = standing(session, release)
        for environment in ENVIRONMENTS:
            if (release.name, environment) in serving:
                continue
            gaps = missing(session, release, environment, known=facts)
            if any(g.requirement.startswith("approval ") for g in gaps):
                counts[environment] += 1
    for environment, count in counts.items():
        pending.add_metric([environment], count)
    return pending
