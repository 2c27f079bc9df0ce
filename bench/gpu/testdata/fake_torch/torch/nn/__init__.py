from . import functional, attention, utils  # noqa: F401
