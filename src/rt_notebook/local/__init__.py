"""The local realtime backend: a GA-protocol server that needs no API key."""
