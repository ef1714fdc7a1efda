"""Files -> documents (load.py) -> passages (split.py)."""
