"""The ``loopstack`` command line: thin wrappers over the library."""
