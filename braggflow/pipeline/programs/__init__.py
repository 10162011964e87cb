"""One module per command-line program (`braggflow.<name>`), each a thin layer."""
