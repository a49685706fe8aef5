"""Setups of several sources (see test_subsets.py and tests/subsets.py): a file of their own, so
that the two test workers (`--dist loadfile`) share the subsets between them."""

import pytest

from tests.subsets import COMBINED, every_command


@pytest.mark.parametrize("sources", COMBINED, ids="+".join)
def test_a_subset_runs_every_command_on_a_new_then_existing_warehouse(
    sources, sandbox, tmp_path, monkeypatch, capsys
):
    every_command(sources, sandbox, tmp_path, monkeypatch, capsys)
