"""The rt_notebook jupyter-server extension (never imports the widget side)."""
