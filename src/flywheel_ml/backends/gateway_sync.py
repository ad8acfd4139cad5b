"""Reaching running prediction gateways after a deployment move (stdlib HTTP, loopback or LAN).

Each gateway registers its URL in the serve store when it starts and removes it when it stops.
After a move, :meth:`HttpGatewaySync.sync` posts the move's ``seq`` to every registered
gateway's ``/v1/admin/sync``; a gateway answers only once it serves that state and no request
of an older state is still in flight (see :mod:`flywheel_ml.server.live_state`). A gateway that
refuses connections has died without unregistering and is forgotten.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

from flywheel_ml.serve.store import DeploymentStore


class HttpGatewaySync:
    """:class:`flywheel_ml.serve.stage.GatewaySync` over HTTP.

    Args:
        store: where gateways are registered.
        timeout_s: how long to wait for one gateway.
    """

    def __init__(self, store: DeploymentStore, *, timeout_s: float = 30.0) -> None:
        self._store = store
        self._timeout_s = timeout_s

    def sync(self, seq: int) -> list[str]:
        """Wait until every registered gateway serves ``seq``; list those that did not confirm."""
        problems = []
        for gateway in self._store.list_gateways():
            parts = urlsplit(gateway.url)
            conn = http.client.HTTPConnection(
                parts.hostname or "127.0.0.1", parts.port or 80, timeout=self._timeout_s
            )
            try:
                conn.request(
                    "POST",
                    "/v1/admin/sync",
                    body=json.dumps({"seq": seq}),
                    headers={"Content-Type": "application/json"},
                )
                response = conn.getresponse()
                doc = json.loads(response.read() or b"{}")
                if response.status != 200 or not doc.get("confirmed"):
                    problems.append(f"{gateway.url}: {doc.get('message') or response.status}")
            except ConnectionRefusedError:
                self._store.remove_gateway(gateway.id)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                problems.append(f"{gateway.url}: {exc}")
            finally:
                conn.close()
        return problems
