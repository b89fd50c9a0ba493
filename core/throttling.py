"""Per-token rate limits (SPEC §14): DRF throttling, the rate in settings (``token`` scope).

Each API token is its own bucket (a user's tokens are separate clients); requests without a token
are refused by authentication before throttling. Counts live in Django's default cache: local
memory, counting per server process, or Redis (shared) when REDIS_URL is set.
"""

from __future__ import annotations

import logging

from rest_framework.throttling import SimpleRateThrottle

from core.models import ApiToken

logger = logging.getLogger(__name__)


class TokenRateThrottle(SimpleRateThrottle):
    scope = "token"

    def allow_request(self, request, view) -> bool:
        # Counts out of reach (Redis down): the request goes through, rather than a 500.
        try:
            return super().allow_request(request, view)
        except Exception:  # the cache backends raise their own client errors
            logger.warning("rate-limit counts unavailable: request not throttled", exc_info=True)
            return True

    def get_cache_key(self, request, view) -> str | None:
        token = request.auth
        if isinstance(token, ApiToken):
            return self.cache_format % {"scope": self.scope, "ident": f"token-{token.pk}"}
        if request.user is not None and request.user.is_authenticated:
            return self.cache_format % {"scope": self.scope, "ident": f"user-{request.user.pk}"}
        return None
