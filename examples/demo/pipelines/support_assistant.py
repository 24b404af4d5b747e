"""Build the support assistant's retrieval index over the help-centre knowledge base, and
release it: the index is the model's artifact, so what answers customers in production is a
governed release like any other.

Runs anywhere the SDK can reach a workspace (KEEL_HOME): `keel pipeline run` here, or
unchanged under a scheduler. The evidence the policy (policy:support-assistant-release)
asks for is recorded as the run goes: where the articles come from and whether their
consent covers customer support, who owns the index, and how well it retrieves.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import keel
from keel.demo.support import build_index, read_articles
from keel.pipeline import checks

HERE = Path(__file__).resolve().parent
ARTICLES = HERE.parent / "knowledge-base"
# The share of articles that must come first when asked by their own title; the policy
# holds the same bound and decides at promotion.
MIN_TITLE_HIT_RATE = 0.8


def retrieval_check(hit_rate: float, articles: int) -> checks.CheckResult:
    """Eval Ops evidence: each article asked by its title, the index must put it first."""
    ok = hit_rate >= MIN_TITLE_HIT_RATE
    return checks.CheckResult(
        track="eval",
        check="retrieval",
        result="pass" if ok else "fail",
        figures={"title_hit_rate": round(hit_rate, 4), "articles": articles},
        thresholds={"title_hit_rate": MIN_TITLE_HIT_RATE},
        log=[
            f"{hit_rate:.0%} of {articles} articles found first by their own title "
            f"({'≥' if ok else '<'} {MIN_TITLE_HIT_RATE:.0%})"
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=ARTICLES)
    parser.add_argument("--out", type=Path, default=Path("artifacts") / "kb-index")
    args = parser.parse_args()

    with keel.run(system="support-assistant", pipeline="build-retrieval-index") as run:
        # Data Ops: the articles by digest, where they come from, whether consent covers this
        run.log_dataset(args.articles, source="datasource:support-kb", name="knowledge-base")
        source = run.source("support-kb")
        run.record(
            checks.provenance([checks.DatasetUse("knowledge-base", args.articles, source)])
        )
        run.record(checks.consent([source] if source else [], run.purpose))

        # Feature Ops: the index is the system's feature set, read under this run's identity
        run.use_features("featureset:kb-retrieval-index")

        # Build, then Eval Ops: retrieval quality on the articles' own titles
        index, hit_rate = build_index(args.articles)
        names = read_articles(args.articles)[0]
        run.log_params({"dimensions": int(index.vectors.shape[1]), "articles": len(names)})
        run.log_metric("title hit rate", round(hit_rate, 4))
        run.record(retrieval_check(hit_rate, len(names)))

        index.save(args.out)
        run.release("support-assistant-model", args.out)


if __name__ == "__main__":
    main()
