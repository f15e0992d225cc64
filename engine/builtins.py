"""The one place where the built-in datasets, data sources and families register.

Each module registers itself on import, exactly as a user's plug-in would; importing them here,
from engine/__init__.py, means that every registry is full before any spec is validated.
"""

from . import csvdata, datasets, gandata, sequences  # noqa: F401  (data: tables, images, CSV, series, GAN targets)
from .families import forecasting, generation, reconstruction, supervised  # noqa: F401  (supervised, forecasting, GANs, AEs)
