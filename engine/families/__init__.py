"""The built-in families. Each module registers its own in engine.family.FAMILIES; engine/builtins.py
imports them. A new family is a new module here (or anywhere) that registers itself."""
