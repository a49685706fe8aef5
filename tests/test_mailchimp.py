"""Mailchimp through the official SDK: error bodies, timeouts, the data-center gotcha,
history limits."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from connectors.errors import AuthenticationError, ConfigurationError, RetriableError
from connectors.mailchimp.connector import STREAMS, MailchimpClient
from connectors.sandbox import CREDENTIALS, Sandbox
from connectors.streams import StreamContext, Window
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.loading import load_stream
from tests.conftest import AS_OF

KEY = CREDENTIALS["mailchimp"]["api_key"]


def test_problem_json_error_is_parsed_with_title_detail_and_request_id(sandbox, fast_policy):
    client = MailchimpClient("wrongkey1234-us6", sandbox.urls["mailchimp"], policy=fast_policy)
    with pytest.raises(AuthenticationError) as info:
        client.list_ids("lists")
    text = str(info.value)
    assert "API Key Invalid" in text and "wrong datacenter" in text
    assert info.value.request_id and info.value.request_id in text
    assert "sources.mailchimp.api_key" in text and "wrongkey1234" not in text


def test_a_key_without_data_center_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="data-center suffix"):
        MailchimpClient("nodatacenter", "http://127.0.0.1:1/3.0")


def test_a_slow_response_times_out_instead_of_waiting_120s(sandbox, fast_policy):
    # the first answer never comes (it hangs until released: no race with the clock), so the short
    # timeout fires however fast the machine is; the retry has a generous one, so a busy machine
    # cannot make it time out too
    hanging = sandbox.mailchimp.server.inject(r"/lists$", hang=True, times=1)
    client = MailchimpClient(KEY, sandbox.urls["mailchimp"], timeout=0.5, policy=fast_policy)

    def wait(seconds: float) -> None:
        fast_policy.waits.append(seconds)
        client.sdk.api_client.timeout = 60

    fast_policy.sleep = wait
    assert client.list_ids("lists") == ["a1b2c3d4e5"]
    assert client.stats.retries == 1
    hanging.release.set()


def test_timeouts_that_persist_give_up_with_a_retriable_error(sandbox, fast_policy):
    sandbox.mailchimp.server.inject(r"/lists$", hang=True, times=10)
    client = MailchimpClient(KEY, sandbox.urls["mailchimp"], timeout=0.3, policy=fast_policy)
    with pytest.raises(RetriableError, match="gave up after 4"):
        client.list_ids("lists")


def test_a_base_url_containing_server_is_not_mangled(sandbox, fast_policy):
    # the SDK replaces every "server" in the URL with the data center; not with our base_url
    url = (
        sandbox.urls["mailchimp"].replace("127.0.0.1", "localhost").replace("/3.0", "/3.0?x=server")
    )
    client = MailchimpClient(KEY, url.split("?")[0], policy=fast_policy)
    assert client.sdk.api_client.server == ""
    assert client.list_ids("lists") == ["a1b2c3d4e5"]


def test_counts_each_http_request_paging_included(sandbox, fast_policy):
    client = MailchimpClient(KEY, sandbox.urls["mailchimp"], policy=fast_policy)
    pages = list(
        client.paged(
            "members",
            "/lists/a1b2c3d4e5/members",
            client.sdk.lists.get_list_members_info,
            "members",
            page_size=1000,
            list_id="a1b2c3d4e5",
            status="subscribed",
            fields=["members.id", "total_items"],
        )
    )
    total = sum(len(p) for p in pages)
    assert total > 1000 and client.stats.requests == len(pages) == -(-total // 1000)


def test_late_night_utc_campaigns_count_on_the_next_local_day(sandbox, fast_policy):
    brussels = ZoneInfo("Europe/Brussels")
    recent = [
        c
        for c in sandbox.world.campaigns_sent()
        if c.send_time.astimezone(brussels).date() >= AS_OF - dt.timedelta(days=59)
    ]
    crossing = [c for c in recent if c.send_time.astimezone(brussels).date() != c.send_time.date()]
    assert crossing, "the sandbox world should send some campaigns just before midnight UTC"
    wh = Warehouse(":memory:", "t")
    ctx = StreamContext("Europe/Brussels", AS_OF, AS_OF)
    load_stream(
        STREAMS["campaign_reports"],
        MailchimpClient(KEY, sandbox.urls["mailchimp"], policy=fast_policy),
        Window(AS_OF - dt.timedelta(days=59), AS_OF),
        ctx,
        wh,
    )
    for c in recent:
        (send_date,) = wh.query(
            "select send_date from raw.mailchimp__campaign_reports where campaign_id = ?",
            [c.campaign_id],
        )[0]
        assert send_date == c.send_time.astimezone(brussels).date()
    assert any(
        c.send_time.date() + dt.timedelta(days=1) == c.send_time.astimezone(brussels).date()
        for c in crossing
    )


def test_activity_older_than_180_days_is_reported_and_existing_rows_kept(sandbox, fast_policy):
    wh = Warehouse(":memory:", "t")
    spec = STREAMS["list_activity"]
    client = MailchimpClient(KEY, sandbox.urls["mailchimp"], policy=fast_policy)
    ctx = StreamContext("Europe/Brussels", AS_OF, AS_OF)
    load_stream(spec, client, Window(AS_OF - dt.timedelta(days=100), AS_OF), ctx, wh)
    old = Window(AS_OF - dt.timedelta(days=400), AS_OF - dt.timedelta(days=90))
    ctx2 = StreamContext("Europe/Brussels", AS_OF, AS_OF)
    result = load_stream(spec, client, old, ctx2, wh)
    assert result.window == Window(AS_OF - dt.timedelta(days=179), AS_OF - dt.timedelta(days=90))
    assert any("previous 180 days only" in w for w in result.warnings)
    count = wh.query("select count(*) from raw.mailchimp__list_activity")[0][0]
    assert (
        count == 180
    )  # 100+1 days first, then days -179..-90 replaced/added; nothing invented before


def test_point_in_time_streams_refuse_a_past_as_of(sandbox, fast_policy):
    wh = Warehouse(":memory:", "t")
    ctx = StreamContext("Europe/Brussels", AS_OF, None)  # "now" is not the end of as-of
    result = load_stream(
        STREAMS["lists"],
        MailchimpClient(KEY, sandbox.urls["mailchimp"], policy=fast_policy),
        Window(AS_OF - dt.timedelta(days=3), AS_OF),
        ctx,
        wh,
    )
    assert result.rows == 0 and result.window is None
    assert "only reports this as of now" in result.warnings[0]


def test_lookback_refetch_picks_up_opens_that_arrived_after_the_first_sync(fast_policy):
    later = AS_OF + dt.timedelta(days=10)
    spec = STREAMS["campaign_reports"]
    wh = Warehouse(":memory:", "t")
    with Sandbox(AS_OF) as early_sb:
        load_stream(
            spec,
            MailchimpClient(KEY, early_sb.urls["mailchimp"], policy=fast_policy),
            spec.lookback_window(AS_OF),
            StreamContext("Europe/Brussels", AS_OF, AS_OF),
            wh,
        )
    last = wh.query(
        "select campaign_id, unique_opens from raw.mailchimp__campaign_reports order "
        "by send_time desc limit 1"
    )[0]
    with Sandbox(later) as late_sb:
        load_stream(
            spec,
            MailchimpClient(KEY, late_sb.urls["mailchimp"], policy=fast_policy),
            spec.lookback_window(later),
            StreamContext("Europe/Brussels", later, later),
            wh,
        )
    (opens,) = wh.query(
        "select unique_opens from raw.mailchimp__campaign_reports where campaign_id = ?", [last[0]]
    )[0]
    assert opens > last[1]
    assert (
        wh.query(
            "select count(*) - count(distinct campaign_id) from raw.mailchimp__campaign_reports"
        )[0][0]
        == 0
    )
