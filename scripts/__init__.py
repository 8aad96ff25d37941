"""The ``cchc`` command line."""
