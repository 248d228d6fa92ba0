"""Support shared by the unit, integration and fault tests and the benchmark.

- `feedserver`: the one local HTTP server (synthetic YouTube channels, media,
  any route a test sets), with `synthetic` (its channels' bodies) and
  `answers` (canned and hand-written answers);
- `procs`: processes — /proc readings, `dramatiq` workers, subprocess runs;
- `rabbit`: RabbitMQ vhosts (rabbitmqctl) and a sender of messages;
- `cluster`: one integration test's workers, sender and teardown (pytest);
- `pgschema`: a fresh PostgreSQL schema; `querycount`: SQL statements counted;
- `rows`: a user, a subscription, table counts.

Nothing here imports `poller.actors`: the tests choose their broker first.
"""
