"""Layerlab's web server. Kept empty so that `layerlab train` does not import FastAPI."""
