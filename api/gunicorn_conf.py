"""gunicorn settings for the API: ``gunicorn -c python:api.gunicorn_conf 'api.app:create_app()'``.

Threads, not sync workers: a ``?wait=60`` request holds its worker for up to
a minute, and a sync worker busy past `timeout` (30 s by default) is killed
by the arbiter. A gthread worker keeps beating while its threads wait, and
each thread has its own pika connection (gevent workers leak them, dramatiq
#381). The command line overrides any of these (``-w 4 --threads 32``).
"""

from poller import config as _config  # not `config`: gunicorn reads that name as a setting

bind = _config.get().api_bind  # TUBEPOLLER_API_BIND, checked with the other settings
worker_class = "gthread"
workers = 2
threads = 16  # each waiting request holds one; size for your long-polling clients
timeout = 90  # above the longest ?wait (60 s)
graceful_timeout = 70  # lets a waiting request finish on SIGTERM
