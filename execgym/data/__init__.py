"""Data shipped with execgym: the LOBSTER sample days in ``lobster/`` (see its README.md)."""
