"""Default configuration files shipped with rcmflow (read with ``importlib.resources``)."""
