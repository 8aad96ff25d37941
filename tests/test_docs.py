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


def test_the_two_setup_commands_are_in_the_readme():
    assert "sudo scripts/start.sh" in README and "sudo scripts/test.sh" in README
