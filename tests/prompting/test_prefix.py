"""Grouping prompts by a shared token prefix: every prompt once, a token saved, the last token never shared."""

from __future__ import annotations

from prompting._prefix import prefix_groups


def test_prompts_with_one_demonstration_block_form_one_group():
    demos = list(range(100, 140))
    seqs = [demos + [1, 2], demos + [3], demos + [4, 5, 6], [7, 8, 9], demos[:10] + [1]]
    groups = prefix_groups(seqs, min_prefix=16)
    assert sorted(i for _, members in groups for i in members) == list(range(len(seqs)))
    shared = [(length, sorted(members)) for length, members in groups if length]
    assert shared == [(40, [0, 1, 2])]


def test_the_last_token_of_every_member_stays_outside_the_prefix():
    seqs = [list(range(30)), list(range(30)) + [99], list(range(30))]
    for length, members in prefix_groups(seqs, min_prefix=8):
        assert all(length <= len(seqs[i]) - 1 for i in members)


def test_short_common_prefixes_and_singletons_run_whole():
    seqs = [[1, 2, 3, 4, 5], [1, 2, 3, 9, 9], [7] * 50]
    assert all(length == 0 for length, _ in prefix_groups(seqs, min_prefix=16))


def test_a_neighbour_joins_only_when_that_saves_tokens():
    head = list(range(200, 260))  # 60 shared tokens among the first three
    seqs = [head + [1], head + [2], head + [3], head[:20] + [4]]
    groups = {tuple(sorted(m)): length for length, m in prefix_groups(seqs, min_prefix=16)}
    # sharing only 20 tokens with the fourth would cost the three 40 tokens each: it runs alone
    assert groups[(0, 1, 2)] == 60 and groups[(3,)] == 0
