"""What each stage does between its command line and the library: read inputs, run, write outputs (one module per stage).

Importing this package runs nothing.
"""
