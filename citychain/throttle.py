"""Per-address sliding-window limits kept in Django's cache (kiosk sign-in, voting credentials).

Keyed on REMOTE_ADDR only: X-Forwarded-For is whatever the client says unless a trusted proxy
rewrites it, and a limit keyed on it would be trivial to dodge. The address is hashed so the
cache holds no IP addresses. Two requests at the same instant may both get through; each
caller has a hard limit behind this one (PIN lockout, one-time credentials).
"""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache
from django.http import HttpRequest


class AddressWindow:
    def __init__(self, scope: str, limit: int, window_seconds: int):
        self.scope, self.limit, self.window = scope, limit, window_seconds

    def _key(self, request: HttpRequest) -> str:
        address = request.META.get("REMOTE_ADDR", "")
        return f"{self.scope}:" + hashlib.sha256(address.encode()).hexdigest()[:32]

    def _recent(self, request: HttpRequest) -> list[float]:
        now = time.time()
        return [t for t in cache.get(self._key(request), []) if t > now - self.window]

    def exceeded(self, request: HttpRequest) -> bool:
        return len(self._recent(request)) >= self.limit

    def hit(self, request: HttpRequest) -> None:
        cache.set(self._key(request), [*self._recent(request), time.time()], self.window)
