"""The embedded demo: trainer, broker, detector and a drifted replay on one machine."""
