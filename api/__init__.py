"""tubepoller's HTTP API: Falcon resources over `poller`, built by `api.app.create_app`."""
