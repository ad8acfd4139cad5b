"""Alert delivery channels for the monitor stage: ``log`` and ``webhook:<url>``."""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flywheel_ml.errors import InvalidInputError

_log = logging.getLogger("flywheel.alerts")


class AlertDelivery:
    """Sends alert payloads: ``log`` appends a JSON line to ``alerts.log`` (and Python logging);
    ``webhook:<url>`` POSTs the payload as JSON (5 s timeout, raises on a non-2xx answer).

    Args:
        log_path: the file the ``log`` channel appends to.
        timeout_s: the webhook timeout.
    """

    def __init__(self, log_path: Path, *, timeout_s: float = 5.0) -> None:
        self.log_path = log_path
        self.timeout_s = timeout_s

    def __call__(self, channel: str, payload: dict[str, Any]) -> None:
        """Deliver ``payload`` to ``channel``.

        Raises:
            InvalidInputError: an unknown channel.
            OSError: the webhook could not be reached or answered with an error.
        """
        body = json.dumps(payload, default=str)
        if channel == "log":
            _log.info("alert: %s", payload.get("alert"))
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).isoformat()
            with self.log_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"logged_at": stamp, **payload}, default=str) + "\n")
            return
        if channel.startswith("webhook:"):
            url = channel.removeprefix("webhook:")
            if not url.startswith(("http://", "https://")):
                raise InvalidInputError(f"bad webhook URL {url!r}", hint="use http(s)://...")
            request = urllib.request.Request(
                url, data=body.encode(), method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "flywheel-monitor"},
            )  # fmt: skip
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                if not 200 <= answer.status < 300:
                    raise OSError(f"webhook answered HTTP {answer.status}")
            return
        raise InvalidInputError(f"unknown channel {channel!r}", hint="use log or webhook:<url>")
