"""Any subset of sources runs every command, on a new and on an existing warehouse.

Most businesses use two or three platforms. For each setup below, on a new warehouse:
`kpi sync --source S` (the first source only); with several sources, then a plain `kpi sync`
and `kpi sync --source` another one on the now existing warehouse; then `kpi report`,
`kpi catalog` and `kpi check`; the scorecard scores exactly the KPIs of the configured
sources, and none of another source.
"""

import pytest

from connectors.registry import platforms
from tests.subsets import every_command

SINGLE = [[name] for name in platforms()]  # every platform found


@pytest.mark.parametrize("sources", SINGLE, ids="+".join)
def test_a_subset_runs_every_command_on_a_new_then_existing_warehouse(
    sources, sandbox, tmp_path, monkeypatch, capsys
):
    every_command(sources, sandbox, tmp_path, monkeypatch, capsys)
