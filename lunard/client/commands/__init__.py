"""One module per command group of `lunar` (see `lunard.client.cli` for the tree)."""
