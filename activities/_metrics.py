"""psflow's business metrics recorded by activities, through ``activity.metric_meter()``.

The meter is the worker runtime's (``stack/metrics.py``), so the series come out of the worker's
Prometheus endpoint; it adds ``namespace``, ``task_queue``, ``activity_type`` and ``workflow_type``
labels. Labels here are bounded: a flow, a kind, an age bucket, an escalation level.

| series | type | labels | what |
|---|---|---|---|
| ``psflow_exceptions_open`` | gauge | flow, kind, age | open exceptions as of the last sweep, by age since first seen |
| ``psflow_exceptions_oldest_age_seconds`` | gauge | flow, kind | the oldest open exception's age at the last sweep |
| ``psflow_exceptions_escalations_total`` | counter | level | escalations the sweep made |

The gauges are what the last ``exceptions.escalate`` call of *this* worker saw: with several workers
take ``max`` over instances. A flow and kind with nothing open any more reads 0 (not absent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from temporalio import activity

from store.figures import AGE_BUCKETS, OpenExceptions

__all__ = ["BUCKETS", "escalated", "exceptions_open"]

EXCEPTIONS_OPEN = "psflow_exceptions_open"
EXCEPTIONS_OLDEST = "psflow_exceptions_oldest_age_seconds"
ESCALATIONS = "psflow_exceptions_escalations"
BUCKETS: dict[str, tuple[float, ...]] = {}

_reported: set[tuple[str, str]] = set()
"""The flows and kinds this process has reported open exceptions for (to zero them once none are)."""


def exceptions_open(groups: Sequence[OpenExceptions]) -> None:
    """Set the open-exception gauges to ``groups``; flows and kinds reported before and absent now read 0."""
    if not activity.in_activity():
        return
    meter = activity.metric_meter()
    count = meter.create_gauge(EXCEPTIONS_OPEN, "Open exceptions by flow, kind and age since first seen")
    oldest = meter.create_gauge_float(EXCEPTIONS_OLDEST, "Age of the oldest open exception", "s")
    now = {(group.flow, group.kind): group for group in groups}
    for flow, kind in sorted(_reported | now.keys()):
        group = now.get((flow, kind))
        for index, (age, _) in enumerate(AGE_BUCKETS):
            count.set(group.by_age[index] if group else 0, {"flow": flow, "kind": kind, "age": age})
        oldest.set(group.oldest.total_seconds() if group else 0.0, {"flow": flow, "kind": kind})
    _reported.update(now)


def escalated(by_level: Mapping[int, int]) -> None:
    """Escalations made, by level."""
    if not activity.in_activity():
        return
    counter = activity.metric_meter().create_counter(ESCALATIONS, "Exceptions escalated, by level")
    for level, made in sorted(by_level.items()):
        counter.add(made, {"level": str(level)})
