"""The guide's configurations are the ones the tests run: the Zero to JupyterHub values hold
the same files verbatim, and the service's settings load."""

from __future__ import annotations

import pytest
import yaml

from tests.hub.harness import DOCS


def test_the_helm_values_embed_the_tested_configs_verbatim() -> None:
    values = yaml.safe_load((DOCS / "z2jh-values.yaml").read_text())
    hub = values["hub"]
    assert hub["extraConfig"]["rt-notebook"] == (DOCS / "jupyterhub_config.py").read_text()
    service_config = hub["extraFiles"]["rt-notebook-config"]
    assert service_config["stringData"] == (DOCS / "rt_notebook_hub_config.py").read_text()
    assert service_config["mountPath"] == hub["extraEnv"]["RT_NOTEBOOK_HUB_CONFIG"]
    mounted = hub["extraVolumeMounts"][0]["mountPath"]
    assert hub["extraEnv"]["RT_NOTEBOOK_KEY_FILE"].startswith(mounted + "/")


def test_the_service_config_loads() -> None:
    pytest.importorskip("jupyterhub", reason="scripts/setup installs jupyterhub")
    from rt_notebook.hub.service import HubService

    service = HubService()
    service.load_config_file(str(DOCS / "rt_notebook_hub_config.py"))
    assert service.allowed_groups == ["students", "teachers"]
    assert service.policy["groups"]["students"]["session_overrides"]["instructions"]
    assert service.api_key_file == "/srv/rt-notebook/openai-key"
