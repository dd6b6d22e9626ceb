"""Logging: text or JSON lines, to the home's log file and to stderr.

Log calls in this project pass only identifiers that are safe at rest
(random record ids, case references, mission ids, channel names) as
`extra`; the JSON formatter copies only those whitelisted keys, so a stray
`extra` cannot carry content into the log.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

# `record`: the random id of a stored record (an inbox message that does not open), as
# `keys verify` names it.
SAFE_FIELDS = (
    "channel",
    "conversation",
    "case",
    "mission",
    "kind",
    "count",
    "batch",
    "officer",
    "record",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in SAFE_FIELDS:
            if key in record.__dict__:
                entry[key] = record.__dict__[key]
        if record.exc_info and record.exc_info[0] is not None:
            # The exception's type and frames only: its message may quote data.
            entry["error"] = record.exc_info[0].__name__
            entry["trace"] = "".join(traceback.format_tb(record.exc_info[2]))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={record.__dict__[k]}" for k in SAFE_FIELDS if k in record.__dict__)
        saved = record.exc_info, record.exc_text
        if record.exc_info and record.exc_info[0] is not None:
            # The exception's type and frames only: its message may quote data.
            extras += f" error={record.exc_info[0].__name__}\n"
            extras += "".join(traceback.format_tb(record.exc_info[2]))
        record.exc_info, record.exc_text = None, None
        try:
            line = super().format(record)
        finally:
            record.exc_info, record.exc_text = saved
        return f"{line} {extras}".rstrip()


def setup_logging(
    log_path: Path | None,
    log_format: Literal["text", "json"] = "text",
    level: str = "INFO",
    stderr_level: str = "WARNING",
) -> None:
    formatter: logging.Formatter = JsonFormatter() if log_format == "json" else TextFormatter()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(stderr_level)
    console.setFormatter(formatter)
    root.addHandler(console)
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        file_handler = logging.FileHandler(log_path, encoding="utf-8")
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
    # Libraries may log request details (URLs carry bot tokens): keep them quiet.
    for noisy in (
        "httpx",
        "httpcore",
        "sqlalchemy",
        "alembic",
        "transitions",
        "telegram",
        "aiohttp.access",
        "peewee",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
