"""The ``digitgen`` command line equivalent to a studio request: it writes the bytes the API returns.

Only options that differ from the command's defaults are written, plus the
seed; the data, banks and models folders are written when the server was given
them (``digitgen serve --data/--banks/--models``), so the command reads the
same inputs as the server.
"""

from __future__ import annotations

import shlex

from digitgen.cli.sample import option_name as sample_option
from digitgen.cli.sequence import option_name as sequence_option
from digitgen.options import format_value
from digitgen.sampling import MODEL_FOLDERS, SampleRequest, augment_options
from digitgen.sequence import layout_options
from digitgen.studio.queries import SequenceQuery
from digitgen.studio.registry import Paths

#: Default of ``digitgen sample --columns``.
SAMPLE_COLUMNS = 8


def sequence_command(query: SequenceQuery, paths: Paths) -> str:
    """``digitgen sequence DIGITS MIN MAX WIDTH --seed S ...`` writing the PNG of ``query``."""
    params, width = query.layout.params, query.layout.width
    words = ["digitgen", "sequence", query.digits, str(params.spacing.min), str(params.spacing.max),
             "tight" if width is None else str(width), "--seed", str(query.seed)]
    if query.source != "real":
        words += ["--source", query.source]
        if paths.banks_given:
            words += ["--banks", str(paths.banks)]
    else:
        if query.split != "test":
            words += ["--split", query.split]
        if paths.data is not None:
            words += ["--data", str(paths.data)]
    options = layout_options()
    for key, value in query.layout.values.items():
        if key in ("width", "spacing.min", "spacing.max") or value == options[key].default:
            continue
        words += [sequence_option(key), format_value(value)]
    return shlex.join(words)


def sample_file(request: SampleRequest, extension: str = "png") -> str:
    """The file name a sample command writes: ``kde-7.png``, ``ambiguous-4-9.gif``."""
    if request.pair is not None:
        what = f"{request.pair[0]}-{request.pair[1]}"
    else:
        what = "all" if request.digit is None else str(request.digit)
    return f"{request.generator}-{what}.{extension}"


def sample_command(request: SampleRequest, paths: Paths, *, series: bool = False, gif: bool = False) -> str:
    """``digitgen sample --generator G -n N --seed S ...`` writing the grid (or, with ``series``, the series picture; with
    ``gif``, the series GIF) of ``request``."""
    words = ["digitgen", "sample", "--generator", request.generator, "-n", str(request.n), "--seed", str(request.seed)]
    if request.digit is not None:
        words += ["--digit", str(request.digit)]
    if request.pair is not None:
        words += ["--pair", str(request.pair[0]), str(request.pair[1])]
    for key in ("rejection", "cleaning", "temperature"):
        value = getattr(request, key)
        if value is not None:
            words += [sample_option(key), format_value(value)]
    if request.generator in ("real", "augmented"):
        if request.split != "train":
            words += ["--split", request.split]
        if paths.data is not None:
            words += ["--data", str(paths.data)]
    options = augment_options()
    for key, value in request.augment.items():
        if value != options[key].default:
            words += ["--" + key, format_value(value)]
    if not (series or gif) and request.columns != SAMPLE_COLUMNS:
        words += ["--columns", str(request.columns)]
    if paths.models_given and request.generator in MODEL_FOLDERS:
        words += ["--models", str(paths.models / MODEL_FOLDERS[request.generator])]
    if gif:
        words += ["--gif", sample_file(request, "gif")]
    else:
        if series:
            words.append("--series")
        words += ["--out", sample_file(request)]
    return shlex.join(words)

