"""braggflow.formats."""
