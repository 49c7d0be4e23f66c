"""The session in the kernel: core, browser (widget) and headless transports, tools, recordings."""
