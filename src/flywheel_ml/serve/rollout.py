"""Routing decisions: a pure function of (deployment state, request key, a random number).

With a key, a request's share bucket is a stable hash of the model name and the key, so a key
stays on the same side of a canary split for as long as the split is unchanged (and a larger
percent only moves keys from champion to canary, never back). Without a key the caller's random
number decides, giving the same split on average.
"""

from __future__ import annotations

import hashlib

from flywheel_ml.serve.entities import Deployment, Route

_SCALE = float(1 << 64)


def bucket(model: str, key: str) -> float:
    """A key's stable position in [0, 1) for ``model`` (BLAKE2b of ``model`` and ``key``)."""
    digest = hashlib.blake2b(f"{model}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def route(state: Deployment, key: str | None, *, rand: float) -> Route:
    """Where a request for ``state.model`` goes.

    Args:
        state: the deployment in force.
        key: the request key (sticky routing), or None.
        rand: a uniform random number in [0, 1), used only without a key.

    Returns:
        The canary when the key's bucket (or ``rand``) falls below ``canary_percent``/100, else
        the champion; the shadow (if any) on every request; the champion as ``baseline_ref``
        when the canary answers.

    >>> s = Deployment(model="m", champion="m@v1", canary="m@v2", canary_percent=10.0)
    >>> route(s, None, rand=0.05).primary_ref, route(s, None, rand=0.5).primary_ref
    ('m@v2', 'm@v1')
    """
    if state.canary is not None:
        point = rand if key is None else bucket(state.model, key)
        if point < state.canary_percent / 100.0:
            return Route(
                primary_ref=state.canary, shadow_ref=state.shadow, baseline_ref=state.champion
            )
    return Route(primary_ref=state.champion, shadow_ref=state.shadow)
