"""The web studio of ``digitgen serve``: a local page and an HTTP API for real-time generation from every source.

Modules: :mod:`~digitgen.studio.registry` (inputs loaded at start-up, their
status, the worker threads), :mod:`~digitgen.studio.queries` (query strings
checked with the params rules), :mod:`~digitgen.studio.jobs` (the work of one
request), :mod:`~digitgen.studio.commands` (the equivalent command lines),
:mod:`~digitgen.studio.limits` (caps and the request rate),
:mod:`~digitgen.studio.app` (the FastAPI application) and
:mod:`~digitgen.studio.server` (binding, serving, stopping). The page is
``static/`` (HTML, CSS, script), shipped as package data.
"""
