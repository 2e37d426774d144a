"""``python -m actclr.cli.train`` (used by ``torchrun -m actclr.cli.train pretrain ...``)."""
from actclr.cli.train import cli

if __name__ == "__main__":
    cli(prog_name="actclr-train")
