"""A trained digit classifier at inference: probabilities and evaluation features, saved as ``.keras``.

The evaluation classifier (stage ``train_classifier``; never used to generate
or select digits) and the judges of the ambiguous generator are such models,
built and trained by :mod:`digitgen.classifier_training`. The penultimate
layer is named ``features``: its activations are the feature space of the
Fréchet classifier distance, KID and precision/recall. The model takes raw
pixels, float32 (N, 28, 28) in 0..255 (0 = background), and rescales them
itself. :meth:`DigitClassifier.save` writes a ``.keras`` file whose bytes
depend only on the weights and the architecture. This module holds no
training code, so the evaluation stages do not depend on it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import keras
import numpy as np

from digitgen.arrays import check_digits
from digitgen.io import atomic_path
from digitgen.keras_io import infer, load_keras, save_keras

logger = logging.getLogger(__name__)

#: Name of the penultimate layer whose activations are the evaluation features.
FEATURES_LAYER = "features"
#: Batch size of inference (memory ~ batch x 28 x 28 x filters[0] x 4 bytes).
PREDICT_BATCH = 1000


class DigitClassifier:
    """A trained classifier: probabilities and penultimate-layer features of digit images.

    Parameters
    ----------
    model : a Keras model from :func:`build_model` (it must have the layer ``features``).
    """

    def __init__(self, model) -> None:
        try:
            features = model.get_layer(FEATURES_LAYER)
        except ValueError:
            raise ValueError(
                f"model {model.name!r} has no layer named {FEATURES_LAYER!r}; build it with digitgen.classifier_training.build_model."
            ) from None
        self.model = model
        self._both = keras.Model(model.inputs, [features.output, model.outputs[0]])

    @property
    def feature_size(self) -> int:
        """D, the number of features per image."""
        return int(self._both.outputs[0].shape[-1])

    def features_and_proba(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features and class probabilities in one pass.

        Parameters
        ----------
        images : uint8 (N, 28, 28), 0 = background, 255 = ink.

        Returns
        -------
        features : float32 (N, D), activations of the ``features`` layer.
        proba : float32 (N, 10), softmax probabilities of digits 0-9.
        """
        images = check_digits(images)
        if not len(images):
            return np.zeros((0, self.feature_size), np.float32), np.zeros((0, 10), np.float32)
        features, proba = infer(self._both, images.astype(np.float32), PREDICT_BATCH)
        return np.asarray(features, np.float32), np.asarray(proba, np.float32)

    def features(self, images: np.ndarray) -> np.ndarray:
        """float32 (N, D) penultimate-layer features of uint8 (N, 28, 28) images."""
        return self.features_and_proba(images)[0]

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """float32 (N, 10) class probabilities of uint8 (N, 28, 28) images."""
        return self.features_and_proba(images)[1]

    def save(self, path: str | os.PathLike) -> None:
        """Write the model as a ``.keras`` file, atomically and byte-reproducibly.

        Keras stamps the save time into ``metadata.json`` and into the zip
        header of the weights; both are replaced by fixed values so the same
        weights always give the same bytes.
        """
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"classifier path {str(path)!r} must end in '.keras'.")
        with atomic_path(path) as tmp:
            save_keras(self.model, tmp)

    @classmethod
    def load(cls, path: str | os.PathLike) -> DigitClassifier:
        """Read a classifier written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"classifier {str(path)!r} does not exist; run `dvc repro train_classifier` to train it."
            )
        if path.suffix != ".keras":
            raise ValueError(f"classifier path {str(path)!r} must end in '.keras'.")
        return cls(load_keras(path))
