"""Loading what `keel serve-model` serves, from safe formats only.

Tabular models are scikit-learn pipelines saved with skops; they load with an explicit
allow-list of scikit-learn and numpy types (never "trust whatever the file holds"). The
retrieval index is arrays (.npz, loaded with allow_pickle=False) and JSON; answers quote
the shipped knowledge-base articles. Token counts are words and punctuation marks, the
upstream's own count that the gateway settles its reservations with.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from keel.demo.credit import COLUMNS, NUMERIC

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.", "scipy.")
WORD = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    return len(WORD.findall(text))


@dataclass
class Tabular:
    name: str
    pipeline: Any
    columns: tuple[str, ...] = COLUMNS
    numeric: tuple[str, ...] = NUMERIC

    def rows(self, given: list[Any]) -> np.ndarray:
        """Rows as lists in column order or as {column: value}; raises ValueError."""
        out = []
        for i, row in enumerate(given):
            if isinstance(row, dict):
                missing = [c for c in self.columns if c not in row]
                if missing:
                    raise ValueError(f"row {i} lacks {', '.join(missing[:3])}")
                row = [row[c] for c in self.columns]
            if not isinstance(row, list) or len(row) != len(self.columns):
                raise ValueError(f"row {i} must hold the {len(self.columns)} columns")
            values = []
            for column, value in zip(self.columns, row, strict=True):
                if column in self.numeric:
                    if isinstance(value, bool) or not isinstance(value, int | float):
                        raise ValueError(f"row {i}: {column} must be a number")
                    values.append(float(value))
                else:
                    if not isinstance(value, str):
                        raise ValueError(f"row {i}: {column} must be a string code")
                    values.append(value)
            out.append(values)
        return np.array(out, dtype=object)

    def predict(self, given: list[Any]) -> list[dict[str, Any]]:
        p_bad = self.pipeline.predict_proba(self.rows(given))[:, 1]
        return [
            {
                "index": i,
                "probability_bad": round(float(p), 6),
                "label": "bad" if p >= 0.5 else "good",
            }
            for i, p in enumerate(p_bad)
        ]


@dataclass
class Retriever:
    names: list[str]
    titles: list[str]
    texts: list[str]
    vectors: np.ndarray
    vectorizer: Any
    components: np.ndarray

    def embed(self, texts: list[str]) -> np.ndarray:
        from sklearn.preprocessing import normalize

        return normalize(self.vectorizer.transform(texts) @ self.components.T)

    def answer(self, question: str) -> tuple[str, str]:
        """The best article's name and a reply quoting it."""
        scores = self.vectors @ self.embed([question])[0]
        best = int(np.argmax(scores))
        lines = [line.strip() for line in self.texts[best].splitlines()[1:] if line.strip()]
        body = " ".join(lines)[:700]
        return self.names[best], f"{self.titles[best]}: {body}"


@dataclass
class Models:
    tabular: dict[str, Tabular] = field(default_factory=dict)
    index: Retriever | None = None


def load_tabular(path: Path) -> Tabular:
    from skops.io import get_untrusted_types, load

    types = get_untrusted_types(file=path)
    unsafe = [t for t in types if not t.startswith(TRUSTED_PREFIXES)]
    if unsafe:
        raise ValueError(f"{path.name} holds types outside the allow-list: {', '.join(unsafe)}")
    return Tabular(path.stem, load(path, trusted=types))


def load_index(folder: Path, articles: Path) -> Retriever:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from keel.demo.support import read_articles

    meta = json.loads((folder / "kb-index.json").read_text())
    arrays = np.load(folder / "kb-index.npz", allow_pickle=False)
    vectorizer = TfidfVectorizer(
        sublinear_tf=True, ngram_range=(1, 2), stop_words="english", vocabulary=meta["vocabulary"]
    )
    vectorizer.idf_ = arrays["idf"]
    names, titles, texts = read_articles(articles)
    by_name = dict(zip(names, zip(titles, texts, strict=True), strict=True))
    kept = [n for n in meta["articles"] if n in by_name]
    if len(kept) != len(meta["articles"]):
        raise ValueError(f"{articles} lacks articles the index was built from")
    return Retriever(
        kept,
        [by_name[n][0] for n in kept],
        [by_name[n][1] for n in kept],
        arrays["vectors"],
        vectorizer,
        arrays["components"],
    )


def load_models(folder: Path, articles: Path | None = None) -> Models:
    """Every *.skops model in `folder`, and its kb-index/ when there is one."""
    from keel.demo.build import examples_dir

    models = Models()
    if folder.is_dir():
        for path in sorted(folder.glob("*.skops")):
            models.tabular[path.stem] = load_tabular(path)
        if (folder / "kb-index" / "kb-index.json").exists():
            models.index = load_index(
                folder / "kb-index", articles or examples_dir() / "demo" / "knowledge-base"
            )
    return models
