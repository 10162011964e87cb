"""braggflow.report."""
