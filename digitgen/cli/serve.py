"""``digitgen serve``: the web studio (a local page and an HTTP API) on 127.0.0.1:8000 by default."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from digitgen.cli.common import project_banks, project_models
from digitgen.rules import Int, Text

logger = logging.getLogger("digitgen.serve")

PORT = Int(1, 65535)


def register(commands: argparse._SubParsersAction) -> None:
    """Add the sub-command to ``digitgen``'s parser."""
    srv = commands.add_parser(
        "serve",
        help="start the web studio: a local page and HTTP API generating sequences and digits in real time",
        description="Serve the studio page and its HTTP API (see README.md, 'Web studio'). Binds 127.0.0.1 unless --host says otherwise. "
        "Models and banks are loaded once at start-up; a missing model leaves its panel saying which stage makes it.",
    )
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    srv.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    srv.add_argument("--models", type=Path, help="folder of the fitted models (default: the project's data/models)")
    srv.add_argument("--banks", type=Path, help="folder of the generated banks (default: the project's data/banks)")
    srv.add_argument("--data", type=Path, help="mnist.npz of the real digits (default: the project's, else the user cache)")
    srv.add_argument("--max-digits", type=int, default=256, help="most digits in one /api/digits grid (default: 256)")
    srv.add_argument("--max-series", type=int, default=8, help="most series in one /api/ambiguous draw (default: 8)")
    srv.add_argument("--rate", type=float, default=1000.0, help="most requests per second per client address, 0 = no limit (default: 1000)")
    srv.add_argument("--burst", type=int, default=1000, help="requests a client may send at once before --rate applies (default: 1000)")
    srv.add_argument("--no-warm-up", action="store_true", help="skip the tiny draw per model at start-up (the first requests are then slower)")
    srv.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Check the options, bind the port, load the inputs, serve until SIGINT/SIGTERM."""
    from digitgen.studio.limits import Limits
    from digitgen.studio.registry import Paths
    from digitgen.studio.server import LOOPBACK, bind

    Text(max_length=255).check(args.host, "--host")
    PORT.check(args.port, "--port")
    limits = Limits(max_digits=args.max_digits, max_series=args.max_series, rate=args.rate, burst=args.burst)
    for option, path in (("--models", args.models), ("--banks", args.banks)):
        if path is not None and not path.is_dir():
            raise FileNotFoundError(f"{option} {str(path)!r} is not a folder.")
    if args.data is not None and not args.data.is_file():
        raise FileNotFoundError(f"--data {str(args.data)!r} is not a file; give the mnist.npz of the decode stage.")
    sock = bind(args.host, args.port)
    exposed = args.host not in LOOPBACK
    if exposed:
        logger.warning("listening on %s, not only on this machine: anyone who can reach %s:%d can use the studio (no authentication).",
                       args.host, args.host, args.port)
    try:
        _serve(args, sock, limits, Paths(
            models=(args.models or project_models()).resolve(), banks=(args.banks or project_banks()).resolve(),
            data=args.data.resolve() if args.data else None, models_given=args.models is not None, banks_given=args.banks is not None,
        ), exposed=exposed)
    finally:
        sock.close()


def _serve(args, sock, limits, paths, *, exposed: bool) -> None:
    from digitgen.sampling import single_thread_blas
    from digitgen.studio.app import create_app
    from digitgen.studio.registry import Registry
    from digitgen.studio.server import serve

    logging.getLogger("digitgen").setLevel(logging.INFO)
    single_thread_blas()  # see digitgen.sampling.single_thread_blas
    registry = Registry(paths)
    registry.load()
    if not args.no_warm_up:
        registry.warm_up()
    app = create_app(registry, limits)
    host = f"[{args.host}]" if ":" in args.host else args.host
    stopped = serve(app, sock, log_level="warning",
                    on_ready=lambda: logger.info("studio ready: http://%s:%d/ (Ctrl-C or SIGTERM stops it)", host, args.port))
    logger.info("studio stopped%s", f" on {stopped}" if stopped else "")
