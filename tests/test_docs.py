"""What the README promises exists: every channel kind and command is documented."""

from channels import REGISTRY
from scheduler.settings import PROJECT_ROOT
from scripts.cli import cli

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_every_channel_kind_is_in_the_readme_and_the_example_config():
    example = (PROJECT_ROOT / "config" / "channels.toml").read_text(encoding="utf-8")
    for kind in REGISTRY:
        assert f"`{kind}`" in README and f'kind = "{kind}"' in example


def test_every_command_is_in_the_readme():
    for name in cli.commands:
        assert f"cchc {name}" in README, name


def test_the_two_setup_commands_are_in_the_readme_as_a_root_server_can_run_them():
    commands = [line.strip() for line in README.splitlines() if line.startswith("    scripts/")]
    assert commands[:2] == ["scripts/start.sh", "scripts/test.sh"]
    assert "sudo scripts/" not in README  # a root Debian server has no sudo: the scripts ask for it themselves
    assert (PROJECT_ROOT / ".ci" / "run").read_text().strip().endswith("exec scripts/test.sh")
