"""The two statistics every figure reports: the median and the 95th percentile."""

from __future__ import annotations

import statistics


def median(values: list[float]) -> float:
    """The median of ``values`` (not empty).

    :param values: the samples.
    """
    return float(statistics.median(values))


def p95(values: list[float]) -> float:
    """The 95th percentile of ``values`` (not empty), the nearest sample.

    :param values: the samples.
    """
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))])
