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


def test_the_code_map_names_every_module_in_its_room():
    code_map = README[README.index("## Code map"):]
    code_map = code_map[:code_map.index("\n## ")] if "\n## " in code_map else code_map
    missing = []
    for top in ("scheduler", "channels", "scripts"):
        for path in sorted((PROJECT_ROOT / top).rglob("*.py")):
            relative = path.relative_to(PROJECT_ROOT)
            if path.name == "__init__.py" or "migrations" in relative.parts or "commands" in relative.parts \
                    or "routes" in relative.parts:
                continue  # a package's face; migrations, commands and routes are named by their folder
            folder = "/".join(relative.parts[:-1])
            if f"`{folder}/`" not in code_map or f"`{path.name}`" not in code_map:
                missing.append(str(relative))
    assert missing == [], "modules the README's code map does not name"
