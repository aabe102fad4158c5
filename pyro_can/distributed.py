"""Data-parallel training on torch.distributed, for runs launched with ``torchrun``.

Every process (rank) holds the same networks; each step, every rank computes the ELBO on its own
share of the minibatch and ``DistributedDataParallel`` averages the gradients, so all ranks take
the same optimizer step. The global minibatch stays ``--batch-size`` (each of W ranks takes
``ceil(batch / W)`` items), which keeps the optimization the one a single process runs. Items are
dealt to ranks by ``DistributedSampler`` (reshuffled every epoch from ``--seed``). Rank 0 alone
evaluates and writes the run folder; the others only train.

``torchrun`` sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous variables; the CLI calls
:func:`init_from_env` when it sees them. Backend: NCCL when the run's device is CUDA, gloo on CPU.
"""
from __future__ import annotations

import contextlib
import math
import os

import torch
import torch.distributed as dist


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: str = "auto") -> None:
    """Join the process group torchrun set up; on CUDA, pin this rank to its local GPU."""
    if dist.is_initialized():
        return
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")


@contextlib.contextmanager
def process_group(device: str = "auto"):
    """Join torchrun's process group for the block, and leave it cleanly.

    Ranks finish at different times: rank 0 evaluates and writes the run folder after the last
    step while the others are done. A rank whose interpreter exits with the group still up can
    abort in gloo's teardown ("terminate called without an active exception", exit -6), which
    torchrun reports as a failed run. So on success every rank waits for the others, then the
    group is destroyed; on an error it is destroyed at once (torchrun stops the other ranks)."""
    init_from_env(device)
    try:
        yield
        barrier()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (from torchrun's RANK before the group is joined)."""
    if active():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0")) if launched_by_torchrun() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if active():
        dist.barrier()


@contextlib.contextmanager
def main_first():
    """Rank 0 runs the block first (e.g. building a feature cache), then the others."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def local_batch_size(batch_size: int) -> int:
    return math.ceil(batch_size / world_size())


def from_main(t: torch.Tensor) -> torch.Tensor:
    """Rank 0's ``t`` on every rank (``t`` itself in one process): for a value each rank computes
    but all must share, like the hand-over's scores (batch-norm statistics differ per rank)."""
    if active():
        t = t.clone()
        dist.broadcast(t, src=0)
    return t


def sum_all(t: torch.Tensor) -> torch.Tensor:
    """Sum of ``t`` over ranks (``t`` itself in one process)."""
    if active():
        t = t.clone()
        dist.all_reduce(t)
    return t


def epoch_order(num_items: int, epoch: int, seed: int, device) -> torch.Tensor:
    """This rank's items for one epoch, shuffled as ``DistributedSampler`` deals them."""
    sampler = torch.utils.data.DistributedSampler(range(num_items), num_replicas=world_size(),
                                                  rank=rank(), shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return torch.as_tensor(list(sampler), device=device)


def wrap(module: torch.nn.Module) -> torch.nn.Module:
    """The module under DistributedDataParallel when several ranks train, else itself.

    During the pure warm-up only the classifier has a gradient (the objective skips the ELBO),
    so DDP is told to look for unused parameters."""
    if not active():
        return module
    return torch.nn.parallel.DistributedDataParallel(module, find_unused_parameters=True)
