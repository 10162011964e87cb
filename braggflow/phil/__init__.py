"""braggflow.phil."""
