"""braggflow.pipeline."""
