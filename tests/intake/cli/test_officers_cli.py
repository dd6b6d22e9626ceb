"""`officers`: refusals come before any passphrase prompt; one policy; revoking twice is refused."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from intake.cli.main import cli
from tests.support.officers import enrol
from tests.support.setup import Setup


def run(setup: Setup, *args: str) -> tuple[int, str]:
    # No terminal: any prompt would fail with "no terminal to ask on".
    result = CliRunner().invoke(cli, list(args), env=setup.env, input="")
    # A raised Refused is what `main` turns into "error: ..." and exit 1.
    raised = "" if isinstance(result.exception, SystemExit | None) else str(result.exception)
    return result.exit_code, result.output + raised


def test_refusals_come_before_any_prompt(setup: Setup, tmp_path: Path) -> None:
    ana, _ = enrol(setup, "eu-del-ke", "Ana")
    code, output = run(setup, "officers", "add", "--mission", "eu-del-ke", "--name", "Ben")
    assert code == 1 and "--by" in output
    assert "no terminal" not in output

    weak = tmp_path / "weak.pass"
    weak.write_text("short\n")
    weak.chmod(0o644)
    code, output = run(
        setup, "officers", "add", "--mission", "eu-del-ke", "--name", "Ben",
        "--passphrase-file", str(weak), "--by", ana,
    )  # fmt: skip
    # The newcomer's passphrase is refused before Ana is asked for hers.
    assert code == 1 and "too short" in output and "no terminal" not in output
    assert "readable by others" in output

    # Ana is eu-del-ke's only officer: refused first for that, before any prompt,
    code, output = run(setup, "officers", "revoke", ana)
    assert code == 1 and "--force" in output and "no terminal" not in output
    # then, forced, for the mission key that revoking rotates (no unlocker named).
    code, output = run(setup, "officers", "revoke", ana, "--force")
    assert code == 1 and "--keep-mission-key" in output and "no terminal" not in output
    assert run(setup, "officers", "revoke", ana, "--keep-mission-key", "--force")[0] == 0
    code, output = run(setup, "officers", "revoke", ana, "--by", "someone")
    assert code == 1 and "already revoked" in output and "no terminal" not in output
