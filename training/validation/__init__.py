"""The validation report of `make evaluate` (issue 6): resampling, schemes, subgroups, report."""
