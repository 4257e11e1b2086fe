"""Evaluation of digit sources and sequence datasets; numpy only (the classifier is passed in).

Importing this package runs nothing: each stage imports the modules it needs.

- :mod:`~digitgen.evaluate.features`: FCD, KID, precision/recall, k-NN radii of feature sets;
- :mod:`~digitgen.evaluate.pixels`: exact nearest training digits in pixel space, memorisation;
- :mod:`~digitgen.evaluate.banks`: the scores of a digit source against real test digits (stage ``evaluate_banks``);
- :mod:`~digitgen.evaluate.crops`: digits cut out by their boxes, centred for the classifier, hashed;
- :mod:`~digitgen.evaluate.readings`: the classifier's reading of every source digit, made once (stage ``classify_digits``);
- :mod:`~digitgen.evaluate.sequences`: the check of a sequence split (stage ``evaluate_sequences``);
- :mod:`~digitgen.evaluate.outputs`: metric JSON, plot tables and pictures.
"""
