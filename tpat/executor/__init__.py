"""Running a task graph: each plugin's chain of cached stages (`chain`), in parallel processes (`local`), and the
composition of the plugins' output files from their cache entries (`materialize`)."""
