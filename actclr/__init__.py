"""actclr: self-supervised skeleton-based action recognition with ActCLR."""

__version__ = "0.1.0"
