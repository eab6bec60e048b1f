"""The package version, alone in its module so that the SDK can name it without the server."""

__version__ = "0.1.0"
