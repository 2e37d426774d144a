"""``actclr-train``: pretrain and evaluate skeleton encoders."""
from actclr.cli.lazy import lazy_cli

cli = lazy_cli("actclr-train", __name__, ["pretrain", "linear", "knn", "finetune", "ensemble", "segment", "actionlet", "report"],
               help="Pretrain ActCLR encoders and evaluate them.")
