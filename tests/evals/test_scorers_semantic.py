"""Semantic similarity with the bundled all-MiniLM-L6-v2, offline."""

from __future__ import annotations

import pytest

from loopstack.evals.scorers import Sample, embedding_model, get_scorer


@pytest.mark.slow
async def test_semantic_similarity_is_cosine_of_minilm_embeddings_offline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    s = get_scorer("semantic_similarity", threshold=0.6)
    (close,) = await s.score(
        Sample(output="The cat sat on the mat.", expected="A cat was sitting on the mat.")
    )
    (far,) = await s.score(Sample(output="The cat sat on the mat.", expected="Quarterly revenue grew by 4%."))
    assert close.numeric is not None and far.numeric is not None
    assert close.numeric > 0.6 > far.numeric
    assert (close.passed, far.passed) == (True, False)

    import numpy as np

    model = embedding_model()
    assert embedding_model() is model  # loaded once
    a, b = model.encode(["The cat sat on the mat.", "A cat was sitting on the mat."])
    cosine = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    assert close.numeric == pytest.approx(cosine, abs=1e-5)
    (same,) = await s.score(Sample(output="hello world", expected=["goodbye", "hello world"]))
    assert same.numeric == pytest.approx(1.0, abs=1e-5)
