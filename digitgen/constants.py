"""Names and sizes every part of digitgen agrees on: the digit cell, the digit sources, the dataset splits.

A leaf module (it imports nothing from digitgen), so that anything may use it
without pulling in other code.
"""

from __future__ import annotations

#: Height and width of one digit cell (MNIST's), in pixels.
DIGIT_SIZE = 28
#: Digit sources a dataset can draw from: ``real`` is MNIST itself, the others are banks under ``data/banks/``.
SOURCE_NAMES = ("real", "augmented", "kde", "cvae", "ambiguous", "clusters")
#: The sources that are generated banks (files ``data/banks/<name>.npz``).
GENERATED_SOURCES = SOURCE_NAMES[1:]
#: Dataset splits, in the order their seeds are numbered.
SPLIT_NAMES = ("train", "test")
#: Cleaning levels of generated digits (:mod:`digitgen.cleaning`), from none to most.
CLEANING_LEVELS = ("none", "light", "medium", "aggressive")
#: Named rejection levels of the kernel-density generator -> percentile of held-out log-density (None: no rejection).
REJECTION_LEVELS = {"none": None, "light": 10.0, "medium": 25.0, "strict": 50.0}
