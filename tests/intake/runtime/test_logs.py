from __future__ import annotations

import json
import logging
from pathlib import Path

from intake.runtime.logs import setup_logging


def test_json_lines_carry_only_whitelisted_fields(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "x.log"
    setup_logging(path, "json", "INFO")
    log = logging.getLogger("intake.test")
    log.info("case submitted", extra={"case": "HRD-AAAA-BBBB", "text": "CANARY-TEXT"})
    try:
        secret = "CANARY-IN-EXCEPTION"  # source lines appear in the trace; values must not
        raise ValueError(secret)
    except ValueError:
        log.exception("failed")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["case"] == "HRD-AAAA-BBBB" and "text" not in lines[0]
    assert lines[1]["error"] == "ValueError"
    assert "CANARY" not in path.read_text()
    assert "trace" in lines[1]


def test_text_format_drops_exception_messages(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    setup_logging(path, "text", "INFO")
    try:
        secret = "CANARY-KEY"
        raise KeyError(secret)
    except KeyError:
        logging.getLogger("intake.test").exception("lookup failed")
    content = path.read_text()
    assert "lookup failed" in content and "error=KeyError" in content
    assert "CANARY-KEY" not in content and "raise KeyError(secret)" in content
