"""braggflow: rotation-method X-ray diffraction processing with DIALS-style commands."""

__version__ = "0.1.0"
__all__ = ["__version__"]
