"""``python -m actclr.cli.data`` (the same commands as ``actclr-data``)."""
from actclr.cli.data import cli

if __name__ == "__main__":
    cli(prog_name="actclr-data")
