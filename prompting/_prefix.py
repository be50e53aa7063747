"""Prompts that start with the same tokens share one forward pass over them.

In-context prompts repeat their demonstrations: a fixed demonstration set is followed by every query, and
contextual calibration scores the same demonstrations before each content-free input. Grouping prompts by a
common token prefix lets the LM run that prefix once, keep its key/value cache, and run only the different
endings of the group, batched on top of it. The scores are those of the whole prompts (float rounding aside).
"""

from __future__ import annotations

__all__ = ["MIN_PREFIX", "prefix_groups"]

MIN_PREFIX = 16  # tokens: a shorter common prefix is not worth a cached pass


def _common(a: list[int], b: list[int], limit: int) -> int:
    n = 0
    for x, y in zip(a[:limit], b[:limit]):
        if x != y:
            break
        n += 1
    return n


def prefix_groups(seqs: list[list[int]], min_prefix: int = MIN_PREFIX) -> list[tuple[int, list[int]]]:
    """Groups ``(prefix length, member indices)`` covering every sequence once.

    Sorted, sequences sharing a prefix are neighbours, and a run of neighbours shares the smallest common
    prefix of its adjacent pairs. A run is split at that weakest pair wherever its two halves save more
    tokens apart than together (a group of n with an L-token prefix saves (n - 1) L). Every member keeps at
    least its last token outside the prefix, whose logits are the ones read. Groups whose prefix is shorter
    than ``min_prefix`` tokens, singletons included, have prefix length 0: they run whole.
    """
    if not seqs:
        return []
    order = sorted(range(len(seqs)), key=lambda i: seqs[i])
    pairs = [_common(seqs[a], seqs[b], min(len(seqs[a]), len(seqs[b])) - 1) for a, b in zip(order, order[1:])]
    done: dict[tuple[int, int], tuple[list[tuple[int, list[int]]], int]] = {}
    stack = [(0, len(order) - 1, False)]
    while stack:  # bottom-up over the runs (no recursion: a call may hold thousands of prompts)
        lo, hi, ready = stack.pop()
        if lo == hi:
            done[lo, hi] = [(0, [order[lo]])], 0
            continue
        k = min(range(lo, hi), key=pairs.__getitem__)
        if not ready:
            stack += [(lo, hi, True), (lo, k, False), (k + 1, hi, False)]
            continue
        (left, saved_left), (right, saved_right) = done.pop((lo, k)), done.pop((k + 1, hi))
        length = pairs[k] if pairs[k] >= min_prefix else 0
        together = (hi - lo) * length
        if saved_left + saved_right > together or not length:
            done[lo, hi] = left + right, saved_left + saved_right
        else:
            done[lo, hi] = [(length, order[lo : hi + 1])], together
    return done[0, len(order) - 1][0]
