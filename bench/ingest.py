"""Land a Mailchimp audience into DuckDB one of three ways, in this process alone (for its peak
memory): `ingest.py WAY BASE_URL FOLDER`, printing {"rows": n, "seconds": s}.

- ours:  the members stream through the connector (the official SDK) and the loader: typed Arrow
         pages staged, then one transaction replacing the range;
- floor: the same pages fetched with requests and JSON-decoded, then bulk-inserted into DuckDB
         from Arrow with no other logic;
- dlt:   dlt's REST API source into its DuckDB destination, the same endpoint and page size.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

from connectors.sandbox import CREDENTIALS
from connectors.sandbox.world import LIST_ID

KEY = CREDENTIALS["mailchimp"]["api_key"]
FIELDS = "members.id,members.status,members.timestamp_opt,members.last_changed,total_items"
PAGE = 1000
AS_OF = dt.date(2026, 11, 15)


def ours(base_url: str, folder: Path) -> int:
    from connectors.mailchimp.connector import STREAMS, MailchimpClient
    from connectors.streams import StreamContext, Window
    from kpi_pipeline.warehouse.database import Warehouse
    from kpi_pipeline.warehouse.loading import load_stream

    client = MailchimpClient(KEY, base_url)
    result = load_stream(
        STREAMS["members"],
        client,
        Window(AS_OF, AS_OF),
        StreamContext("Europe/Brussels", AS_OF, AS_OF),
        Warehouse(folder / "ours.duckdb", "bench"),
    )
    return result.rows


def floor(base_url: str, folder: Path) -> int:
    import duckdb
    import pyarrow as pa
    import requests

    session = requests.Session()
    con = duckdb.connect(str(folder / "floor.duckdb"))
    con.execute(
        "create table members (id varchar, status varchar, timestamp_opt varchar, "
        "last_changed varchar)"
    )
    offset, rows = 0, 0
    while True:
        reply = session.get(
            f"{base_url}/lists/{LIST_ID}/members",
            auth=("anystring", KEY),
            timeout=60,
            params={"count": PAGE, "offset": offset, "status": "subscribed", "fields": FIELDS},
        )
        reply.raise_for_status()
        doc = reply.json()
        page = doc["members"]
        if page:
            batch = pa.Table.from_pylist(page)
            con.register("batch", batch)
            con.execute("insert into members by name select * from batch")
            con.unregister("batch")
        rows += len(page)
        offset += PAGE
        if not page or offset >= doc["total_items"]:
            break
    con.close()
    return rows


def with_dlt(base_url: str, folder: Path) -> int:
    import dlt
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source(
        {
            "client": {
                "base_url": base_url + "/",
                "auth": {"type": "http_basic", "username": "anystring", "password": KEY},
            },
            "resources": [
                {
                    "name": "members",
                    "endpoint": {
                        "path": f"lists/{LIST_ID}/members",
                        "params": {"status": "subscribed", "fields": FIELDS},
                        "data_selector": "members",
                        "paginator": {
                            "type": "offset",
                            "limit": PAGE,
                            "offset_param": "offset",
                            "limit_param": "count",
                            "total_path": "total_items",
                        },
                    },
                }
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="bench_members",
        destination=dlt.destinations.duckdb(str(folder / "dlt.duckdb")),
        dataset_name="raw",
        pipelines_dir=str(folder / "dlt_pipelines"),
    )
    info = pipeline.run(source)
    info.raise_on_failed_jobs()
    with pipeline.sql_client() as client:
        return int(client.execute_sql("select count(*) from members")[0][0])


WAYS = {"ours": ours, "floor": floor, "dlt": with_dlt}


def main() -> None:
    way, base_url, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows = WAYS[way](base_url, folder)
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
