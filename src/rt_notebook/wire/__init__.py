"""The wire protocol and signaling: events, session config, SDP, HTTP API, sideband, audio."""
