"""torch.nn.utils as model_step.py uses it."""
import torch


def clip_grad_norm_(params, max_norm, foreach=None):
    assert max_norm > 0
    return torch.Tensor((), torch.float32)
