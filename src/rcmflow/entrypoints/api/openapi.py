"""The OpenAPI document, as committed in ``docs/openapi.json``: ``python -m rcmflow.entrypoints.api.openapi``
prints it (a test fails when the committed one differs, so an API change is always a reviewed change)."""

from __future__ import annotations

import json
import sys
from typing import Any

from sqlalchemy import create_engine

from rcmflow.entrypoints.api.app import create_app


def openapi_document() -> dict[str, Any]:
    # The document does not depend on the database: an engine that is never connected will do.
    return create_app(create_engine("sqlite://")).openapi()


def render() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
