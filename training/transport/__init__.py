"""Transportability checks on real public cohorts shipped by PyPI packages (never committed)."""
