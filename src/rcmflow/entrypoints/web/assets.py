"""Static assets of the UI, served by this process: the package's ``static`` folder, and the chart library
from the ``plotly`` Python package (hospital networks are often closed: no CDN)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_PREFIX = "/ui/static"
PLOTLY_PATH = "/ui/vendor/plotly.min.js"


@cache
def plotly_js() -> Path:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():  # a plotly build without its bundled JS: say so at start-up, not as a blank chart
        raise FileNotFoundError(f"plotly.min.js is missing from the plotly package ({path})")
    return path


def install_assets(app: FastAPI) -> None:
    app.mount(STATIC_PREFIX, StaticFiles(packages=[("rcmflow.entrypoints.web", "static")]), name="ui-static")
    plotly_path = plotly_js()

    @app.get(PLOTLY_PATH, include_in_schema=False)
    def plotly_bundle() -> FileResponse:
        # Versioned by the installed package; a day of caching spares a 4 MB download on every page.
        return FileResponse(plotly_path, media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})
