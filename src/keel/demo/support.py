"""The support assistant's retrieval index: TF-IDF and SVD over the shipped knowledge base.

Computed offline, nothing downloaded. The index is saved as arrays (`.npz`) and JSON, safe
formats that load without running code. Its quality figure is the share of articles
found first when asked their own title.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

DIMENSIONS = 48


@dataclass
class RetrievalIndex:
    names: list[str]
    vectors: np.ndarray  # one unit row per article
    vectorizer: TfidfVectorizer
    svd: TruncatedSVD

    def embed(self, texts: list[str]) -> np.ndarray:
        return normalize(self.svd.transform(self.vectorizer.transform(texts)))

    def search(self, query: str, k: int = 3) -> list[tuple[str, float]]:
        scores = self.vectors @ self.embed([query])[0]
        best = np.argsort(-scores)[:k]
        return [(self.names[i], float(scores[i])) for i in best]

    def title_hit_rate(self, titles: list[str]) -> float:
        hits = sum(
            self.search(title, 1)[0][0] == name
            for name, title in zip(self.names, titles, strict=True)
        )
        return hits / len(self.names)

    def save(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        arrays = folder / "kb-index.npz"
        np.savez(
            arrays, vectors=self.vectors, idf=self.vectorizer.idf_, components=self.svd.components_
        )
        meta = folder / "kb-index.json"
        meta.write_text(
            json.dumps(
                {
                    "articles": self.names,
                    "vocabulary": {t: int(i) for t, i in self.vectorizer.vocabulary_.items()},
                    "dimensions": int(self.vectors.shape[1]),
                },
                sort_keys=True,
            )
        )
        return [arrays, meta]


def read_articles(folder: Path) -> tuple[list[str], list[str], list[str]]:
    """Names, titles and texts of the markdown articles (README excluded)."""
    names, titles, texts = [], [], []
    for path in sorted(folder.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        text = path.read_text(encoding="utf-8")
        names.append(path.stem)
        titles.append(text.splitlines()[0].lstrip("# ").strip())
        texts.append(text)
    if len(names) < 3:
        raise ValueError(f"{folder}: a knowledge base needs at least 3 articles")
    return names, titles, texts


def build_index(folder: Path) -> tuple[RetrievalIndex, float]:
    names, titles, texts = read_articles(folder)
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), stop_words="english")
    tfidf = vectorizer.fit_transform(texts)
    svd = TruncatedSVD(n_components=min(DIMENSIONS, len(names) - 1), random_state=0)
    vectors = normalize(svd.fit_transform(tfidf))
    index = RetrievalIndex(names, vectors, vectorizer, svd)
    return index, index.title_hit_rate(titles)
