"""Process entry points: the preamble every stage script shares, and one error path for stages and the CLI.

A stage script is::

    parser = entry.stage_parser(__doc__)
    parser.add_argument("--out", required=True)

    def main(args): ...

    if __name__ == "__main__":
        raise SystemExit(entry.run_stage("sequences", parser, main))

:func:`guarded` runs the work and turns what it raises into one line on
stderr and an exit status: 2 for bad input (a value, option, key or file the
user gave; :class:`digitgen.errors.InputError`, ``ValueError``,
``FileNotFoundError`` ...), 1 for a failed run (:class:`digitgen.errors.RunError`,
an I/O error such as a full disk, anything unexpected), 130 for Ctrl-C.
``--debug`` or ``DIGITGEN_DEBUG=1`` adds the traceback.

TensorFlow prints C++ start-up lines (CUDA probing, CPU features, XLA) in
every process that imports it. ``TF_CPP_MIN_LOG_LEVEL`` silences most of them,
but some are written by absl before its logging is initialised, straight to
file descriptor 2; :class:`NativeLogFilter` drops lines in that format on the
way to stderr (everything else, Python's own output included, passes through).
``-v`` or ``DIGITGEN_TF_LOGS=1`` keeps them.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterator

from digitgen.errors import RunError

#: Set to 1 to print the traceback of an error.
DEBUG_ENV = "DIGITGEN_DEBUG"
#: Set to 1 to keep TensorFlow's C++ log lines.
TF_LOGS_ENV = "DIGITGEN_TF_LOGS"
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
# Errors that mean "the input is wrong": exit status 2.
_BAD_INPUT = (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError, PermissionError, ConnectionError)


# A line of absl/TensorFlow native logging (info, warning, error; fatal lines are kept), or its companions.
_NATIVE_LINE = re.compile(
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] .*"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.)\r?\n?$"
)


def tensorflow_logs_wanted(verbose: bool = False) -> bool:
    """``-v`` given or ``DIGITGEN_TF_LOGS`` set to anything but 0."""
    return verbose or os.environ.get(TF_LOGS_ENV, "") not in ("", "0")


class NativeLogFilter:
    """Context manager: file descriptor 2 goes through a pipe that drops native TensorFlow/absl log lines.

    Child processes inherit the filtered descriptor. On exit the original
    stderr is restored and what is still in the pipe is written out.
    """

    def __enter__(self) -> NativeLogFilter:
        sys.stderr.flush()
        self._saved = os.dup(2)
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
        self._thread = threading.Thread(target=self._pump, args=(read, os.dup(self._saved)), daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _pump(read: int, target: int) -> None:
        with os.fdopen(read, "rb") as pipe, os.fdopen(target, "wb", buffering=0) as out:
            for line in pipe:
                if not _NATIVE_LINE.match(line):
                    out.write(line)

    def __exit__(self, *exc_info) -> None:
        sys.stderr.flush()
        os.dup2(self._saved, 2)  # closes this process's write end of the pipe
        os.close(self._saved)
        self._thread.join(timeout=2)  # children still holding the pipe may keep it open


@contextlib.contextmanager
def quiet_tensorflow(verbose: bool = False) -> Iterator[None]:
    """Silence TensorFlow's native logging for the duration (set before TensorFlow is imported) unless asked for."""
    if tensorflow_logs_wanted(verbose):
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with NativeLogFilter():
        yield


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr as ``LEVEL name: message``; ``warnings.warn`` goes through the same log, once."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    logging.captureWarnings(True)
    for noisy in ("absl", "tensorflow", "h5py", "urllib3", "distributed", "fsspec", "matplotlib"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def debug_requested(flag: bool = False) -> bool:
    """``--debug`` given, or ``DIGITGEN_DEBUG`` set to anything but 0."""
    return flag or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def exit_code(error: BaseException) -> int:
    """2 for bad input, 1 for a failed run (see the module docstring)."""
    if isinstance(error, RunError):
        return 1
    if isinstance(error, _BAD_INPUT):
        return 2
    return 1


def describe(error: BaseException) -> str:
    """One line saying what went wrong: the message, the path and reason of an I/O error, or the error type."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        where = f"{error.filename} -> {error.filename2}" if error.filename2 else str(error.filename)
        return f"{where}: {error.strerror}"
    if isinstance(error, MemoryError):
        return "out of memory; ask for fewer or smaller items (see the caps in README.md, 'Failure behaviour')"
    text = " ".join(str(error).split()) if str(error) else ""
    if isinstance(error, (ValueError, OSError, RunError)) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def guarded(prog: str, work: Callable[[], object], *, debug: bool = False) -> int:
    """Run ``work``; return its exit status, reporting any error as one line ``prog: error: ...`` on stderr."""
    try:
        work()
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
    except Exception as error:  # the one place that turns any error into a message and a status
        if debug_requested(debug):
            traceback.print_exc()
        understood = isinstance(error, (ValueError, OSError, RunError, MemoryError, ConnectionError))
        hint = "" if debug_requested(debug) or understood else f" (set {DEBUG_ENV}=1 for the traceback)"
        sys.stderr.write(f"{prog}: error: {describe(error)}{hint}\n")
        return exit_code(error)
    return 0


def stage_parser(doc: str) -> argparse.ArgumentParser:
    """The argument parser of a stage script: its docstring's first line, ``--params``, ``-v`` and ``--debug``."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="keep TensorFlow's own log lines")
    parser.add_argument("--debug", action="store_true", help=f"print the traceback of an error (or set {DEBUG_ENV}=1)")
    return parser


def run_stage(name: str, parser: argparse.ArgumentParser, main: Callable[[argparse.Namespace], object]) -> int:
    """Parse the command line, set up logging, run ``main(args)``; returns the exit status."""
    args = parser.parse_args()
    configure_logging(logging.INFO)
    with quiet_tensorflow(args.verbose):
        return guarded(f"stage {name}", lambda: main(args), debug=args.debug)
