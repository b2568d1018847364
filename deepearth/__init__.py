"""A self-supervised, multimodal, spatiotemporal model of Earth observations, as a notebook-first research environment

Modules:

- `deepearth.grid4d`: The multi-resolution space-time hash encoder (four 3D hash grids: xyz, xyt, yzt, xzt) in pure PyTorch, with the range normaliser it needs and the alternative position encoders: random Fourier features, lat/lon sinusoids and cyclic time."""

__version__ = "0.1.0"
