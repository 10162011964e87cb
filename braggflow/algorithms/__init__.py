"""braggflow.algorithms."""
