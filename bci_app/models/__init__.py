"""ATCNet, LoRA adapters and safe (safetensors + JSON) model files.

``ATCNet`` follows Altaheri et al. 2022 with the LoRA guide's module names (``dense{i}``, ``msa{i}``);
:mod:`bci_app.models.lora` adds, merges, saves and loads adapters; :mod:`bci_app.models.io` saves
and loads base models.
"""

from bci_app.models.atcnet import ATCNet, count_parameters
from bci_app.models.io import load_model, model_hash, save_model
from bci_app.models.lora import linear_module_names

__all__ = ["ATCNet", "count_parameters", "linear_module_names", "load_model", "model_hash", "save_model"]
