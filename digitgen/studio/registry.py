"""What the studio draws from, loaded once at start-up: real MNIST, the generated banks, the fitted models.

Each source has a status: available, or not with the reason and the stage
that makes it (``dvc repro train_cvae``); a missing or unreadable model never
stops the server, its panel says what to run and everything else works. Real
digits are required (they are what ``mnist.npz`` holds).

Threads: TensorFlow models are called from one worker thread per model
(``cvae``, ``ambiguous`` with the evaluation classifier, ``augment``'s
compiled sampler), so concurrent requests never call one model at once and
queue in order; NumPy work (sequences, real digits, the KDE, PNG and NPZ
encoding) runs on a small pool of threads. The event loop only parses
queries and sends bytes. :meth:`Registry.warm_up` makes one tiny draw per
model on its own thread at start-up, so the first request does not pay for
tracing and compiling.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import digitgen
from digitgen.bank import DigitBank, bank_path, load_bank
from digitgen.constants import GENERATED_SOURCES, SPLIT_NAMES
from digitgen.sampling import STAGES, Models, SampleRequest, draw_digits, draw_series

logger = logging.getLogger(__name__)

#: The stage that makes each generated bank.
BANK_STAGES = {"augmented": "augment", "kde": "fit_kde", "cvae": "train_cvae", "ambiguous": "train_autoencoder", "clusters": "latent_report"}
#: Threads of the NumPy pool.
NUMPY_THREADS = 4
#: The worker thread of each generator that runs TensorFlow (the others use the NumPy pool).
MODEL_THREADS = {"augmented": "augment", "cvae": "cvae", "ambiguous": "ambiguous"}
# What a model that cannot be loaded raises.
_LOAD_ERRORS = (FileNotFoundError, NotADirectoryError, ValueError, OSError)


@dataclass(frozen=True)
class Status:
    """Whether a source can be used; if not, why and which stage makes it."""

    available: bool
    message: str = ""
    stage: str | None = None

    def json(self) -> dict[str, Any]:
        return {"available": self.available, "message": self.message, "stage": self.stage}


@dataclass(frozen=True)
class Paths:
    """Where the studio's inputs come from, and which were given explicitly (they go into the command lines shown)."""

    models: Path
    banks: Path
    data: Path | None
    models_given: bool = False
    banks_given: bool = False


class Registry:
    """The studio's digits, banks and models, their status and the threads that call them.

    Parameters
    ----------
    paths : the ``data/models`` and ``data/banks`` folders and ``mnist.npz`` (None: the project's, else the user cache).
    """

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.models = Models(paths.models, paths.data)
        self.real: dict[str, DigitBank] = {}
        self.banks: dict[str, DigitBank] = {}
        self.status: dict[str, Status] = {}
        self.numpy_pool = ThreadPoolExecutor(NUMPY_THREADS, thread_name_prefix="studio-numpy")
        self.model_threads = {name: ThreadPoolExecutor(1, thread_name_prefix=f"studio-{name}") for name in sorted(set(MODEL_THREADS.values()))}

    # ------------------------------------------------------------------ start-up

    def load(self) -> None:
        """Load everything; raise only if real MNIST cannot be read (the studio needs it)."""
        started = time.perf_counter()
        for split in SPLIT_NAMES:
            self.real[split] = self.models.real(split)
        self.status["real"] = Status(True, f"{len(self.real['train'].images)} train, {len(self.real['test'].images)} test digits")
        self.status["augmented"] = self._try("augmented", lambda: self._augment_ready(), "augment")
        for name in GENERATED_SOURCES:
            self.status[f"bank:{name}"] = self._try(f"bank {name}", lambda name=name: self._load_bank(name), BANK_STAGES[name])
        self.status["kde"] = self._try("kde", lambda: (self.models.kde(True), self.models.kde(False)), STAGES["kde"])
        self.status["cvae"] = self._try("cvae", self.models.cvae, STAGES["cvae"])
        self.status["ambiguous"] = self._try("ambiguous", self.models.ambiguous, STAGES["ambiguous"])
        self.status["classifier"] = self._try("classifier", self.models.classifier, STAGES["classifier"])
        logger.info("studio inputs loaded in %.1f s", time.perf_counter() - started)

    def _augment_ready(self) -> str:
        """Augmentation needs only real digits; its compiled sampler is built by the warm-up (or the first request)."""
        return "real digits, augmented on request"

    def _load_bank(self, name: str) -> str:
        bank = load_bank(bank_path(self.paths.banks, name), name)
        self.banks[name] = bank
        return f"{len(bank.images)} digits"

    def _try(self, what: str, load, stage: str) -> Status:
        started = time.perf_counter()
        try:
            result = load()
        except _LOAD_ERRORS as error:
            message = " ".join(str(error).split()) or type(error).__name__
            if f"dvc repro {stage}" not in message:
                message += f" (made by `dvc repro {stage}`)"
            logger.warning("studio: %s unavailable: %s", what, message)
            return Status(False, message, stage)
        detail = result if isinstance(result, str) else "loaded"
        logger.info("studio: %s ready (%.1f s)", what, time.perf_counter() - started)
        return Status(True, detail, stage)

    def available(self, name: str) -> bool:
        status = self.status.get(name)
        return status is not None and status.available

    def warm_up(self) -> None:
        """One tiny draw per available model, on its own thread (traces and compiles before the first request)."""
        jobs = []
        for generator in ("kde", "cvae", "augmented"):
            if self.available(generator):
                request = SampleRequest(generator, 1, 0, digit=0)
                jobs.append(self.executor(generator).submit(draw_digits, request, self.models))
        if self.available("ambiguous"):
            request = SampleRequest("ambiguous", 1, 0, digit=0)
            jobs.append(self.executor("ambiguous").submit(self._warm_ambiguous, request))
        for job in jobs:
            try:
                job.result()
            except (ValueError, OSError) as error:  # a warm-up draw is not the user's request: log it, serve anyway
                logger.warning("studio: warm-up draw failed: %s", error)

    def _warm_ambiguous(self, request: SampleRequest) -> None:
        draw = draw_series(request, self.models)
        if self.available("classifier"):
            self.models.classifier().predict_proba(draw.kept.images)

    # ------------------------------------------------------------------ serving

    def executor(self, generator: str) -> Executor:
        """Where work of ``generator`` runs: its model's own thread, or the NumPy pool."""
        name = MODEL_THREADS.get(generator)
        return self.model_threads[name] if name else self.numpy_pool

    def sequence_bank(self, source: str, split: str) -> DigitBank:
        """The digits a sequence of ``source`` draws from (``real``: of ``split``)."""
        if source == "real":
            return self.real[split]
        if source not in self.banks:
            raise FileNotFoundError(self.status[f"bank:{source}"].message)
        return self.banks[source]

    def require(self, generator: str) -> None:
        """Raise ``FileNotFoundError`` with the reason and stage unless ``generator`` is available."""
        status = self.status.get(generator)
        if status is None or not status.available:
            raise FileNotFoundError(status.message if status else f"{generator} is not available.")

    def health(self) -> dict[str, Any]:
        """JSON of ``/api/health``: ``status: ok`` and the status of every source."""
        sequence = {"real": self.status["real"].json(), **{name: self.status[f"bank:{name}"].json() for name in GENERATED_SOURCES}}
        generators = {name: self.status[name].json() for name in ("real", "augmented", "kde", "cvae", "ambiguous")}
        return {
            "status": "ok",
            "version": digitgen.__version__,
            "sources": {"sequence": sequence, "digits": generators, "classifier": self.status["classifier"].json()},
            "pid": os.getpid(),
        }

    def close(self) -> None:
        """Stop the worker threads (after the work already queued)."""
        for pool in (self.numpy_pool, *self.model_threads.values()):
            pool.shutdown(wait=True, cancel_futures=True)


def classify(registry: Registry, images: np.ndarray) -> np.ndarray | None:
    """float32 (n, 10) probabilities of the evaluation classifier, or None when it is not available."""
    if not registry.available("classifier"):
        return None
    return registry.models.classifier().predict_proba(images)
