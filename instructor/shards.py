"""``autograde --shard auto``: the slice K of N a scheduler gave this process.

A cluster starts the N graders itself and tells each its index through the environment:

- a Kubernetes Indexed Job sets ``JOB_COMPLETION_INDEX`` (0 to completions - 1) in every pod.
  It does not pass the count, so the Job's pod template sets ``JOB_COMPLETIONS`` to the same
  number as ``spec.completions`` (the instructors' page has the manifest);
- a Slurm job array (``sbatch --array=A-B[:S]``) sets ``SLURM_ARRAY_TASK_ID`` and
  ``SLURM_ARRAY_TASK_COUNT``, with ``SLURM_ARRAY_TASK_MIN`` (arrays often start at 1) and
  ``SLURM_ARRAY_TASK_STEP``.

Both become the 1-based pair ``(K, N)`` that ``--shard K/N`` takes, so a task started by the
scheduler grades exactly the students the same K/N would.
"""
import os
from collections.abc import Mapping

KUBERNETES = ("JOB_COMPLETION_INDEX", "JOB_COMPLETIONS")
SLURM = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT")


class ShardError(ValueError):
    """The environment does not say which slice this process grades."""


def scheduler_shard(env: Mapping[str, str] = os.environ) -> tuple[int, int]:
    """``(K, N)``, 1-based, from a Kubernetes Indexed Job's or a Slurm job array's variables."""
    kubernetes, slurm = KUBERNETES[0] in env, SLURM[0] in env
    if kubernetes and slurm:
        raise ShardError(f"--shard auto: both {KUBERNETES[0]} (Kubernetes) and {SLURM[0]} (Slurm) are set; "
                         "unset the one that does not belong to this job, or give --shard K/N")
    if kubernetes:
        index = _integer(env, KUBERNETES[0])
        if KUBERNETES[1] not in env:
            raise ShardError(f"--shard auto: {KUBERNETES[0]}={index} is set but {KUBERNETES[1]} is not; Kubernetes "
                             f"does not tell a pod the Job's completions, so set {KUBERNETES[1]} in the pod template "
                             "to the same number as spec.completions")
        count = _integer(env, KUBERNETES[1])
        return _pair(index, count, f"{KUBERNETES[0]}={index} with {KUBERNETES[1]}={count}",
                     f"{KUBERNETES[1]} must equal the Job's spec.completions")
    if slurm:
        task = _integer(env, SLURM[0])
        if SLURM[1] not in env:
            raise ShardError(f"--shard auto: {SLURM[0]}={task} is set but {SLURM[1]} is not "
                             "(Slurm sets it from version 18.08 on); give --shard K/N instead")
        count = _integer(env, SLURM[1])
        first = _integer(env, "SLURM_ARRAY_TASK_MIN") if "SLURM_ARRAY_TASK_MIN" in env else 0
        step = _integer(env, "SLURM_ARRAY_TASK_STEP") if "SLURM_ARRAY_TASK_STEP" in env else 1
        index, off_step = divmod(task - first, max(step, 1))
        where = f"{SLURM[0]}={task} in an array from {first} in steps of {step} with {SLURM[1]}={count}"
        if off_step:
            raise ShardError(f"--shard auto: {where} is not on the array's steps; submit a range such as "
                             "sbatch --array=0-3 or --array=1-4")
        return _pair(index, count, where, "an array of listed indices (sbatch --array=1,5,9) is not supported: "
                                          "submit a range such as --array=0-3 or --array=1-4")
    raise ShardError("--shard auto: no scheduler's index found: expected a Kubernetes Indexed Job "
                     f"({KUBERNETES[0]} and {KUBERNETES[1]}) or a Slurm job array ({SLURM[0]} and {SLURM[1]}); "
                     "outside them give --shard K/N")


def _integer(env: Mapping[str, str], name: str) -> int:
    try:
        return int(env[name])
    except ValueError:
        raise ShardError(f"--shard auto: {name} must be an integer, got {env[name]!r}") from None


def _pair(index: int, count: int, where: str, hint: str) -> tuple[int, int]:
    """The 0-based ``index`` of ``count`` tasks as ``(K, N)``; a task outside the count is an error."""
    if count < 1 or not 0 <= index < count:
        raise ShardError(f"--shard auto: {where} is not one of {max(count, 0)} tasks; {hint}")
    return index + 1, count
