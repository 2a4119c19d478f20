"""friendshore's performance suite: synthetic BACI releases, cases, and a harness.

Run with ``python -m benchmarks.run`` (or ``make bench`` / ``make bench-smoke``);
see ``benchmarks/README.md``. Nothing here is imported by the package.
"""
