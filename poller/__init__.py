"""tubepoller: watch video channels and feeds for new uploads."""

__version__ = "0.1.0"
