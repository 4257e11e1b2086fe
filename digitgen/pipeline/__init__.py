"""Stage logic: one module per DVC stage, each with a ``run(params, <paths>...)`` that reads its inputs and writes its outputs.

``stages/<stage>.py`` parses the command line, validates its ``params.yaml``
section (before TensorFlow is imported) and calls ``digitgen.pipeline.<stage>.run``.
Importing this package runs nothing else.
"""
