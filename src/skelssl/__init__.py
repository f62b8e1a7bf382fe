"""skelssl: a declarative (DVC) pipeline for self-supervised skeleton action recognition."""

__version__ = "0.1.0"
