"""The REST API (``rcmflow serve``): versioned under ``/v1``, errors as RFC 9457 problem documents."""
