"""Settings for the test suite: production settings with a key of the tests' own.

SECRET_KEY is required when DEBUG is off (settings.py refuses to start without it); tests run with
DEBUG off, as production does.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-key-never-deployed-" + "x" * 40)

from usage_project.settings import *  # noqa: F403
