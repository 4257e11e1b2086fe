"""Caps on what one request may ask for, and the per-client request rate.

Widths and sequence lengths are capped by the rules of ``sequences.width``
and ``sequences.length`` (8192 px, 64 digits), so the largest sequence image
is 28 x 8192 bytes. :class:`Limits` adds the caps of the studio itself: digits
in one grid, series in one ambiguous draw, requests per second per client
(:class:`RateLimiter`, a token bucket per client address, checked on the
event loop before any work is queued).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from digitgen.rules import Int, Real

#: Rules of the caps (``digitgen serve`` options).
MAX_DIGITS_RULE = Int(1, 4096)
MAX_SERIES_RULE = Int(1, 64)
RATE_RULE = Real(0, 1e6, allowed="must be a number of requests per second in [0, 1e6] (0 = no limit)")


@dataclass(frozen=True)
class Limits:
    """What one request may ask for.

    Attributes
    ----------
    max_digits : most digits in one ``/api/digits`` grid (memory ~ 784 bytes each, plus the model's work).
    max_series : most interpolation series in one ``/api/ambiguous`` draw (each decodes, judges and refines 13 steps).
    rate : most requests per second per client address (0 = no limit); ``burst`` requests may come at once.
    """

    max_digits: int = 256
    max_series: int = 8
    rate: float = 1000.0
    burst: int = 1000

    def __post_init__(self) -> None:
        MAX_DIGITS_RULE.check(self.max_digits, "max_digits")
        MAX_SERIES_RULE.check(self.max_series, "max_series")
        RATE_RULE.check(self.rate, "rate")
        Int(1, 10**6).check(self.burst, "burst")


class RateLimiter:
    """A token bucket per client: ``rate`` tokens per second, at most ``burst`` saved; one token per request.

    Not thread-safe: called from the event loop only. Buckets of clients idle
    long enough to be full again are dropped, so memory is bounded by the
    clients seen in the last ``burst / rate`` seconds.
    """

    def __init__(self, rate: float, burst: int, clock=time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._last_sweep = clock()

    def allow(self, client: str) -> float:
        """0 if the request may go ahead, else the seconds to wait before the next one would."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        tokens, seen = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - seen) * self.rate)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate
        self._buckets[client] = (tokens - 1, now)
        if now - self._last_sweep > max(1.0, self.burst / self.rate):
            self._sweep(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        full = self.burst / self.rate
        self._buckets = {c: (t, s) for c, (t, s) in self._buckets.items() if now - s < full}
        self._last_sweep = now


def retry_after(seconds: float) -> str:
    """The ``Retry-After`` header value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(seconds)))
