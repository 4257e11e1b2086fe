"""The studio's HTTP application (FastAPI): the page, the JSON API and how every error becomes a JSON answer.

Routes::

    GET /                 the page (one self-contained HTML document: its CSS and script inlined, nothing fetched elsewhere)
    GET /api/health       {"status": "ok", "sources": ...}
    GET /api/options      the controls of the page, built from the params dataclasses and their rules
    GET /api/sequence     ?digits=2934&min=0&max=10&width=200&seed=1[&format=png|npz|json] + every layout option
    GET /api/digits       ?generator=kde&digit=7&n=16&seed=1[&format=...] + the generator's options
    GET /api/ambiguous    ?a=4&b=9&seed=1[&format=png|gif|npz|json]

Query parameters are read as text and checked by :mod:`digitgen.studio.queries`
with the rules params.yaml and the CLI use (FastAPI's own validation is not
used for them, so there is one set of rules). Errors: an unknown, repeated or
missing parameter is HTTP 400, a bad value 422, a model that is not there 503
(naming the stage that makes it), too many requests 429; each is JSON
``{"error": message, "parameter": name, "value": text, "allowed": ...}``. An
unexpected error is logged with its traceback and answered 500 with one line,
never a traceback. The work runs on the registry's threads
(:mod:`digitgen.studio.registry`), never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from digitgen.constants import (
    CLEANING_LEVELS,
    REJECTION_LEVELS,
    SOURCE_NAMES,
    SPLIT_NAMES,
)
from digitgen.errors import InputError
from digitgen.generators.density import RejectionBudgetError
from digitgen.options import Option, describe_rule, jsonable
from digitgen.params.fit_kde import KDE_RULES
from digitgen.params.train_cvae import CVAE_RULES
from digitgen.sampling import augment_options
from digitgen.sequence import LENGTH_RULE, layout_options
from digitgen.studio import jobs
from digitgen.studio.limits import Limits, RateLimiter, retry_after
from digitgen.studio.queries import (
    ParameterError,
    ambiguous_query,
    digits_query,
    query_name,
    sequence_query,
)
from digitgen.studio.registry import Registry

logger = logging.getLogger(__name__)

_ALLOWED = re.compile(r" == (?P<value>.+?), (?P<allowed>must .*?)\.?$")
_MINIMUM_WIDTH = re.compile(r"the minimum width is (\d+)")


def page_html() -> str:
    """The page with its stylesheet and script inlined (a document that needs nothing else)."""
    static = resources.files("digitgen.studio") / "static"
    html = (static / "index.html").read_text(encoding="utf-8")
    css = (static / "studio.css").read_text(encoding="utf-8")
    script = (static / "studio.js").read_text(encoding="utf-8")
    return html.replace("/*STUDIO_CSS*/", css).replace("//STUDIO_JS", script)


def options_schema(limits: Limits) -> dict[str, Any]:
    """JSON of ``/api/options``: every control of the page, described from the params rules."""

    def described(options: dict[str, Option], name: Callable[[str], str] = str) -> list[dict[str, Any]]:
        return [{**option.describe(), "name": name(key)} for key, option in options.items()]

    return {
        "sequence": {"options": described(layout_options(), query_name), "length": describe_rule(LENGTH_RULE),
                     "sources": list(SOURCE_NAMES), "splits": list(SPLIT_NAMES)},
        "augment": described(augment_options()),
        "kde": {"rejection_levels": list(REJECTION_LEVELS), "rejection": KDE_RULES["rejection"].allowed(),
                "cleaning_levels": list(CLEANING_LEVELS)},
        "cvae": {"temperature": {**describe_rule(CVAE_RULES["temperature"]), "allowed": CVAE_RULES["temperature"].allowed()}},
        "limits": {"max_digits": limits.max_digits, "max_series": limits.max_series, "rate": limits.rate, "burst": limits.burst},
    }


def error_body(error: BaseException, query: dict[str, str]) -> dict[str, Any]:
    """``{"error": one line, "parameter": ..., "value": ..., "allowed": ...}`` of an error."""
    message = " ".join(str(error).split()) or type(error).__name__
    body: dict[str, Any] = {"error": message, "parameter": getattr(error, "key", None)}
    if body["parameter"] in query:
        body["value"] = query[body["parameter"]]
    match = _ALLOWED.search(message)
    if match:
        body["allowed"] = match.group("allowed")
    width = _MINIMUM_WIDTH.search(message)
    if width:
        body["minimum_width"] = int(width.group(1))
    return body


def _status(error: BaseException) -> int:
    if isinstance(error, ParameterError):
        return 400
    if isinstance(error, FileNotFoundError):
        return 503
    return 422


def create_app(registry: Registry, limits: Limits | None = None) -> FastAPI:
    """The studio application serving ``registry`` (loaded) within ``limits``; closing it stops the registry's threads."""
    limits = limits or Limits()
    limiter = RateLimiter(limits.rate, limits.burst)
    page = page_html()
    schema = options_schema(limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        registry.close()

    app = FastAPI(title="digitgen studio", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @app.middleware("http")
    async def rate_limit(request: Request, call_next):
        if request.url.path.startswith("/api/") and request.url.path != "/api/health":
            client = request.client.host if request.client else "unknown"
            wait = limiter.allow(client)
            if wait > 0:
                return JSONResponse(
                    {"error": f"more than {limits.rate:g} requests per second from {client} (burst {limits.burst}); retry in {wait:.2f} s.",
                     "parameter": None},
                    status_code=429, headers={"Retry-After": retry_after(wait)},
                )
        return await call_next(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        return JSONResponse({"error": f"{request.method} {request.url.path}: {error.detail}", "parameter": None}, status_code=error.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):
        logger.exception("studio: unexpected error on %s", request.url)
        return JSONResponse({"error": f"internal error ({type(error).__name__}); the server log has the details.", "parameter": None}, status_code=500)

    async def run(request: Request, parse, job, executor_of) -> Response:
        query = {name: value for name, value in request.query_params.items()}
        try:
            parsed = parse({name: request.query_params.getlist(name) for name in request.query_params}, limits)
            result = await asyncio.get_running_loop().run_in_executor(executor_of(parsed), job, registry, parsed)
        except RejectionBudgetError as error:
            return JSONResponse({**error_body(error, query), "parameter": "rejection", "value": query.get("rejection")}, status_code=422)
        except (InputError, ValueError, FileNotFoundError) as error:
            return JSONResponse(error_body(error, query), status_code=_status(error))
        headers = {"X-Digitgen-Seed": str(result.seed), "X-Digitgen-Command": result.command.encode("ascii", "backslashreplace").decode("ascii"),
                   "Cache-Control": "no-store"}
        if result.format == "json":
            return JSONResponse(jsonable(result.data), headers=headers)
        disposition = "attachment" if parsed.download else "inline"
        headers["Content-Disposition"] = f'{disposition}; filename="{result.filename}"'
        return Response(result.body, media_type=jobs.MEDIA_TYPES[result.format], headers=headers)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @app.get("/api/health")
    async def health() -> JSONResponse:
        return JSONResponse(registry.health())

    @app.get("/api/options")
    async def options() -> JSONResponse:
        return JSONResponse({**schema, "health": registry.health()})

    @app.get("/api/sequence")
    async def sequence(request: Request) -> Response:
        return await run(request, sequence_query, jobs.sequence_job, lambda q: registry.numpy_pool)

    @app.get("/api/digits")
    async def digits(request: Request) -> Response:
        return await run(request, digits_query, jobs.digits_job, lambda q: registry.executor(q.request.generator))

    @app.get("/api/ambiguous")
    async def ambiguous(request: Request) -> Response:
        return await run(request, ambiguous_query, jobs.ambiguous_job, lambda q: registry.executor("ambiguous"))

    return app
