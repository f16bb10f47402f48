"""tpat's version, in a module of its own so that code below the package's face can read it without importing
the package root (which imports the API, and so everything)."""

__version__ = "0.1.0"
