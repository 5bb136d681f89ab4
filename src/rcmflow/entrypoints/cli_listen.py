"""``rcmflow listen``: inbound interfaces that stay up (HL7 v2 over MLLP)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from rich.console import Console

listen_app = typer.Typer(help="Inbound interfaces: HL7 v2 charges over MLLP.", no_args_is_help=True)
console = Console(stderr=True)


@listen_app.command("mllp")
def mllp_command(
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=1, max=65535)] = 2575,
    host: Annotated[str, typer.Option(help="Address to bind (0.0.0.0 for every interface).")] = "127.0.0.1",
    max_message_bytes: Annotated[int, typer.Option(help="Largest message accepted.", min=1024)] = 1_000_000,
) -> None:
    """Receive DFT^P03 charge messages, store and capture each, answer ACK (AA/AE/AR); stop with SIGTERM."""
    from rcmflow.adapters.channels.mllp import serve_mllp
    from rcmflow.entrypoints.cli import _engine
    from rcmflow.services.hl7_intake import acknowledge_message
    from rcmflow.services.policies import configured_hl7_facilities
    from rcmflow.services.scrubbing import configured_scrubber

    engine = _engine()
    configured_hl7_facilities()  # a bad facility file or rule pack stops the listener before it opens the port
    configured_scrubber()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve_mllp(host, port, lambda message: acknowledge_message(engine, message),
                         max_message_bytes=max_message_bytes, stop=stop,
                         on_listening=lambda bound: console.print(f"listening for MLLP on {host}:{bound}"))

    asyncio.run(run())
    console.print("stopped")
