"""A click group that imports each subcommand only when it is used (torch is slow to import)."""
from __future__ import annotations

import importlib

import click


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


def lazy_cli(package: str, names: list, help: str) -> click.Group:
    """A top-level command group whose command ``name`` lives in ``<package>.<name>:<name>``."""
    commands = {name: f"{package}.{name}:{name}" for name in names}
    group = click.group(cls=LazyGroup, commands=commands, help=help,
                        context_settings={"help_option_names": ["-h", "--help"]})(lambda: None)
    return click.version_option(package_name="actclr")(group)
