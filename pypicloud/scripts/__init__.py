"""The ``ppc-*`` command-line tools: one module per command, sharing ``common``."""
