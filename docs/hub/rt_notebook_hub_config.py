# The rt_notebook Hub service's settings: where the key is, where usage is kept, and the
# class's policy. The path of this file is RT_NOTEBOOK_HUB_CONFIG in jupyterhub_config.py.
# The tests load this file and adjust paths and budgets for themselves.
import os

# The OpenAI key, readable by the service's user only (chmod 600), or a mounted Kubernetes
# secret. Re-read when it changes. Without a key the service uses the local backend.
c.HubService.api_key_file = os.environ.get(  # noqa: F821
    "RT_NOTEBOOK_KEY_FILE", "/srv/rt-notebook/openai-key"
)
# Usage survives restarts here; any SQLAlchemy URL works (postgresql://… in production).
c.HubService.db_url = os.environ.get(  # noqa: F821
    "RT_NOTEBOOK_DB_URL", "sqlite:////srv/rt-notebook/usage.sqlite"
)
# The address the service listens on: loopback on one machine; all interfaces in a pod.
c.HubService.ip = os.environ.get("RT_NOTEBOOK_HUB_LISTEN", "127.0.0.1")  # noqa: F821
c.HubService.backend = "auto"  # noqa: F821  ("local": rehearse with no key)

c.HubService.allowed_groups = ["students", "teachers"]  # noqa: F821  (and Hub admins)
c.HubService.admin_groups = ["teachers"]  # noqa: F821  (they see the usage page)
c.HubService.term_start = "2026-09-01"  # noqa: F821

c.HubService.policy = {  # noqa: F821
    "default": {
        "allowed_models": ["gpt-realtime-2.1-mini", "gpt-realtime-2.1"],
        "calls_per_minute": 4,
        "concurrent_calls": 1,
        "minutes_per_day": 30,
        "usd_per_day": 0.50,
        "usd_per_term": 5.00,
    },
    "groups": {
        "students": {
            "session_overrides": {
                "instructions": "You are a patient tutor for this class. Stay on the topic "
                "of the lesson and answer briefly."
            },
        },
        "teachers": {"concurrent_calls": 3, "usd_per_day": 5.00, "usd_per_term": None},
    },
    "users": {},
}
