"""Vocabularies shared by the library and the command line (plain data: importable without torch).

Each list is spelled here once; the modules that act on the values (and the CLI's choice lists)
import it from here.
"""
from __future__ import annotations

#: Input streams derived from joint positions (:func:`actclr.augment.inputs.to_stream`).
STREAMS = ("joint", "motion", "bone")
#: ``--device`` / ``train.device`` (:func:`actclr.engine.dist.select_device`).
DEVICES = ("auto", "cpu", "cuda")
#: What a frozen encoder gives an evaluation: the 256-d pooled backbone feature or the projector output.
FEATURES = ("backbone", "embed")
#: Where a frozen encoder's feature map is pooled (paper Fig. 3): globally, over the actionlet, over the rest.
REGIONS = ("whole", "actionlet", "non_actionlet")
#: Actionlet smoothing over the skeleton (:func:`actclr.methods.actionlet.actionlet_mask`).
SMOOTHING = ("graph", "parts", "none")
#: How an actionlet map becomes a mask.
ACTIVATIONS = ("threshold", "gain_clip")
#: What the actionlet gradient weights pass through.
GRAD_ACTIVATIONS = ("relu", "none")
#: Frame label of background (no action) in ``videos.h5`` (PKU-MMD).
BACKGROUND = -1
