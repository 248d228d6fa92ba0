"""gunicorn settings for the API: ``gunicorn -c python:api.gunicorn_conf 'api.app:create_app()'``.

Threads, not sync workers: a ``?wait=60`` request holds its worker for up to
a minute, and a sync worker busy past `timeout` (30 s by default) is killed
by the arbiter. A gthread worker keeps beating while its threads wait, and
each thread has its own pika connection (gevent workers leak them, dramatiq
#381). The command line overrides any of these (``-w 4 --threads 32``).
"""

from api import waiting as _waiting
from poller import config as _config  # not `config`: gunicorn reads that name as a setting

bind = _config.get().api_bind  # TUBEPOLLER_API_BIND, checked with the other settings
worker_class = "gthread"
workers = 2
# Each waiting request holds a thread; at most MAX_WAITS wait at once per
# worker (429 past it), so SPARE_THREADS always serve everything else.
threads = _waiting.MAX_WAITS + _waiting.SPARE_THREADS


def post_worker_init(worker) -> None:  # type: ignore[no-untyped-def]
    """Fit the wait cap to this worker's threads, also when --threads set them."""
    _waiting.PROCESS_SLOTS.fit(worker.cfg.threads)


timeout = 90  # above the longest ?wait (60 s)
graceful_timeout = 70  # lets a waiting request finish on SIGTERM
