"""Losses of the pretraining methods."""
from actclr.methods.losses.infonce import contrastive_logits, ddm_loss, infonce_loss, multi_positive_infonce
from actclr.methods.losses.similarity_mining import similarity_mining_loss

__all__ = ["contrastive_logits", "ddm_loss", "infonce_loss", "multi_positive_infonce",
           "similarity_mining_loss"]
