"""A system's readiness scorecard: the checks' results per dimension, the overall score,
and the minimum a policy sets.

`score(facts)` is pure. The overall score is the mean of the five dimension scores (each
0-100), rounded to one decimal; `readiness(session, system)` gathers the facts and scores
them. `score_text` is the one way a score is written for people: on the 0-100 scale, to one
decimal ("93.0", "18.4"), so a whole score never reads as another scale. A Policy governing the system may set `readiness: {minScore: N}`; with several, the
highest minimum holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from keel.pipeline.policy import NamedPolicy
from keel.readiness.checks import CHECKS, DIMENSIONS
from keel.readiness.facts import SystemFacts, gather


def score_text(value: float) -> str:
    """A readiness score (0-100) as people read it, everywhere: one decimal, "93.0"."""
    return f"{value:.1f}"


@dataclass(frozen=True)
class Result:
    id: str
    dimension: str
    title: str
    weight: int
    passed: bool
    message: str
    fix: str

    @property
    def points(self) -> int:
        return self.weight if self.passed else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "weight": self.weight,
            "passed": self.passed,
            "points": self.points,
            "message": self.message,
            **({"fix": self.fix} if not self.passed else {}),
        }


@dataclass(frozen=True)
class DimensionScore:
    id: str
    title: str
    question: str
    results: list[Result]

    @property
    def score(self) -> int:
        return sum(r.points for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "question": self.question,
            "score": self.score,
            "checks": [r.as_dict() for r in self.results],
        }


@dataclass(frozen=True)
class Minimum:
    score: float
    policy: str | None  # None when given on the command line


@dataclass(frozen=True)
class Scorecard:
    system: str
    title: str
    dimensions: list[DimensionScore]
    minimum: Minimum | None

    @property
    def score(self) -> float:
        """The mean of the five dimension scores, to one decimal."""
        return round(sum(d.score for d in self.dimensions) / len(self.dimensions), 1)

    @property
    def findings(self) -> list[Result]:
        """Every failed check, the costliest first."""
        failed = [r for d in self.dimensions for r in d.results if not r.passed]
        return sorted(failed, key=lambda r: -r.weight)

    @property
    def meets_minimum(self) -> bool | None:
        return None if self.minimum is None else self.score >= self.minimum.score

    def with_minimum(self, minimum: Minimum | None) -> Scorecard:
        return Scorecard(self.system, self.title, self.dimensions, minimum)

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "title": self.title,
            "score": self.score,
            "scoring": "the mean of the five dimension scores, each 0-100",
            "dimensions": [d.as_dict() for d in self.dimensions],
            "findings": [
                {
                    "dimension": r.dimension,
                    "check": r.id,
                    "cost": r.weight,
                    "message": r.message,
                    "fix": r.fix,
                }
                for r in self.findings
            ],
            "minimum": None
            if self.minimum is None
            else {"score": self.minimum.score, "policy": self.minimum.policy},
            "meetsMinimum": self.meets_minimum,
        }


def policy_minimum(policies: list[NamedPolicy]) -> Minimum | None:
    """The highest `readiness.minScore` among the policies, and which policy sets it."""
    gates = [(p.spec.readiness.minScore, p.key) for p in policies if p.spec.readiness]
    if not gates:
        return None
    score, key = max(gates, key=lambda g: (g[0], g[1]))
    return Minimum(score, key)


def score(facts: SystemFacts) -> Scorecard:
    dimensions = []
    for dim in DIMENSIONS:
        results = []
        for c in CHECKS:
            if c.dimension != dim.id:
                continue
            outcome = c.run(facts)
            results.append(
                Result(
                    c.id,
                    c.dimension,
                    c.title,
                    c.weight,
                    outcome.passed,
                    outcome.message,
                    outcome.fix,
                )
            )
        dimensions.append(DimensionScore(dim.id, dim.title, dim.question, results))
    return Scorecard(facts.key, facts.title, dimensions, policy_minimum(facts.policies))


def readiness(session: Session, system: str) -> Scorecard:
    """The scorecard of `system` (a name or key); NotFoundError when it is not a System."""
    return score(gather(session, system))
