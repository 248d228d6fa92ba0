"""The benchmark: each scenario measures the real pipeline in a world of its own.

Run it from the repository root: ``python -m tests.bench SCENARIO|all [--quick]``
(see `run`). It shares the feed server and the process helpers of the tests
(`tests.support`).
"""
