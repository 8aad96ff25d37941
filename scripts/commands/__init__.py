"""The commands of ``cchc``, one module per area (``scripts/cli.py`` gathers them)."""
