"""Reporting: per-component progress during a run, then the run read back from ML Metadata
and TFMA, printed as a summary and written as a markdown + PNG report."""
