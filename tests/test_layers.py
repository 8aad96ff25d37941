"""The layers: ``channels`` sits below ``scheduler`` and never reaches up into it.

A channel gets what it needs from the core (the token store, the clock, the remote-id callback)
through the small interfaces declared in ``channels``; so every channel module imports alone, in a
fresh interpreter, without loading any of ``scheduler``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHANNEL_MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for path in (ROOT / "channels").rglob("*.py")
)


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_channel_module_names_the_scheduler_even_in_a_late_import():
    reaching_up = {str(path.relative_to(ROOT)): sorted(n for n in _imported(path) if n.split(".")[0] == "scheduler")
                   for path in (ROOT / "channels").rglob("*.py")}
    assert {path: names for path, names in reaching_up.items() if names} == {}


def test_each_channel_module_imports_alone_without_the_scheduler():
    assert len(CHANNEL_MODULES) > 10 and "channels.loudspeaker.tts" in CHANNEL_MODULES
    script = (
        "import importlib, sys\n"
        "name = sys.argv[1]\n"
        "importlib.import_module(name)\n"
        "up = sorted(m for m in sys.modules if m == 'scheduler' or m.startswith('scheduler.'))\n"
        "print(name, up)\n"
        "sys.exit(1 if up else 0)\n"
    )
    failures = []
    for name in CHANNEL_MODULES:
        done = subprocess.run([sys.executable, "-c", script, name], check=False, cwd=ROOT,
                              capture_output=True, text=True)
        if done.returncode != 0:
            failures.append(f"{name}: {done.stdout.strip()} {done.stderr.strip()[-400:]}")
    assert failures == []


def test_the_scheduler_imports_alone_too():
    done = subprocess.run([sys.executable, "-c", "import scheduler.app, scheduler.outbox.dispatch, scheduler.config"],
                          check=False, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_registered_kind_says_its_category_and_its_name_for_staff():
    from channels import REGISTRY
    from channels.base import CATEGORIES

    for kind, cls in REGISTRY.items():
        assert cls.kind == kind and cls.category in CATEGORIES and cls.label.strip(), kind
    assert {cls.category for cls in REGISTRY.values()} == set(CATEGORIES)


def test_the_core_and_the_faces_never_branch_on_a_channel_kind_by_name():
    from channels import REGISTRY

    kinds = set(REGISTRY)
    found = []
    for path in [*(ROOT / "scheduler").rglob("*.py"), *(ROOT / "scripts").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            names_kind = any(isinstance(s, ast.Attribute) and s.attr == "kind" for s in sides)
            literals = {c.value for s in sides for c in ast.walk(s) if isinstance(c, ast.Constant)}
            if names_kind and literals & kinds:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_a_kind_is_imported_only_when_it_is_used():
    script = ("import sys\nfrom channels import REGISTRY\nREGISTRY['webhook']\n"
              "print(sorted(m for m in sys.modules if m.startswith('channels.')))\n")
    done = subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT, capture_output=True, text=True)
    loaded = set(ast.literal_eval(done.stdout.strip()))
    assert "channels.webhook" in loaded
    assert not loaded & {"channels.facebook", "channels.zalo", "channels.tiktok", "channels.wordpress",
                         "channels.loudspeaker", "channels.loudspeaker.tts"}


def test_the_command_line_loads_no_database_or_channel_library_until_a_command_runs():
    script = ("import sys\nfrom click.testing import CliRunner\nfrom scripts.cli import cli\n"
              "assert CliRunner().invoke(cli, ['--help']).exit_code == 0\n"
              "print(sorted(m for m in ('sqlalchemy', 'sqlmodel', 'alembic', 'requests', 'pydub', 'PIL',"
              " 'cryptography', 'pydantic') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT, capture_output=True, text=True)
    assert done.stdout.strip() == "[]"


def test_only_the_one_writer_sets_a_deliverys_state():
    """``scheduler/outbox/deliveries.py`` checks every change against the state machine; a state set anywhere
    else would skip that check."""
    found = []
    for path in [*(ROOT / "scheduler").rglob("*.py"), *(ROOT / "scripts").rglob("*.py")]:
        if path.name == "deliveries.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                if isinstance(node, ast.AugAssign | ast.AnnAssign) else []
            flat = [t for target in targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
            if any(isinstance(t, ast.Attribute) and t.attr == "state" for t in flat):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "values" \
                    and any(k.arg == "state" for k in node.keywords):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} (UPDATE)")
    assert found == []


FLOORS = ["record", "outbox", "plans", "loudspeaker", "web"]  # a room imports only the rooms below it
FACES = {"app", "service", "simulate", "web"}  # what composes the rooms (web, a face, sits on top of them all)


def _room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "scheduler" else None


def test_each_room_of_the_scheduler_imports_only_the_rooms_below_it():
    wrong = []
    for room in FLOORS:
        for path in (ROOT / "scheduler" / room).rglob("*.py"):
            for name in _imported(path):
                target = _room_of(name)
                if target in FLOORS and FLOORS.index(target) > FLOORS.index(room):
                    wrong.append(f"{path.relative_to(ROOT)} imports {name} (a room above it)")
                elif target in FACES and room != "web":
                    wrong.append(f"{path.relative_to(ROOT)} imports {name} (what composes the rooms)")
    assert wrong == []


def test_the_record_knows_nothing_of_items_posts_or_people_s_pages():
    higher = {"announcements", "queries", "notify", "samples", "labels", *FLOORS[1:], *FACES}
    found = [f"{path.relative_to(ROOT)}: {name}" for path in (ROOT / "scheduler" / "record").rglob("*.py")
             for name in _imported(path) if _room_of(name) in higher]
    assert found == []
