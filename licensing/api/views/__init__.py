"""One module per part of the guide's API chapter."""
