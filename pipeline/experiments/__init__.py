"""`python -m pipeline experiment`: the workshop's comparisons as a resumable grid."""
