"""Built-in pipeline checks, one set per track, each returning a CheckResult (the evidence).

Pure functions: they take data, predictions, callables and catalogued facts as arguments and
touch no database or workspace; the store side records what they return.

    data.provenance, data.consent, data.quality    Data Ops
    model.fairness, model.robustness               Model Ops
    evaluation.evaluation                          Eval Ops
"""

from keel.pipeline.checks.data import columns_of, consent, provenance, quality
from keel.pipeline.checks.evaluation import evaluation
from keel.pipeline.checks.expectations import Expectation, parse_expectations
from keel.pipeline.checks.facts import DatasetUse, SourceFacts
from keel.pipeline.checks.model import fairness, robustness
from keel.pipeline.checks.result import CheckResult

__all__ = [
    "CheckResult",
    "DatasetUse",
    "Expectation",
    "SourceFacts",
    "columns_of",
    "consent",
    "evaluation",
    "fairness",
    "parse_expectations",
    "provenance",
    "quality",
    "robustness",
]
