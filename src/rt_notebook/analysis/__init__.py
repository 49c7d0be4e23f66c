"""Analysis of a session: transcript, metrics, usage and cost, tables, plots."""
