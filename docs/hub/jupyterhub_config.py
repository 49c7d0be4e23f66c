# rt_notebook for a class on JupyterHub: the key-holding service, the roles it needs, and
# users' servers pointed at it. Drop this file into The Littlest JupyterHub's
# /opt/tljh/config/jupyterhub_config.d/ (or load_subconfig it from your jupyterhub_config.py);
# on Zero to JupyterHub it is hub.extraConfig (see z2jh-values.yaml). The tests use this file.
import os
import sys

RT_SERVICE = "rt-notebook"
RT_PORT = int(os.environ.get("RT_NOTEBOOK_HUB_PORT", "10101"))
# Where users' servers reach the service: the Hub's machine (TLJH), or the hub pod's Kubernetes
# service name "hub" (Zero to JupyterHub).
RT_HOST = os.environ.get("RT_NOTEBOOK_HUB_HOST", "127.0.0.1")
# The service's own settings (key file, database, policy): see rt_notebook_hub_config.py.
RT_CONFIG = os.environ.get("RT_NOTEBOOK_HUB_CONFIG", "/srv/rt-notebook/rt_notebook_hub_config.py")
RT_URL = f"http://{RT_HOST}:{RT_PORT}"
# Settings the service's config file reads from its environment (JupyterHub passes a managed
# service only what it is given here).
RT_ENV = ("RT_NOTEBOOK_KEY_FILE", "RT_NOTEBOOK_DB_URL", "RT_NOTEBOOK_HUB_LISTEN")

# The service: JupyterHub starts it, gives it a Hub token and restarts it if it exits. Only
# this process reads the OpenAI key (a file named in RT_CONFIG, e.g. a Kubernetes secret).
c.JupyterHub.services.append(  # noqa: F821 (c is the config JupyterHub passes in)
    {
        "name": RT_SERVICE,
        "url": RT_URL,
        "command": [sys.executable, "-m", "rt_notebook.hub", f"--config={RT_CONFIG}"],
        "environment": {name: os.environ[name] for name in RT_ENV if name in os.environ},
        "oauth_no_confirm": True,  # the teacher's page logs in without a consent screen
        "display": True,
    }
)

c.JupyterHub.load_roles.extend(  # noqa: F821
    [
        # Every user may reach the service; its policy (allowed_groups) decides the rest.
        {"name": "user", "scopes": ["self", f"access:services!service={RT_SERVICE}"]},
        # The service looks up a user's groups and admin flag.
        {
            "name": "rt-notebook-service",
            "scopes": ["read:users", "read:groups"],
            "services": [RT_SERVICE],
        },
    ]
)

# Users' servers call the service with their own Hub token, which must carry this scope
# (and may read its own user's groups, which saves the service a lookup per user).
c.Spawner.server_token_scopes = [  # noqa: F821
    "users:activity!user",
    "access:servers!server",
    f"access:services!service={RT_SERVICE}",
    "read:users!user",
]
c.Spawner.environment.update(  # noqa: F821
    {"RT_NOTEBOOK_HUB_SERVICE_URL": f"{RT_URL}/services/{RT_SERVICE}/"}
)
c.Spawner.args.append("--RealtimeExtension.backend=hub")  # noqa: F821
