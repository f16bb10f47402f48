"""Running a plan's tasks: each plugin's chain (lower -> codegen -> build -> validate) against the cache."""
