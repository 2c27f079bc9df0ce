"""torch.profiler as layer_step.py uses it: two made-up kernels."""
import contextlib
import enum


class ProfilerActivity(enum.Enum):
    CPU = 0
    CUDA = 1


class _Avg:
    def __init__(self, key, count, us):
        self.key, self.count, self.self_device_time_total = key, count, us


class _Prof:
    def key_averages(self):
        return [_Avg("aten::mm", 4, 0.0), _Avg("fake_gemm_kernel", 24, 120.0),
                _Avg("fake_flash_fwd_kernel", 4, 40.0)]


@contextlib.contextmanager
def profile(activities=None):
    assert ProfilerActivity.CUDA in activities
    yield _Prof()
