"""Process-wide logging: one structlog processor chain for structlog loggers and ``logging.getLogger`` alike.

Every record, whoever emits it (rcmflow modules, SQLAlchemy, uvicorn, a structlog logger), is rendered by one
``structlog.stdlib.ProcessorFormatter`` on one root handler: context variables (request id, principal),
an ISO UTC timestamp, level, logger name, the exception as text, then PHI redaction, then either a console
rendering for people or one JSON object per line for log pipelines. Exceptions are formatted to text
*before* redaction in both formats, so a traceback quoting an input is scrubbed like any message (and never
shows local variables).
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog
from structlog.typing import Processor

from rcmflow.log_redaction import redact_phi

LogFormat = Literal["console", "json"]

# Added to every record, structlog's and stdlib's: the order is the order of fields in the console rendering.
_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
]


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever ``sys.stderr`` is at the time of each record.

    Rich's live displays (progress bars) and test runners swap ``sys.stderr``; a handler that kept the
    object it was created with would write under a progress bar or past a test's capture."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def _renderer(fmt: LogFormat, stream: TextIO | None) -> Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    target = stream if stream is not None else sys.stderr
    colours = bool(getattr(target, "isatty", lambda: False)())
    return structlog.dev.ConsoleRenderer(colors=colours)


def build_formatter(fmt: LogFormat, stream: TextIO | None = None) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of the root handler; exposed for handlers configured elsewhere (uvicorn's, tests')."""
    if fmt not in ("console", "json"):
        raise ValueError(f"log format must be 'console' or 'json', not {fmt!r}")
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_phi,  # last before rendering: nothing added after it escapes scrubbing
            _renderer(fmt, stream),
        ],
    )


def configure_logging(level: int | str, fmt: LogFormat, stream: TextIO | None = None) -> None:
    """Send all logging to ``stream`` (default: the current ``sys.stderr``) at ``level`` in format ``fmt``.

    Replaces the root logger's handlers, so calling it again (tests, a CLI callback) reconfigures cleanly."""
    handler: logging.Handler = _StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(build_formatter(fmt, stream))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)

    # The structlog side only hands the event dict to stdlib logging; level filtering and rendering live on the
    # root logger and its formatter, so this configuration is the same whatever the arguments.
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),  # here: the stack is the caller's only at call time
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

