"""The click group of both console scripts: imports each subcommand only when it is used (torch is
slow to import) and turns every failure into one line on stderr (:mod:`actclr.cli.failures`)."""
from __future__ import annotations

import importlib
import sys

import click

from actclr.cli.failures import report


class LazyGroup(click.Group):
    """``commands`` maps a command name to ``"module:attribute"``."""

    def __init__(self, *args, commands: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._lazy = dict(commands or {})

    def list_commands(self, ctx: click.Context) -> list:
        return sorted(set(super().list_commands(ctx)) | set(self._lazy))

    def get_command(self, ctx: click.Context, name: str):
        if name in self._lazy:
            module, attr = self._lazy[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode: bool = True, **extra):
        """Run the command; in standalone mode (the console scripts) exit with one line on failure."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except Exception as err:  # every failure, foreseen or not, becomes one line
            sys.exit(report(err))
        sys.exit(code if isinstance(code, int) else 0)


def lazy_cli(program: str, package: str, names: list, help: str) -> click.Group:
    """The console script ``program``: a command group whose command ``name`` lives in
    ``<package>.<name>:<name>``."""
    commands = {name: f"{package}.{name}:{name}" for name in names}
    group = click.group(program, cls=LazyGroup, commands=commands, help=help,
                        context_settings={"help_option_names": ["-h", "--help"]})(lambda: None)
    return click.version_option(package_name="actclr")(group)
