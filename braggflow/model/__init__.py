"""braggflow.model."""
