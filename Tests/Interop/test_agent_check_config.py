"""`skein-agent check-config`: exit 0 and a summary for a valid configuration (the shipped example among them),
exit 1 with the error's line for an invalid one; the bare `skein-agent --config …` form still runs the agent.
No broker is needed: check-config never connects."""

from __future__ import annotations

import subprocess

from conftest import REPO
from test_agent import agent_path


def check_config(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(agent_path()), "check-config", *args], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, env=env)


def test_valid_configuration_exits_0_with_a_summary(tmp_path):
    config = tmp_path / "agent.toml"
    config.write_text('[agent]\nhost_name = "cc-host"\nname = "edge"\n\n'
                      '[sources.files.nginx]\npaths = ["/var/log/nginx/*.log"]\ntopic = "web"\n\n'
                      "[sources.files.nginx.multiline]\nstart_pattern = '^\\S'\n")
    res = check_config("--config", str(config))
    assert res.returncode == 0, res.stderr
    assert "transactional id skein-agent/cc-host/edge" in res.stdout
    assert "files.nginx → web: /var/log/nginx/*.log" in res.stdout
    assert "topics: metrics, web" in res.stdout
    assert res.stderr == ""


def test_the_shipped_example_is_valid():
    res = check_config("--config", str(REPO / "config" / "skein-agent.toml"), "--host-name", "example")
    assert res.returncode == 0, res.stderr
    assert "skein-agent/example/default" in res.stdout


def test_unknown_key_exits_1_naming_its_line(tmp_path):
    config = tmp_path / "agent.toml"
    config.write_text('[agent]\nhost_name = "x"\n\n[sources.files.nginx]\npaths = ["/a"]\npathz = ["/b"]\n')
    res = check_config("--config", str(config))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "line 6: unknown key 'pathz' in [sources.files.nginx]" in res.stderr
    assert res.stdout == ""


def test_toml_syntax_error_exits_1_naming_its_line(tmp_path):
    config = tmp_path / "agent.toml"
    config.write_text('[agent]\nclient_id = "a"\nhost_name = "unterminated\n')
    res = check_config("--config", str(config))
    assert res.returncode == 1
    assert "line 3: TOML syntax" in res.stderr


def test_invalid_flag_value_exits_1(tmp_path):
    config = tmp_path / "agent.toml"
    config.write_text("")
    res = check_config("--config", str(config), "--metrics-listen", "nowhere")
    assert res.returncode == 1
    assert "--metrics-listen" in res.stderr


def test_no_enabled_source_exits_1(tmp_path):
    config = tmp_path / "agent.toml"
    config.write_text("[sources.host_metrics]\nenabled = false\n")
    res = check_config("--config", str(config))
    assert res.returncode == 1
    assert "no source is enabled" in res.stderr


def test_bare_form_still_runs_the_agent(tmp_path):
    """`skein-agent --config FILE --once` (no subcommand) is the default `run`."""
    config = tmp_path / "agent.toml"
    config.write_text('[agent]\nhost_name = "bare-form"\n')
    res = subprocess.run([str(agent_path()), "--config", str(config), "--once"], capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    assert '"host":"bare-form"' in res.stdout
