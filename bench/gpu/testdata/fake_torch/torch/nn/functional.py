import torch
from . import attention as _att


def _same(x, *a, **k):
    return torch.Tensor(x.shape, x.dtype)


gelu = silu = _same


def layer_norm(x, shape, w=None, b=None):
    assert tuple(shape) == x.shape[-1:] and w.shape == tuple(shape)
    return _same(x)


def rms_norm(x, shape, w=None):
    assert tuple(shape) == x.shape[-1:] and w.shape == tuple(shape)
    return _same(x)


def dropout(x, p=0.5, training=True):
    return _same(x)


def scaled_dot_product_attention(q, k, v, is_causal=False, enable_gqa=False):
    assert len(q.shape) == 4 and k.shape == v.shape and q.shape[-1] == k.shape[-1]
    if k.shape[1] != q.shape[1]:
        assert enable_gqa and q.shape[1] % k.shape[1] == 0, (q.shape, k.shape)
    if _att._current == "CUDNN_ATTENTION" and enable_gqa:
        raise RuntimeError("No available kernel. Aborting execution. (fake: cudnn without GQA)")
    r = torch.Tensor(q.shape, q.dtype)
    return r


def linear(x, w, b=None):
    assert x.shape[-1] == w.shape[1], ("linear", x.shape, w.shape)
    assert b is None or b.shape == (w.shape[0],)
    return torch.Tensor(x.shape[:-1] + (w.shape[0],), x.dtype)


def embedding(idx, w):
    return torch.Tensor(idx.shape + (w.shape[1],), w.dtype)


def cross_entropy(logits, target):
    assert len(logits.shape) == 2 and target.shape == logits.shape[:1], (logits.shape, target.shape)
    return torch.Tensor((), torch.float32)
