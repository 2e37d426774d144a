"""``actclr-data``: generate, prepare, inspect and verify skeleton datasets."""
import click

from actclr.cli.lazy import LazyGroup

COMMANDS = {
    "synth": "actclr.cli.data.synth:synth",
    "prepare": "actclr.cli.data.prepare:prepare",
    "info": "actclr.cli.data.info:info",
    "verify": "actclr.cli.data.verify:verify",
    "show": "actclr.cli.data.show:show",
}


@click.group(cls=LazyGroup, commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="actclr")
def cli() -> None:
    """Turn raw NTU RGB+D / PKU-MMD skeletons into shareable, self-describing datasets."""
