"""The end of a distributed run: its process group released in time."""
import atexit
import gc

import torch

_registered = False


def release_process_group() -> None:
    """Destroy the default process group, if any, and join its gloo worker
    threads before the interpreter exits.

    MMEngine never destroys the group. Left to interpreter exit, a gloo
    worker thread still freeing the last collective's tensors takes the GIL
    during finalisation, and its forced exit aborts the process ("terminate
    called without an active exception", exit code -6, after the run had
    printed its metrics: about one CPU ``dist_test.sh`` run in eight).

    ``destroy_process_group`` alone does not end the workers: the runner's
    DDP wrapper, in reference cycles, keeps the group alive through its C++
    reducer, so the cycles are collected here. Our own reference to the
    group is held across the collection so that it, not the reducer, is
    the last: the reducer would destroy the group holding the GIL, and
    the group's destructor joins workers that may need the GIL (a deadlock,
    seen), while the Python group object releases the GIL as it goes.
    """
    if not (torch.distributed.is_available()
            and torch.distributed.is_initialized()):
        return
    group = torch.distributed.group.WORLD
    torch.distributed.destroy_process_group()
    gc.collect()
    del group  # the last reference: joins the workers, GIL released


def release_process_group_at_exit() -> bool:
    """Run :func:`release_process_group` when the interpreter exits.

    ``atexit`` functions run while the interpreter is still whole, before
    the finalisation in which a gloo worker's GIL request aborts the
    process, so every entry point that imports the plugin is covered: our
    ``tools/train.py`` and ``tools/test.py`` (which also release the group
    as MMPose's tool returns), ``mim train mmpose ... --launcher pytorch``
    and MMPose's own tools with the plugin in ``custom_imports``. Without
    a process group at exit it does nothing.

    Returns:
        bool: Whether the function was registered now (False: already).
    """
    global _registered
    if _registered:
        return False
    atexit.register(release_process_group)
    _registered = True
    return True
