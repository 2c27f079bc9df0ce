"""A stand-in for the parts of PyTorch that bench/gpu/kernels.py calls, so its
control flow, shape arithmetic and CSV writing can be exercised on a machine
without torch or a GPU:

    PYTHONPATH=bench/gpu/testdata/fake_torch python3 bench/gpu/kernels.py --quick --out /tmp/x

Tensors carry only a shape; matmul, _scaled_mm and attention check that the
shapes agree as the real operators require.  Times are the host's.
FAKE_TORCH_FAIL_FP8=1 makes _scaled_mm raise (the fp8 error path)."""
import contextlib
import os
import time

__version__ = "0.0-fake"


class _Dtype:
    def __init__(self, name, size):
        self.name, self.itemsize = name, size

    def __repr__(self):
        return "torch." + self.name


bfloat16 = _Dtype("bfloat16", 2)
float16 = _Dtype("float16", 2)
float32 = _Dtype("float32", 4)
int32 = _Dtype("int32", 4)
float8_e4m3fn = _Dtype("float8_e4m3fn", 1)


class Tensor:
    def __init__(self, shape, dtype=float32, requires_grad=False):
        self.shape = tuple(int(s) for s in shape)
        self.dtype = dtype
        self.requires_grad = requires_grad

    def numel(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    def t(self):
        assert len(self.shape) == 2, self.shape
        return Tensor(self.shape[::-1], self.dtype)

    def to(self, dtype):
        return Tensor(self.shape, dtype)

    def view(self, *shape):
        n, known, free = self.numel(), 1, None
        for i, s in enumerate(shape):
            if s == -1:
                free = i
            else:
                known *= s
        shape = list(shape)
        if free is not None:
            assert n % known == 0, (self.shape, shape)
            shape[free] = n // known
        assert Tensor(shape).numel() == n, (self.shape, shape)
        return Tensor(shape, self.dtype)

    def zero_(self):
        return self

    def copy_(self, other):
        assert other.numel() == self.numel()
        return self

    # what bench/gpu/layer_step.py's layers use
    def requires_grad_(self):
        self.requires_grad = True
        return self

    def __mul__(self, other):
        assert not isinstance(other, Tensor) or other.shape == self.shape
        return Tensor(self.shape, self.dtype)

    def __add__(self, other):  # broadcasting: other's shape a suffix of ours
        assert self.shape[len(self.shape) - len(other.shape):] == other.shape, (
            "add", self.shape, other.shape)
        return Tensor(self.shape, self.dtype)

    # and what bench/gpu/model_step.py's whole model uses
    def float(self):
        return Tensor(self.shape, float32)

    def backward(self):
        assert self.shape == (), ("backward of a non-scalar", self.shape)

    reshape = view

    def permute(self, *dims):  # views keep requires_grad, as torch's do
        assert sorted(dims) == list(range(len(self.shape))), dims
        return Tensor([self.shape[i] for i in dims], self.dtype, self.requires_grad)

    def transpose(self, i, j):
        s = list(self.shape)
        s[i], s[j] = s[j], s[i]
        return Tensor(s, self.dtype)

    def unbind(self, dim=0):
        assert dim == 0
        return tuple(Tensor(self.shape[1:], self.dtype, self.requires_grad)
                     for _ in range(self.shape[0]))


def _shape(a):
    if len(a) == 1 and isinstance(a[0], (tuple, list)):
        return a[0]
    return a


def _dev(device):
    assert device in ("cuda", None), device


def randn(*shape, device=None, dtype=float32, requires_grad=False):
    _dev(device)
    return Tensor(_shape(shape), dtype, requires_grad)


def empty(*shape, device=None, dtype=float32):
    _dev(device)
    return Tensor(_shape(shape), dtype)


ones = zeros = empty


def empty_like(x):
    return Tensor(x.shape, x.dtype)


def tensor(v, device=None, dtype=float32):
    return Tensor((), dtype)


def manual_seed(n):
    pass


def randint(lo, hi, shape, device=None):
    _dev(device)
    assert 0 <= lo < hi
    return Tensor(shape, int32)


def arange(n, device=None):
    _dev(device)
    return Tensor((n,), int32)


@contextlib.contextmanager
def autocast(device_type, dtype=None, enabled=True):
    assert device_type == "cuda"
    yield


def matmul(a, b):
    assert a.shape[-1] == b.shape[0], ("matmul", a.shape, b.shape)
    assert a.dtype is b.dtype
    return Tensor(a.shape[:-1] + b.shape[1:], a.dtype)


def _scaled_mm(a, b, scale_a=None, scale_b=None, out_dtype=None, use_fast_accum=False):
    if os.environ.get("FAKE_TORCH_FAIL_FP8"):
        raise RuntimeError("fake: _scaled_mm is not supported")
    assert a.dtype is float8_e4m3fn and b.dtype is float8_e4m3fn
    assert a.shape[1] == b.shape[0], ("_scaled_mm", a.shape, b.shape)
    assert scale_a is not None and scale_b is not None and out_dtype is bfloat16
    return Tensor((a.shape[0], b.shape[1]), out_dtype)


def add(x, y):
    assert x.shape == y.shape
    return Tensor(x.shape, x.dtype)


mul = add


def softmax(x, dim=-1):
    return Tensor(x.shape, x.dtype)


class autograd:
    @staticmethod
    def grad(out, inputs, grad_out):
        assert out.shape == grad_out.shape
        assert all(i.requires_grad for i in inputs)
        return tuple(Tensor(i.shape, i.dtype) for i in inputs)


class version:
    cuda = "0.0-fake"


class _Props:
    name = "Fake GPU"
    major, minor = 9, 0
    multi_processor_count = 132
    total_memory = 150 << 30
    L2_cache_size = 50 << 20


class cuda:
    @staticmethod
    def is_available():
        return True

    @staticmethod
    def init():
        pass

    @staticmethod
    def get_device_properties(i):
        return _Props()

    @staticmethod
    def get_device_name(i):
        return _Props.name

    @staticmethod
    def synchronize():
        pass

    @staticmethod
    def empty_cache():
        pass

    @staticmethod
    def _sleep(cycles):
        assert isinstance(cycles, int) and cycles > 0

    class Event:
        def __init__(self, enable_timing=False):
            assert enable_timing
            self.t = None

        def record(self):
            self.t = time.perf_counter()

        def elapsed_time(self, end):
            assert self.t is not None and end.t is not None
            return (end.t - self.t) * 1e3 + 1e-3


class backends:
    class cudnn:
        @staticmethod
        def version():
            return 0

    class cuda:
        class matmul:
            allow_tf32 = False
            allow_bf16_reduced_precision_reduction = True

        @staticmethod
        def flash_sdp_enabled():
            return True

        @staticmethod
        def cudnn_sdp_enabled():
            return True


def _allow_reduced_math(enabled):
    assert enabled in (True, False)


backends.cuda.allow_fp16_bf16_reduction_math_sdp = staticmethod(_allow_reduced_math)


# submodules real torch makes attributes on import (last: they import torch)
from . import nn, optim  # noqa: E402,F401
