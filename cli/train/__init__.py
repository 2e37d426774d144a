"""``actclr-train``: pretrain and evaluate skeleton encoders."""
import click

from actclr.cli.lazy import LazyGroup

COMMANDS = {
    "pretrain": "actclr.cli.train.pretrain:pretrain",
    "linear": "actclr.cli.train.linear:linear",
    "knn": "actclr.cli.train.knn:knn",
    "finetune": "actclr.cli.train.finetune:finetune",
    "ensemble": "actclr.cli.train.ensemble:ensemble",
    "segment": "actclr.cli.train.segment:segment",
    "actionlet": "actclr.cli.train.actionlet:actionlet",
    "report": "actclr.cli.train.report:report",
}


@click.group(cls=LazyGroup, commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="actclr")
def cli() -> None:
    """Pretrain ActCLR encoders and evaluate them."""
