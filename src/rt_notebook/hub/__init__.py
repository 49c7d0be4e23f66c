"""The JupyterHub service that gives a class voice sessions on one key the students never see.

Run by JupyterHub as a managed service: ``python -m rt_notebook.hub --config=FILE``. See
``docs/deploying-for-a-class.md``.
"""
