"""Gunicorn settings: the server of the README's demo command and of production (SPEC §14).

    gunicorn usage_project.wsgi            # reads this file from the working directory

Each worker process runs ``threads`` request threads; Django keeps one database connection per
thread (CONN_MAX_AGE, health-checked before reuse), so a server holds at most workers x threads
connections however busy it is. Environment: PORT or GUNICORN_BIND, WEB_CONCURRENCY (workers),
GUNICORN_THREADS, GUNICORN_TIMEOUT.
"""

import os

import core.gunicorn_errors  # noqa: F401  (gunicorn's own 400/414 answers in the error envelope)

wsgi_app = "usage_project.wsgi:application"
bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Longer than the statement limit (30 s by default): a limited query answers 503 before the
# worker is killed. Streams of large CSV listings write continuously and are not cut by it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
# Request line and header limits: what is longer gets a 414/431 in the envelope.
limit_request_line = 8190
