"""Building the demo workspace: catalog, trained models, retrieval index, and credentials."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from keel.audit import checkpoints
from keel.audit.artifacts import artifact_digest
from keel.auth import create_token
from keel.catalog import service
from keel.catalog.entity import Entity
from keel.config import DB_FILE, Settings
from keel.errors import UsageError
from keel.identity import user_actor
from keel.pipeline.environments import ENVIRONMENTS
from keel.workspace import Workspace, init_workspace

MARKER = ".keel-demo"
ADMIN = "user:default/ana.lima"  # the demo's ML engineer, who also administers the workspace
PEER = "user:default/ivo.costa"  # the other ML engineer, who reviews Ana's releases
RISK_LEAD = "user:default/dara.kim"
DATA_STEWARD = "user:default/chen.wu"
SUPPORT_ENGINEER = "user:default/gus.martin"  # the support assistant's pod
SUPPORT_OWNER = "user:default/fatima.haddad"
SUPPORT_STEWARD = "user:default/hana.sato"


def examples_dir() -> Path:
    """`examples/` as installed in the wheel, or in the source tree for an editable install."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_examples", here.parents[1] / "examples"):
        if (candidate / "demo").is_dir():
            return candidate
    raise UsageError("the demo catalog is missing from this installation")


@dataclass
class Demo:
    home: Path
    settings: Settings
    entities: int
    facts: list[str] = field(default_factory=list)  # what was trained and measured
    api_token: str = ""
    login_code: str = ""
    gateway_key: str = ""  # for the demo's app, both APIs in production, through the gateway


def build_demo(home: Path, *, progress=print) -> Demo:
    """A fresh demo workspace in `home` (an earlier demo there is replaced; nothing else is)."""
    home = home.absolute()
    if home.exists() and not home.is_dir():
        raise UsageError(f"{home} is a file; choose a folder for --home")
    if home.exists() and any(home.iterdir()):
        if not (home / MARKER).exists():
            raise UsageError(
                f"{home} exists and is not a Keel demo workspace; choose another --home"
            )
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)  # a new folder, or an empty one (as after mkdir)
    (home / MARKER).write_text("built by `keel demo`; safe to delete\n")
    settings = Settings(home=home, database_url=f"sqlite:///{home / DB_FILE}")
    actor = user_actor(ADMIN, "local")
    demo_root = examples_dir() / "demo"
    ws, _ = init_workspace(settings, actor)
    try:
        loaded = service.load([demo_root / "catalog"])
        with ws.write(actor) as session:
            service.apply(session, actor, loaded.entities)
        by_key = {e.key: e for e in loaded.entities}
        progress("training the credit models on German Credit (UCI, CC BY 4.0)…")
        facts = _train_credit(ws, actor, demo_root, home, by_key)
        progress("running the credit scorer's governed pipeline, twice…")
        facts += _govern_credit_scorer(ws, actor, demo_root, home)
        progress("building and releasing the support assistant's retrieval index…")
        facts += _release_support_index(ws, actor, demo_root, home, by_key)
        gateway_facts, gateway_key = _route_through_gateway(ws, actor)
        facts += gateway_facts
        with ws.write(actor) as session:
            _, api_token = create_token(
                session, actor, ADMIN, "admin", ttl=timedelta(days=1), note="printed by keel demo"
            )
            _, login_code = create_token(session, actor, ADMIN, "admin", kind="login")
        with ws.write(actor) as session:  # sign the whole demo history now
            checkpoints.checkpoint(session, ws.signer())
    finally:
        ws.close()
    return Demo(home, settings, len(loaded.entities), facts, api_token, login_code, gateway_key)


def _train_credit(
    ws: Workspace, actor, root: Path, home: Path, by_key: dict[str, Entity]
) -> list[str]:
    from skops.io import dump

    from keel.demo.credit import TARGET_DEFAULT_RATE, train

    data = root / "data" / "german_credit" / "german.data"
    facts, updated = [], []
    models = train(data)
    for model in models:
        path = home / "artifacts" / f"{model.name}.skops"
        path.parent.mkdir(exist_ok=True)
        dump(model.pipeline, path)
        rate = f"{TARGET_DEFAULT_RATE:.0%}"
        updated.append(
            _annotate(
                by_key[f"model:default/{model.name}"],
                {
                    "keel.dev/artifact": f"artifacts/{path.name}",
                    "keel.dev/artifact-digest": artifact_digest(path),
                    "keel.dev/training-data-digest": artifact_digest(data),
                    "keel.dev/auc": f"{model.auc:.3f}",
                    "keel.dev/approval-rate": f"{model.approval_rate:.1%} at {rate} defaults",
                },
            )
        )
        facts.append(
            f"{model.name}: AUC {model.auc:.3f} on held-out applications, "
            f"{model.approval_rate:.1%} approved at a {rate} default rate"
        )
    _apply(ws, actor, updated)
    return facts


def _govern_credit_scorer(ws: Workspace, actor, root: Path, home: Path) -> list[str]:
    """The credit scorer through its governed pipeline: a version with every column (which
    fails fairness and robustness, so its promotion is refused), a fair one that replaces it,
    the pod's approvals, staging, then production with its re-signed attestation."""
    from keel.pipeline import approvals, promotion
    from keel.pipeline.sdk import run_file

    script = root / "pipelines" / "credit_scorer.py"
    out = home / "artifacts"
    run_file(script, ["--variant", "all-features", "--out", str(out)], home=home, user=ADMIN)
    baseline = out / "credit-scorer-all-features.skops"
    run_file(
        script,
        ["--variant", "fair", "--out", str(out), "--baseline", str(baseline)],
        home=home,
        user=ADMIN,
    )
    with ws.write(actor) as session:
        refused = promotion.promote(session, actor, ws.signer(), "credit-scorer@1", "staging")
    for person, role in (
        (PEER, "mlEngineer"),
        (RISK_LEAD, "riskLead"),
        (DATA_STEWARD, "dataSteward"),
    ):
        approver = user_actor(person, "local")
        with ws.write(approver) as session:
            approvals.approve(
                session, approver, "credit-scorer@2", role, "reviewed the run's evidence"
            )
    for environment in ENVIRONMENTS:
        with ws.write(actor) as session:
            decision = promotion.promote(
                session, actor, ws.signer(), "credit-scorer@2", environment
            )
        if not decision.allowed:
            raise UsageError(
                f"the demo's credit-scorer@2 was refused {environment}: {decision.missing[0]}"
            )
    reviewed = _review_and_advance(ws, actor)
    with ws.read() as session:
        from keel.pipeline.releases import get_release

        bundle = get_release(session, "credit-scorer@2").bundle
    (home / "attestations").mkdir(exist_ok=True)
    (home / "attestations" / "credit-scorer@2.intoto.jsonl").write_bytes(bundle)
    return [
        f"credit-scorer@1 (every column): refused staging, {len(refused.missing)} requirements "
        f"missing (first: {refused.missing[0]})",
        "credit-scorer@2 (without sex, age and their proxies): all checks pass; approved by "
        "the pod; in production, attestation re-signed with its evidence and approvals",
        reviewed,
    ]


def _review_and_advance(ws: Workspace, actor) -> str:
    """The named reviewers clear the system, and its pod moves it through the stages."""
    from keel.readiness import reviews, stages

    for person, kind in ((DATA_STEWARD, "privacy"), (RISK_LEAD, "legal"), (RISK_LEAD, "security")):
        reviewer = user_actor(person, "local")
        with ws.write(reviewer) as session:
            reviews.review(session, reviewer, "credit-decisioning", kind, "cleared for launch")
    reached = "design"
    for _ in range(3):
        with ws.write(actor) as session:
            decision = stages.advance(session, actor, "credit-decisioning")
        if not decision.allowed:
            break
        reached = decision.to
    return f"credit-decisioning: privacy, legal and security reviews recorded; stage {reached}"


def _release_support_index(
    ws: Workspace, actor, root: Path, home: Path, by_key: dict[str, Entity]
) -> list[str]:
    """The support assistant's retrieval index built and released by its pipeline (Gus, the
    system's ML engineer, is its author), approved by its product owner and data steward,
    and promoted to production: the chat API's production traffic has a release behind it."""
    from keel.pipeline import approvals, promotion
    from keel.pipeline.evidence import latest_evidence
    from keel.pipeline.sdk import run_file

    folder = home / "artifacts" / "kb-index"
    run_file(
        root / "pipelines" / "support_assistant.py",
        ["--articles", str(root / "knowledge-base"), "--out", str(folder)],
        home=home,
        user=SUPPORT_ENGINEER,
    )
    release = "support-assistant-model@1"
    for person, role in ((SUPPORT_OWNER, "productOwner"), (SUPPORT_STEWARD, "dataSteward")):
        approver = user_actor(person, "local")
        with ws.write(approver) as session:
            approvals.approve(session, approver, release, role, "reviewed retrieval and consent")
    engineer = user_actor(SUPPORT_ENGINEER, "local")  # a pod member promotes
    for environment in ENVIRONMENTS:
        with ws.write(engineer) as session:
            decision = promotion.promote(session, engineer, ws.signer(), release, environment)
        if not decision.allowed:
            raise UsageError(
                f"the demo's {release} was refused {environment}: {decision.missing[0]}"
            )
    meta = json.loads((folder / "kb-index.json").read_text())
    articles, dimensions = len(meta["articles"]), meta["dimensions"]
    with ws.read() as session:
        measured = latest_evidence(session, "system:default/support-assistant", "eval", "retrieval")
    hit_rate = measured.figures.get("title_hit_rate", 0.0) if measured else 0.0
    _apply(
        ws,
        actor,
        [
            _annotate(
                by_key["featureset:default/kb-retrieval-index"],
                {
                    "keel.dev/artifact": "artifacts/kb-index/",
                    "keel.dev/artifact-digest": artifact_digest(folder),
                    "keel.dev/articles": str(articles),
                    "keel.dev/title-hit-rate": f"{hit_rate:.0%}",
                },
            )
        ],
    )
    return [
        f"kb-retrieval-index: {articles} articles, {dimensions} dimensions, "
        f"{hit_rate:.0%} of articles found first by their own title",
        f"{release} (the index as its artifact): evidence recorded by its pipeline, approved "
        "by the product owner and the data steward; in staging and production",
    ]


MODEL_SERVER = "http://127.0.0.1:8410/v1"  # `keel serve-model`'s default


def _route_through_gateway(ws: Workspace, actor) -> tuple[list[str], str]:
    """Both APIs routed in production to `keel serve-model`, and a key for the demo's app."""
    from keel.gateway import keys, routes

    with ws.write(actor) as session:
        routes.set_route(
            session,
            actor,
            "api:credit-decision-api",
            "production",
            MODEL_SERVER,
            model="credit-scorer-fair",  # credit-scorer@2, the release production serves
            rpm=600,
        )
        routes.set_route(
            session, actor, "api:support-chat-api", "production", MODEL_SERVER, tpm=100_000
        )
        key, secret = keys.create_key(
            session,
            actor,
            "demo-app",
            ["api:credit-decision-api", "api:support-chat-api"],
            "production",
            rpm=120,
            tpm=20_000,
            ttl=timedelta(days=1),
        )
    return [
        f"gateway: credit-decision-api and support-chat-api routed in production to "
        f"{MODEL_SERVER}; key {key.id} for demo-app (120 rpm, 20,000 tpm, 1 day)"
    ], secret


def _annotate(entity: Entity, annotations: dict[str, str]) -> Entity:
    metadata = entity.body["metadata"]
    metadata["annotations"] = {**metadata.get("annotations", {}), **annotations}
    return entity


def _apply(ws: Workspace, actor, entities: list[Entity]) -> None:
    with ws.write(actor) as session:
        service.apply(session, actor, entities)
