"""The `keel` command line: a thin layer over the packages' service functions."""
