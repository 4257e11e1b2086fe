"""Judges: small digit classifiers that pick and refine ambiguous digits (never the evaluation classifier).

Why judges
    Along a latent interpolation from a digit of class ``a`` to one of class
    ``b``, a CNN's reading flips from ``a`` to ``b`` within a narrow band of the
    interpolation weight, and independently trained CNNs flip at different
    places (the measured figures are in README.md). A choice rule that looks
    only at the autoencoder's latent geometry misses that narrow band. An
    ensemble of independently trained CNNs locates the band better, and
    moving the code until every judge reads the picture as both classes at
    once gives digits that also look ambiguous to a CNN the judges never saw.

What they are
    Each judge is a :func:`digitgen.classifier_training.build_model` CNN trained with
    :func:`digitgen.classifier_training.train_classifier` on the MNIST training split
    (no hold-out), with its own seed drawn from the generator's seed and the
    judge's index (``numpy.random.SeedSequence``), so no judge can coincide
    with the evaluation classifier of the ``train_classifier`` stage, which
    the ambiguous generator never loads.

Refinement
    Starting from the interpolated code ``z0`` the judges chose, ``steps``
    Adam steps minimise, for each digit separately,

        - mean_j min(log p_j(a | x), log p_j(b | x)) + anchor * ||z - z0||^2,   x = decoder(z)

    The first term is largest when every judge gives ``a`` and ``b`` one half
    each; the second keeps the code near the a-b path (so the picture stays a
    blend of the two digits rather than drifting to a third class).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from digitgen.classifier import DigitClassifier
from digitgen.classifier_training import train_classifier
from digitgen.params.train_autoencoder import JudgeParams
from digitgen.params.train_classifier import TrainClassifierParams

logger = logging.getLogger(__name__)

#: Digits refined per compiled Adam loop (memory ~ block x judges x activations).
REFINE_BLOCK = 1000
# Adam's constants (Kingma & Ba; Keras' defaults).
_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-7
# Floor under probabilities before taking logs.
_TINY = 1e-7


def judge_seed(seed: int, index: int) -> int:
    """Training seed of judge ``index`` of a generator seeded with ``seed``: a 32-bit draw of ``SeedSequence([seed, 3, index])``."""
    return int(np.random.SeedSequence([seed, 3, index]).generate_state(1)[0])


def train_judges(images: np.ndarray, labels: np.ndarray, judges: Sequence[JudgeParams], seed: int) -> list[DigitClassifier]:
    """Train one CNN per entry of ``judges`` (``train_autoencoder.judges``, checked) on all of ``images``, deterministically.

    Parameters
    ----------
    images : uint8 (N, 28, 28) training digits.
    labels : int (N,) digits 0-9.
    judges : judge descriptions; judge ``k`` is trained with seed :func:`judge_seed` ``(seed, k)``.
    seed : the generator's seed, >= 0.

    Returns
    -------
    list of :class:`~digitgen.classifier.DigitClassifier`, in the order of ``judges``.
    """
    trained = []
    for index, judge in enumerate(judges):
        started = time.perf_counter()
        params = TrainClassifierParams(
            seed=judge_seed(seed, index), epochs=judge.epochs, filters=judge.filters, dense=judge.dense, validation_fraction=0.0
        )
        result = train_classifier(images, labels, params)
        trained.append(result.classifier)
        logger.info(
            "judge %d/%d (filters %s, dense %d, %d epochs) trained in %.1f s: training accuracy %.4f",
            index + 1, len(judges), list(judge.filters), judge.dense, judge.epochs,
            time.perf_counter() - started, result.history["accuracy"][-1],
        )
    return trained


def pair_log_proba(judges: Sequence[DigitClassifier], images: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Each judge's log-probabilities of the two classes of each image.

    Parameters
    ----------
    judges : trained classifiers (at least one).
    images : uint8 (N, 28, 28).
    pairs : int (N, 2) classes ``(a, b)``.

    Returns
    -------
    float32 (J, N, 2): ``log p_j(a | x)`` and ``log p_j(b | x)``.
    """
    rows = np.arange(len(images))
    out = np.empty((len(judges), len(images), 2), np.float32)
    for j, judge in enumerate(judges):
        log_proba = np.log(judge.predict_proba(images) + np.float32(_TINY))
        out[j, :, 0], out[j, :, 1] = log_proba[rows, pairs[:, 0]], log_proba[rows, pairs[:, 1]]
    return out


class Refiner:
    """Moves codes until the judges read their pictures as both of their classes (see the module docstring).

    Each digit's objective is its own (the batch loss is a sum and Adam acts
    per coordinate), so a digit's result does not depend on the others in its
    block. The Adam loop runs as one compiled TensorFlow function, traced once
    per block shape and reused; every call starts with fresh moment estimates.

    Parameters
    ----------
    decoder : Keras decoder mapping float32 (n, d) codes to (n, 28, 28, 1) Bernoulli logits.
    judges : trained classifiers (at least one).
    steps : Adam steps, >= 0 (0 returns the codes unchanged).
    rate : Adam learning rate, > 0.
    anchor : weight of ``||z - z0||^2``, >= 0.
    """

    def __init__(self, decoder: Any, judges: Sequence[DigitClassifier], *, steps: int, rate: float, anchor: float) -> None:
        self.steps, self.rate, self.anchor = steps, rate, anchor
        models = [judge.model for judge in judges]
        rate_t, anchor_t = tf.constant(rate, tf.float32), tf.constant(anchor, tf.float32)

        def objective(z, z0, index_a, index_b):
            pictures = tf.sigmoid(decoder(z, training=False)[..., 0]) * 255.0
            smaller = []
            for model in models:
                log_proba = tf.math.log(model(pictures, training=False) + _TINY)
                smaller.append(tf.minimum(tf.gather_nd(log_proba, index_a), tf.gather_nd(log_proba, index_b)))
            return -tf.reduce_sum(tf.reduce_mean(tf.stack(smaller, axis=1), axis=1)) + anchor_t * tf.reduce_sum(tf.square(z - z0))

        @tf.function(reduce_retracing=True)
        def adam(z0, index_a, index_b):
            z, first, second = z0, tf.zeros_like(z0), tf.zeros_like(z0)
            for step in tf.range(1, steps + 1):
                with tf.GradientTape() as tape:
                    tape.watch(z)
                    loss = objective(z, z0, index_a, index_b)
                gradient = tape.gradient(loss, z)
                first = _BETA_1 * first + (1 - _BETA_1) * gradient
                second = _BETA_2 * second + (1 - _BETA_2) * tf.square(gradient)
                t = tf.cast(step, tf.float32)
                z = z - rate_t * (first / (1 - _BETA_1**t)) / (tf.sqrt(second / (1 - _BETA_2**t)) + _EPSILON)
            return z

        self._adam = adam

    def __call__(self, codes: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """Refine float32 (n, d) starting codes ``z0`` of int (n, 2) class pairs ``(a, b)``; returns float32 (n, d)."""
        codes = np.asarray(codes, np.float32)
        if self.steps == 0 or not len(codes):
            return codes.copy()
        tf.config.experimental.enable_op_determinism()
        refined = np.empty_like(codes)
        pairs = np.asarray(pairs, np.int32)
        for start in range(0, len(codes), REFINE_BLOCK):
            block = slice(start, start + REFINE_BLOCK)
            rows = np.arange(len(codes[block]), dtype=np.int32)
            index_a = tf.constant(np.stack([rows, pairs[block, 0]], axis=1))
            index_b = tf.constant(np.stack([rows, pairs[block, 1]], axis=1))
            refined[block] = self._adam(tf.constant(codes[block]), index_a, index_b).numpy()
        return refined


def refine_codes(
    decoder: Any, judges: Sequence[DigitClassifier], codes: np.ndarray, pairs: np.ndarray, *, steps: int, rate: float, anchor: float
) -> np.ndarray:
    """One-off :class:`Refiner` call: float32 (n, d) codes refined for int (n, 2) pairs (see :class:`Refiner` for the parameters)."""
    return Refiner(decoder, judges, steps=steps, rate=rate, anchor=anchor)(codes, pairs)
