"""The trimodal model: configs and presets, encoders, the CLIP-style loss, the model itself."""
from core.model.config import ModelConfig, get_preset, list_presets

__all__ = ["ModelConfig", "get_preset", "list_presets"]
