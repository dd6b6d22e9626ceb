"""`hrd-intake matrix identity`: the bot's identity for the Delegation to publish.

A defender who will talk to the bot on Matrix should be able to check, out
of band, that the account is the Delegation's: its Matrix id, and the
fingerprint of its master cross-signing key (which signs the bot's device;
Element checks that signature). This prints both, with the device's session
key that Element shows, and writes a QR code (PNG and SVG, and one in the
terminal) for the Delegation's web page. Nothing printed is secret.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import segno

from bots.matrix.identity import fingerprint, published_link
from bots.matrix.state import MatrixState
from intake.cli.common import EXIT_SETUP, Context, emit_json, fail, pass_context
from intake.core import desks
from intake.storage.channel_state import ChannelStateStore


@click.group("matrix")
def matrix_group() -> None:
    """The Matrix bot account."""


@matrix_group.command("identity")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for identity.png and identity.svg (default: $HRD_INTAKE_HOME/matrix-identity).",
)
@click.option("--no-terminal-qr", is_flag=True, help="Do not draw the QR code in the terminal.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def matrix_identity(ctx: Context, out: Path | None, no_terminal_qr: bool, as_json: bool) -> None:
    """Print the bot's Matrix id and master-key fingerprint; write its QR code."""
    state = MatrixState(ChannelStateStore("matrix", ctx.sessions, ctx.cipher, desks.utcnow))
    identity = state.public_identity()
    if identity is None:
        fail(
            "the Matrix bot has no published identity yet: run `hrd-intake serve` with the "
            "HRD_INTAKE_MATRIX_* settings once (it creates and publishes it at first login)",
            EXIT_SETUP,
        )
    folder = out or ctx.settings.home / "matrix-identity"
    folder.mkdir(parents=True, exist_ok=True)
    link = published_link(identity.user_id, identity.master)
    qr = segno.make(link, error="m")
    png, svg = folder / "identity.png", folder / "identity.svg"
    qr.save(str(png), scale=8, border=4)
    qr.save(str(svg), scale=8, border=4, title=f"{identity.user_id} (Matrix)")
    for path in (png, svg):
        path.chmod(0o644)  # meant for a public web page
    if as_json:
        emit_json(
            {
                "user_id": identity.user_id,
                "master_key": identity.master,
                "master_key_fingerprint": fingerprint(identity.master),
                "device_id": identity.device_id,
                "device_key": identity.device_key,
                "link": link,
                "png": str(png),
                "svg": str(svg),
            }
        )
        return
    click.echo(f"Matrix id:              {identity.user_id}")
    click.echo(f"master key fingerprint: {fingerprint(identity.master)}")
    click.echo(f"device (session) key:   {fingerprint(identity.device_key)}  ({identity.device_id})")
    click.echo(f"link in the QR code:    {link}")
    click.echo(f"QR code written:        {png}, {svg}")
    if not no_terminal_qr:
        qr.terminal(out=sys.stdout, compact=True)
