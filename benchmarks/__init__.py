"""Benchmarks that print numbers next to a baseline measured in the same run.

``python -m benchmarks --help`` lists the options; ``make bench`` runs them against a fresh
local broker. Nothing here asserts on speed: the machines are noisy, so the numbers are for
people to read and compare.
"""
