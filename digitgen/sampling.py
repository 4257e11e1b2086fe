"""Digits drawn on request: the one code path of ``digitgen sample`` and of the studio's digit and ambiguous panels.

The command line and the HTTP API check the same options with the same rules
(:func:`check_sample`) and call :func:`draw_digits` / :func:`draw_series` with
``numpy.random.default_rng(seed)``, so the same options and seed give the same
pictures byte for byte. Generators:

- ``real``: MNIST digits of a split (rows drawn uniformly, or among one digit's);
- ``augmented``: such real digits, augmented (:func:`digitgen.augment.augment_digits`)
  with the transforms and strengths of the ``augment`` section (its keys but
  ``seed``, ``copies`` and ``count``: :func:`augment_options`), their draws
  seeded by the request's seed;
- ``kde``: the conditional model with a digit, the global model without, at
  the model's rejection and cleaning levels or those asked for;
- ``cvae``: the conditional VAE, at its temperature or the one asked for;
- ``ambiguous``: in-between digits of a pair (or of a digit and its nearest class).

:class:`Models` finds and loads the fitted models and banks once (lazily for
the command line; the studio loads all of them at start-up); a missing model
is a ``FileNotFoundError`` naming the stage that makes it.
"""

from __future__ import annotations

import copy
import functools
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digitgen.bank import DigitBank
from digitgen.constants import SPLIT_NAMES
from digitgen.errors import InputError
from digitgen.options import Option, flat_options, nest
from digitgen.params.augment import AugmentParams
from digitgen.params.core import build_section
from digitgen.params.fit_kde import KDE_RULES
from digitgen.params.train_autoencoder import PAIR
from digitgen.params.train_cvae import CVAE_RULES
from digitgen.rules import Int, OneOf

#: What can be sampled.
GENERATORS = ("real", "augmented", "kde", "cvae", "ambiguous")
#: Model folder of each fitted generator under ``data/models/``, and the stage that makes it.
MODEL_FOLDERS = {"kde": "kde", "cvae": "cvae", "ambiguous": "autoencoder"}
STAGES = {"kde": "fit_kde", "cvae": "train_cvae", "ambiguous": "train_autoencoder", "classifier": "train_classifier"}
#: The evaluation classifier's file under ``data/models/``.
CLASSIFIER_FILE = "classifier.keras"
#: Keys of ``augment`` that describe a bank, not one augmentation.
AUGMENT_BANK_KEYS = ("seed", "copies", "count")
#: Rules of the options every generator shares.
DIGIT_RULE = Int(0, 9, allowed="must be a digit 0-9 (or omitted: all digits, the global model for kde)")
COLUMNS_RULE = Int(1, 1000)
#: Which generator each specific option applies to.
OPTION_GENERATORS = {"rejection": ("kde",), "cleaning": ("kde",), "temperature": ("cvae",), "pair": ("ambiguous",),
                     "split": ("real", "augmented"), "augment": ("augmented",)}


def augment_options() -> dict[str, Option]:
    """The augmentation options: every ``augment`` key but :data:`AUGMENT_BANK_KEYS` (``rotation``, ``elastic.alpha``, ...)."""
    return dict(_augment_options())


@functools.cache
def _augment_options() -> dict[str, Option]:  # built once: every studio request reads it
    return flat_options(AugmentParams, exclude=AUGMENT_BANK_KEYS)


def single_thread_blas() -> None:
    """Run BLAS (NumPy's and SciPy's OpenBLAS) on one thread for the rest of the process.

    A draw multiplies small matrices (a few digits x 50 PCA codes); BLAS
    threads only fight over the cores, the more so when several requests run
    at once (README.md, "Web studio", has the figures). ``digitgen sample`` and ``digitgen serve`` both
    call it, so the command shown by the studio computes with the same BLAS
    set-up as the server.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


@dataclass(frozen=True)
class SampleRequest:
    """Checked options of one draw (see :func:`check_sample`); None = the generator's own setting."""

    generator: str
    n: int
    seed: int
    digit: int | None = None
    pair: tuple[int, int] | None = None
    rejection: str | float | None = None
    cleaning: str | None = None
    temperature: float | None = None
    split: str = "train"
    augment: Mapping[str, Any] = field(default_factory=dict)
    columns: int = 8

    def augment_params(self) -> AugmentParams:
        """The ``augment`` section of this draw: the options given, ``seed`` = the request's seed, one image per digit."""
        return build_section(AugmentParams, nest({**self.augment, "seed": self.seed, "copies": None, "count": self.n}), "augment")


def check_sample(values: Mapping[str, Any], *, max_n: int, name: Callable[[str], str] = str) -> SampleRequest:
    """Check the options of a draw and return them as a :class:`SampleRequest`.

    Parameters
    ----------
    values : ``generator``, ``n``, ``seed`` and any of ``digit``, ``pair``, ``rejection``, ``cleaning``,
        ``temperature``, ``split``, ``columns`` and the augmentation options (:func:`augment_options`, keyed
        ``augment.<key>``), typed.
    max_n : most digits one draw may ask for (the command line and the HTTP API have their own caps).
    name : how the caller spells an option in messages (``"n"`` -> ``"-n"``).

    Raises
    ------
    InputError
        Naming the option, the value and what is allowed, or an option given for a generator it does not apply to.
    """
    generator = OneOf(GENERATORS).check(values.get("generator"), name("generator"))
    checked: dict[str, Any] = {"generator": generator, "n": Int(1, max_n).check(values.get("n"), name("n"))}
    checked["seed"] = Int(0, 2**63 - 1).check(values.get("seed"), name("seed"))
    augment = {key.removeprefix("augment."): value for key, value in values.items() if key.startswith("augment.")}
    for option, users in OPTION_GENERATORS.items():
        given = bool(augment) if option == "augment" else values.get(option) is not None
        if given and generator not in users:
            shown = name("augment." + next(iter(augment))) if option == "augment" else name(option)
            raise InputError(f"{shown} applies to {name('generator')} {' or '.join(users)} only, not {generator!r}.", shown)
    rules = {"digit": DIGIT_RULE, "pair": PAIR, "rejection": KDE_RULES["rejection"], "cleaning": KDE_RULES["cleaning"],
             "temperature": CVAE_RULES["temperature"], "split": OneOf(SPLIT_NAMES), "columns": COLUMNS_RULE}
    for key, rule in rules.items():
        if values.get(key) is not None:
            checked[key] = rule.check(values[key], name(key))
    if checked.get("pair") is not None and checked.get("digit") is not None and checked["digit"] != checked["pair"][0]:
        raise InputError(f"{name('digit')} == {checked['digit']} and {name('pair')} == {list(checked['pair'])} disagree: "
                         f"the digit must be the pair's first class or be omitted.", name("digit"))
    options = augment_options()
    for key, value in augment.items():
        if key not in options:
            raise InputError(f"unknown augmentation option {name('augment.' + key)}; valid options are "
                             f"{sorted(name('augment.' + k) for k in options)}.", name("augment." + key))
        augment[key] = options[key].rule.check(value, name("augment." + key))
    request = SampleRequest(**checked, augment=augment)
    if generator == "augmented":
        try:
            request.augment_params()
        except InputError as error:
            text = str(error).replace("augment.", "")
            raise InputError(text, name("augment." + error.key.removeprefix("augment.")) if error.key else None) from None
    return request


# --------------------------------------------------------------------------- models


class Models:
    """The fitted models and digit banks of a project, each loaded once (thread-safe).

    Parameters
    ----------
    models : folder holding ``kde/``, ``cvae/``, ``autoencoder/`` and ``classifier.keras`` (``data/models``).
    data : ``mnist.npz`` for the real digits (None: the project's, else the user cache).
    folders : generator (or ``classifier``) -> its own folder (file), instead of the one under ``models``.
    """

    def __init__(self, models: str | os.PathLike, data: str | os.PathLike | None = None, folders: Mapping[str, os.PathLike] | None = None) -> None:
        self.models = Path(models)
        self.data = data
        self.folders = {name: Path(path) for name, path in (folders or {}).items()}
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _get(self, key: str, load: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = load()
            return self._loaded[key]

    def real(self, split: str) -> DigitBank:
        """Real MNIST digits of ``split``."""
        from digitgen.data.cache import load_real_bank

        return self._get(f"real-{split}", lambda: load_real_bank(split, self.data))

    def path(self, generator: str) -> Path:
        """The model folder (or file) of a generator, or of ``classifier``."""
        if generator in self.folders:
            return self.folders[generator]
        return self.models / (CLASSIFIER_FILE if generator == "classifier" else MODEL_FOLDERS[generator])

    def _exists(self, generator: str, folder: Path) -> None:
        if not folder.exists():
            raise FileNotFoundError(f"model {str(folder)!r} does not exist; run `dvc repro {STAGES[generator]}` to make it.")

    def kde(self, conditional: bool):
        """The conditional (one density per digit) or the global KDE model."""
        folder = self.path("kde") / ("conditional" if conditional else "global")
        self._exists("kde", folder)  # before the import: a missing model costs no TensorFlow import
        from digitgen.generators.kde import KdeDigitGenerator

        return self._get(f"kde-{conditional}", lambda: KdeDigitGenerator.load(folder))

    def cvae(self):
        """The conditional VAE."""
        self._exists("cvae", self.path("cvae"))
        from digitgen.generators.cvae import CvaeDigitGenerator

        return self._get("cvae", lambda: CvaeDigitGenerator.load(self.path("cvae")))

    def ambiguous(self):
        """The ambiguous-digit generator (autoencoder and judges)."""
        self._exists("ambiguous", self.path("ambiguous"))
        from digitgen.generators.ambiguous import AmbiguousDigitGenerator

        return self._get("ambiguous", lambda: AmbiguousDigitGenerator.load(self.path("ambiguous")))

    def classifier(self):
        """The evaluation classifier."""
        self._exists("classifier", self.path("classifier"))
        from digitgen.classifier import DigitClassifier

        return self._get("classifier", lambda: DigitClassifier.load(self.path("classifier")))


# --------------------------------------------------------------------------- drawing


@dataclass(frozen=True)
class Drawn:
    """Digits of one draw: images uint8 (n, 28, 28); labels int16 (n,) (-1 for the global KDE) or (n, 2) pairs."""

    images: np.ndarray
    labels: np.ndarray


def _real_rows(bank: DigitBank, n: int, digit: int | None, rng: np.random.Generator) -> np.ndarray:
    if digit is None:
        return rng.integers(0, len(bank.images), size=n)
    return bank.draw(np.full(n, digit), rng)


def draw_digits(request: SampleRequest, models: Models) -> Drawn:
    """The digits ``request`` asks for, drawn from ``numpy.random.default_rng(request.seed)``."""
    rng = np.random.default_rng(request.seed)
    if request.generator in ("real", "augmented"):
        bank = models.real(request.split)
        rows = _real_rows(bank, request.n, request.digit, rng)
        images = bank.images[rows]
        if request.generator == "augmented":
            from digitgen.augment import augment_digits

            images, _ = augment_digits(bank.images, request.augment_params(), source_index=rows, threads=1)
        return Drawn(images, bank.labels[rows].astype(np.int16))
    if request.generator == "kde":
        model = copy.copy(models.kde(conditional=request.digit is not None))
        if request.rejection is not None:
            model.set_params(rejection=request.rejection)
        if request.cleaning is not None:
            model.set_params(cleaning=request.cleaning)
        drawn = model.generate(request.n, request.digit, rng)
        return Drawn(drawn.images, drawn.labels)
    if request.generator == "cvae":
        model = copy.copy(models.cvae())
        if request.temperature is not None:
            model.set_params(temperature=request.temperature)
        drawn = model.generate(request.n, request.digit, rng)
        return Drawn(drawn.images, drawn.labels)
    drawn = models.ambiguous().generate(request.n, request.digit, rng, pair=request.pair)
    return Drawn(drawn.images, drawn.labels)


def grid_picture(drawn: Drawn, columns: int) -> np.ndarray:
    """uint8 mosaic of the digits, ``min(columns, n)`` per row (what ``digitgen sample`` writes)."""
    from digitgen.pictures import mosaic

    return mosaic(drawn.images, min(columns, len(drawn.images)))


@dataclass(frozen=True)
class SeriesDraw:
    """Interpolation series of ambiguous digits with the digit kept from each.

    Attributes
    ----------
    series : :class:`digitgen.generators.ambiguous.InterpolationSeries` with both ends (weights 0 and 1).
    kept : :class:`digitgen.generators.ambiguous.AmbiguousSamples`, one digit per series.
    """

    series: Any
    kept: Any


def draw_series(request: SampleRequest, models: Models) -> SeriesDraw:
    """``request.n`` interpolation series of ``request.pair`` (or of ``request.digit`` and its nearest class) and the digits kept."""
    if request.generator != "ambiguous":
        raise InputError(f"a series is drawn by generator 'ambiguous', not {request.generator!r}.")
    model = models.ambiguous()
    rng = np.random.default_rng(request.seed)
    if request.pair is not None:
        pair = request.pair
    elif request.digit is not None:
        pair = (request.digit, int(model.partners_[request.digit]))
    else:
        choices = model.pair_choices()
        pair = tuple(int(v) for v in choices[rng.integers(0, len(choices))])
    series = model.series(np.tile(np.array(pair, np.int16), (request.n, 1)), rng, ends=True)
    return SeriesDraw(series, model.keep(series))


def series_picture(draw: SeriesDraw) -> np.ndarray:
    """uint8 picture of the series, one per row, the chosen step framed, the digit kept after a gap."""
    from digitgen.pictures import series_strip

    return series_strip(draw.series.images, draw.series.chosen, draw.kept.images)


def series_animation(draw: SeriesDraw) -> bytes:
    """The series as an animated GIF (every series of the draw stacked, one step per frame)."""
    from digitgen.pictures import series_gif

    return series_gif(draw.series.images, draw.series.chosen)
