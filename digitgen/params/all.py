"""The whole ``params.yaml`` as one typed object (for the CLI, the API and ``digitgen check-params``).

A stage reads only its own section (:func:`digitgen.params.core.load_section`),
so that it depends on no other section's code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from digitgen.params.augment import AugmentParams
from digitgen.params.canvases import CanvasesParams
from digitgen.params.core import (
    SECTION_NAMES,
    check_sections,
    parse_section,
    read_params_file,
    section,
)
from digitgen.params.download import DownloadParams
from digitgen.params.evaluate_banks import EvaluateBanksParams
from digitgen.params.evaluate_canvases import EvaluateCanvasesParams
from digitgen.params.evaluate_sequences import EvaluateSequencesParams
from digitgen.params.fit_kde import KdeParams
from digitgen.params.latent_report import LatentReportParams
from digitgen.params.report import ReportParams
from digitgen.params.sequences import SequencesParams
from digitgen.params.train_autoencoder import TrainAutoencoderParams
from digitgen.params.train_classifier import TrainClassifierParams
from digitgen.params.train_cvae import TrainCvaeParams
from digitgen.params.train_reader import TrainReaderParams


@dataclass(frozen=True)
class Params:
    """Every section of params.yaml; a missing section takes its defaults."""

    download: DownloadParams = section(DownloadParams)
    sequences: SequencesParams = section(SequencesParams)
    augment: AugmentParams = section(AugmentParams)
    fit_kde: KdeParams = section(KdeParams)
    train_classifier: TrainClassifierParams = section(TrainClassifierParams)
    evaluate_banks: EvaluateBanksParams = section(EvaluateBanksParams)
    evaluate_sequences: EvaluateSequencesParams = section(EvaluateSequencesParams)
    report: ReportParams = section(ReportParams)
    train_cvae: TrainCvaeParams = section(TrainCvaeParams)
    train_autoencoder: TrainAutoencoderParams = section(TrainAutoencoderParams)
    latent_report: LatentReportParams = section(LatentReportParams)
    canvases: CanvasesParams = section(CanvasesParams)
    evaluate_canvases: EvaluateCanvasesParams = section(EvaluateCanvasesParams)
    train_reader: TrainReaderParams = section(TrainReaderParams)


#: Section name -> its class.
SECTIONS = {name: Params.__dataclass_fields__[name].metadata["rule"].cls for name in SECTION_NAMES}


def parse_params(raw: Any, source: str = "params") -> Params:
    """Validate an already-loaded params mapping (see :func:`load_params`); errors name ``source``."""
    check_sections(raw, source)
    return Params(**{name: parse_section(raw, name, cls, source) for name, cls in SECTIONS.items()})


def load_params(path: str | os.PathLike = "params.yaml") -> Params:
    """Read and validate every section of ``path``.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    digitgen.errors.ParamsError
        For an unreadable file, an unknown key, a wrong type or a value out of range.
    """
    return parse_params(read_params_file(path), str(path))
