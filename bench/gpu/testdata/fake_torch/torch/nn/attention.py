import contextlib
import enum

_current = None


class SDPBackend(enum.Enum):
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3


@contextlib.contextmanager
def sdpa_kernel(backend):
    global _current
    old, _current = _current, backend.name
    try:
        yield
    finally:
        _current = old
