"""The benchmark suite of issue 7 (not part of the installed package): see benchmarks/README.md."""
