"""``actclr-train``: pretrain and evaluate skeleton encoders."""
from actclr.cli.lazy import lazy_cli

COMMANDS = ["pretrain", "linear", "knn", "finetune", "ensemble", "segment", "actionlet", "report", "sweep"]
cli = lazy_cli("actclr-train", __name__, COMMANDS, help="Pretrain ActCLR encoders and evaluate them.")
