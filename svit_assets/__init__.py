"""SVIT Assets: a Dagster pipeline from dense image annotations to a multilingual visual-instruction dataset."""
