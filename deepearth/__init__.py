"""A self-supervised, multimodal, spatiotemporal model of Earth observations, as a notebook-first research environment

Modules:

- `deepearth.preprocess`: Training-split statistics, vocabularies with explicit missing and unknown ids, whole-table tensors, and vectorised masking."""

__version__ = "0.1.0"
