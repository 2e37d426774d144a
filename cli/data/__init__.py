"""``actclr-data``: generate, prepare, inspect and verify skeleton datasets."""
from actclr.cli.lazy import lazy_cli

cli = lazy_cli("actclr-data", __name__, ["synth", "prepare", "info", "verify", "show", "pull", "publish"],
               help="Turn raw NTU RGB+D / PKU-MMD skeletons into shareable, self-describing datasets.")
