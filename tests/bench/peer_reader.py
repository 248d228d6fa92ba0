"""The peer of the `peers` scenario: lemon24/reader polling the bench's feeds.

Run by the peer's own Python (reader needs a newer one than ours), never
imported by the bench: ``python peer_reader.py DB URLS_FILE WORKERS``. Each
line ``round`` on stdin runs one ``update_feeds`` over every feed and prints
one JSON line: seconds, CPU seconds of this process, feeds updated, errors.
"""

import json
import resource
import sys
import time

from reader import make_reader


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    database, urls_file, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    reader = make_reader(database)
    with open(urls_file) as urls:
        for url in urls.read().split():
            reader.add_feed(url, exist_ok=True)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() != "round":
            break
        cpu, started = cpu_seconds(), time.perf_counter()
        feeds = errors = 0
        # scheduled=False: every feed, every round, as the bench polls them all.
        for result in reader.update_feeds_iter(workers=workers, scheduled=False):
            feeds += 1
            errors += result.error is not None
        print(
            json.dumps(
                {
                    "seconds": time.perf_counter() - started,
                    "cpu": cpu_seconds() - cpu,
                    "feeds": feeds,
                    "errors": errors,
                }
            ),
            flush=True,
        )
    reader.close()


if __name__ == "__main__":
    main()
