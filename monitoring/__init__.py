"""Monitoring of served predictions: drift (PSI), prediction distribution, observed outcomes."""
