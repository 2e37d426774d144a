"""Click commands, installed as ``actclr.cli``."""
