"""A self-supervised, multimodal, spatiotemporal model of Earth observations, as a notebook-first research environment

Modules:

- `deepearth.bench`: `deepearth bench`: every hot path timed beside its reference in the same run, with throughput, peak memory and the target it is meant to meet.
- `deepearth.grid4d`: The multi-resolution space-time hash encoder (four 3D hash grids: xyz, xyt, yzt, xzt) in pure PyTorch, with the range normaliser it needs and the alternative position encoders: random Fourier features, lat/lon sinusoids and cyclic time.
- `deepearth.preprocess`: Training-split statistics, vocabularies with explicit missing and unknown ids, whole-table tensors, and vectorised masking."""

__version__ = "0.1.0"
