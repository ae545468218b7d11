"""Analytics models, one module per side so the two halves grow without touching each other."""

from .acquisition import *  # noqa: F401,F403
from .behaviour import *  # noqa: F401,F403
