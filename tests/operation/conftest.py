"""Fixtures borrowed from the interchange and ingest tests."""

from tests.ingest.test_ingest import tenants  # noqa: F401
from tests.interchange.conftest import write_file  # noqa: F401
