"""Integration (dials.integrate science): prediction, profile model, streaming summation and
profile fitting, corrections and summary statistics."""

from braggflow.algorithms.integration.integrate import IntegrationResult, corner_d_min, integrate
from braggflow.algorithms.integration.params import IntegrateParams
from braggflow.algorithms.integration.statistics import IntegrationSummary, summarize

__all__ = ["IntegrateParams", "IntegrationResult", "IntegrationSummary", "corner_d_min", "integrate", "summarize"]
