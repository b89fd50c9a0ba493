"""Settings for the test suite: production settings with a key of the tests' own.

SECRET_KEY is required when DEBUG is off (settings.py refuses to start without it); tests run with
DEBUG off, as production does. The demo command's credentials go to a file of the test run's own.
"""

import atexit
import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-key-never-deployed-" + "x" * 40)
# The demo's credentials file of the tests (their processes inherit it), never the checkout's own;
# removed when the test run ends.
if "DEMO_CREDENTIALS_FILE" not in os.environ:
    os.environ["DEMO_CREDENTIALS_FILE"] = os.path.join(
        tempfile.gettempdir(), f"usage-tests-demo-credentials-{os.getpid()}.json"
    )
    atexit.register(lambda path=os.environ["DEMO_CREDENTIALS_FILE"]: os.path.exists(path) and os.remove(path))

from usage_project.settings import *  # noqa: F403

# Cached report answers in process memory: no cache queries among the pinned query counts (the
# database cache table is tested on its own, tests/core/test_report_cache.py).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "reports": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "reports"},
}
