def checkpoint(fn, *args, use_reentrant=None):
    assert use_reentrant is False  # the non-reentrant variant, as the script asks
    return fn(*args)
