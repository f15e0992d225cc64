"""The built-in views, registered like a user's: importing this package adds them to VIEWS.

Order matters only for the page's tabs: the first view that applies is the one shown first.
"""

from ..views import VIEWS
from . import plane, classes, image, forecast, gan, autoencoder, weights  # noqa: F401  (each registers its views)

__all__ = ["VIEWS"]
