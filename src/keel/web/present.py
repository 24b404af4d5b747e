"""How every page writes what it shows, in one place (the templates' globals and filters).

- An entity is named by its title (a person by their display name) and linked to its page,
  its reference on hover: `entity(ref)`, reading the `names` a page looked up with
  `keel.catalog.queries.display_names`. A reference not among them is not in the catalog
  and is written as it is, marked so.
- Names in camelCase, the pod's roles and the change plan's parts, read as words:
  `words("riskLead")` is "risk lead", `roles_in_words` does the same inside a sentence.
- A readiness score is written by `keel.readiness.scorecard.score_text`, the one helper the
  readiness package writes its own sentences with too: 0-100, one decimal.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import pass_context
from markupsafe import Markup, escape

from keel.catalog.kinds import POD_ROLES
from keel.catalog.pods import CHANGE_PLAN
from keel.readiness.scorecard import score_text
from keel.web.charts import number
from keel.web.views import href, system_href

ACRONYMS = {"ml": "ML", "api": "API", "id": "ID"}
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_PLAN = re.compile(r"\bchangePlan\.(\w+)")
_NAMED = re.compile(r"\b(" + "|".join(sorted(POD_ROLES + CHANGE_PLAN, key=len)[::-1]) + r")\b")


def words(name: str) -> str:
    """camelCase as lower-case words, acronyms kept: "mlEngineer" is "ML engineer"."""
    parts = _HUMP.sub(" ", str(name)).lower().split(" ")
    return " ".join(ACRONYMS.get(p, p) for p in parts)


def roles_in_words(text: str) -> str:
    """A sentence with each pod role (and change-plan part) in it written as words."""
    text = _PLAN.sub(lambda m: f"change plan ({words(m.group(1))})", str(text))
    return _NAMED.sub(lambda m: words(m.group(1)), text)


def ref_text(ref: str) -> str:
    """A reference without its kind and default namespace, for one not in the catalog."""
    _, _, rest = ref.partition(":")
    return rest.removeprefix("default/") if rest else ref


@pass_context
def entity(context: Any, ref: str | None, fallback: str = "—") -> Markup:
    """An entity by name, linked, its reference on hover; `fallback` for no reference."""
    if not ref:
        return Markup(escape(fallback))
    names = context.get("names") or {}
    label = names.get(ref)
    if label is None:
        return Markup(
            f'<span class="ref unknown" title="{escape(ref)}: not in the catalog">'
            f"{escape(ref_text(ref))}</span>"
        )
    target = system_href(ref) if ref.startswith("system:") else href(ref)
    return Markup(
        f'<a class="ref" href="{escape(target)}" title="{escape(ref)}">{escape(label)}</a>'
    )


@pass_context
def subject(context: Any, ref: str) -> Markup:
    """An event's subject linked to its page: a release (`model:ns/name@N`), an entity, or
    a named subject (`workspace`) as it is."""
    kind, _, rest = ref.partition(":")
    if kind == "model" and "@" in rest and "/" in rest:
        return Markup(
            f'<a class="ref" href="/releases/{escape(rest)}" title="{escape(ref)}">'
            f"{escape(rest.split('/', 1)[1])}</a>"
        )
    if not rest or "/" not in rest:
        return Markup(f'<span class="ref">{escape(ref)}</span>')
    return entity(context, ref)


def install(env: Any) -> None:
    """Add the helpers to a Jinja environment."""
    env.globals.update(href=href, system_href=system_href, entity=entity, subject=subject)
    env.filters.update(words=words, roles_in_words=roles_in_words, score=score_text, figure=number)
