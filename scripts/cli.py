"""``cchc``: the command line over the core. Each command parses, builds the ``App``, calls one
core function, and turns domain errors into a one-line message and an exit code (2 for bad input,
1 for a refused action). The commands live in ``scripts/commands/`` by area; nothing heavy is
imported until a command runs (``cchc --help`` loads no database or channel library).
"""

from __future__ import annotations

import sys

import click

from scripts.commands import activities, announcements, channels, loudspeaker, reports, running, setup
from scripts.commands.common import CchcGroup


@click.group(cls=CchcGroup)
@click.version_option(package_name="cchc-broadcast")
def cli() -> None:
    """cchc: lên lịch và phát thông tin cải cách hành chính (CCHC) trên mọi kênh."""


for _module in (setup, announcements, activities, running, loudspeaker, channels, reports):
    for _command in _module.cli.items:
        cli.add_command(_command)


def main() -> None:
    cli(prog_name="cchc")


if __name__ == "__main__":
    sys.exit(main())
