"""Benchmarks (`make bench`): print figures and ratios measured in the same run."""
