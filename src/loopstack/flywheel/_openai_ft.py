"""``loopstack finetune --backend openai``: upload the chat JSONL, run an OpenAI fine-tuning job, register it.

The wire format is OpenAI's: ``POST /files`` (multipart, ``purpose=fine-tune``), ``POST /fine_tuning/jobs``,
then ``GET /fine_tuning/jobs/{id}`` until the job ends. Any server speaking it works (``--base-url``);
tests run it against a local stub. The resulting ``openai/ft:…`` model string is registered under
``--name`` only when the job succeeded, with the prompt the student was trained with.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any

from loopstack.errors import InvalidInput, LoopstackError
from loopstack.flywheel._finetune_data import Examples

if TYPE_CHECKING:
    from loopstack.flywheel._finetune import FinetuneResult

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_DONE = ("succeeded", "failed", "cancelled")


def chat_jsonl(examples: list[dict[str, Any]]) -> bytes:
    """OpenAI chat fine-tuning lines: ``{"messages": [system, user, assistant]}`` per example."""
    lines = [json.dumps({"messages": e["prompt"] + e["completion"]}, ensure_ascii=False) for e in examples]
    return ("\n".join(lines) + "\n").encode()


def _client(base_url: str | None, api_key: str | None, api_key_env: str) -> Any:
    import httpx

    key = api_key or os.environ.get(api_key_env)
    if not key:
        raise InvalidInput(f"the OpenAI fine-tuning backend needs an API key: set {api_key_env}")
    root = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    return httpx.Client(base_url=root, headers={"Authorization": f"Bearer {key}"}, timeout=60.0)


def _check(response: Any, what: str) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            message = response.json().get("error", {}).get("message") or response.text
        except ValueError:
            message = response.text
        raise LoopstackError(f"OpenAI fine-tuning: {what} failed ({response.status_code}): {message[:200]}")
    data: dict[str, Any] = response.json()
    return data


def openai_finetune(
    dataset: str,
    examples: Examples,
    messages: list[dict[str, str]],
    *,
    name: str,
    base: str,
    epochs: float,
    seed: int,
    base_url: str | None = None,
    api_key: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    poll_interval: float = 10.0,
    timeout: float = 48 * 3600.0,
) -> FinetuneResult:
    """Run the job and register its model; returns a :class:`FinetuneResult` (backend ``openai``)."""
    from loopstack.flywheel._finetune import FinetuneResult
    from loopstack.models._finetuned import FinetunedModel, register_finetuned
    from loopstack.store import utcnow

    model_id = base.removeprefix("openai/")
    if base.startswith("local/") or "/" in model_id:
        raise InvalidInput(
            f"--base {base!r}: the OpenAI backend fine-tunes an OpenAI model, "
            "e.g. --base gpt-4o-mini-2024-07-18"
        )
    started = time.monotonic()
    with _client(base_url, api_key, api_key_env) as http:
        uploaded = _check(
            http.post(
                "/files",
                data={"purpose": "fine-tune"},
                files={"file": (f"{dataset}-train.jsonl", chat_jsonl(examples.train), "application/jsonl")},
            ),
            "uploading the training file",
        )
        body: dict[str, Any] = {
            "model": model_id,
            "training_file": uploaded["id"],
            "suffix": name[:40],
            "seed": seed,
            "hyperparameters": {"n_epochs": max(1, round(epochs))},
        }
        if examples.validation:
            val = _check(
                http.post(
                    "/files",
                    data={"purpose": "fine-tune"},
                    files={
                        "file": (
                            f"{dataset}-validation.jsonl",
                            chat_jsonl(examples.validation),
                            "application/jsonl",
                        )
                    },
                ),
                "uploading the validation file",
            )
            body["validation_file"] = val["id"]
        job = _check(http.post("/fine_tuning/jobs", json=body), "creating the job")
        while job.get("status") not in _DONE:
            if time.monotonic() - started > timeout:
                raise LoopstackError(
                    f"OpenAI fine-tuning job {job['id']} did not finish within {timeout:g} s"
                )
            time.sleep(poll_interval)
            job = _check(http.get(f"/fine_tuning/jobs/{job['id']}"), "polling the job")
    if job["status"] != "succeeded" or not job.get("fine_tuned_model"):
        why = (job.get("error") or {}).get("message") or job["status"]
        raise LoopstackError(f"OpenAI fine-tuning job {job['id']} {job['status']}: {why}; nothing registered")
    model = f"openai/{job['fine_tuned_model']}"
    seconds = time.monotonic() - started
    register_finetuned(
        FinetunedModel(
            name=name,
            model=model,
            backend="openai",
            base=model_id,
            dataset=dataset,
            messages=messages,
            created_at=utcnow().isoformat(),
            details={"job_id": job["id"], "trained_tokens": job.get("trained_tokens"), "seed": seed},
        )
    )
    return FinetuneResult(
        name=name,
        model=model,
        backend="openai",
        base=model_id,
        dataset=dataset,
        train_examples=len(examples.train),
        validation_examples=len(examples.validation),
        validation_source=examples.validation_source,
        skipped=examples.skipped,
        messages=messages,
        seconds=seconds,
        device="openai",
        seed=seed,
        details={"job_id": job["id"], "trained_tokens": job.get("trained_tokens")},
    )
