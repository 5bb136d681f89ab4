"""rcmflow: healthcare revenue-cycle and billing back-office orchestration."""

__version__ = "0.1.0"
