"""bci-app: motor-imagery BCI with LoRA-adapted ATCNet.

The core (everything but :mod:`bci_app.gui`) is Qt-free and runs headless.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
