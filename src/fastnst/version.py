"""The fastnst version, in a module of its own so any module can import it without cycles."""

__version__ = "0.2.0"
