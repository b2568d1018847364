"""A self-supervised, multimodal, spatiotemporal model of Earth observations, as a notebook-first research environment"""

__version__ = "0.1.0"
