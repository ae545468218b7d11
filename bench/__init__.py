"""Benchmarks: commands (python -m bench.<name>) that print figures against a baseline measured in the same run."""
