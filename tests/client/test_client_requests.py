"""Pure request building: durations, option headers, deduplication ids, paths, answers.
No server needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from wirepost_client import FlowControl, Published, RetryPolicy, WirepostError
from wirepost_client.call import Call, Page, ignore
from wirepost_client.durations import duration_text, unix_millis, unix_seconds, whole_seconds
from wirepost_client.errors import error_message
from wirepost_client.filters import filter_params, page_params
from wirepost_client.messages import cancel_message
from wirepost_client.options import publish_headers, schedule_headers
from wirepost_client.publishing import batch, publish, publish_json


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (10, "10s"),
        (0, "0s"),
        (1.5, "1500ms"),
        (0.0005, "500us"),
        (timedelta(minutes=2), "120s"),
        (timedelta(milliseconds=250), "250ms"),
        ("1h30m3s", "1h30m3s"),
        (" 45 ", "45"),
        ("1.5s", "1.5s"),
        ("1d10h30m", "1d10h30m"),
    ],
)
def test_duration_text_turns_numbers_and_timedeltas_into_units(value, text):
    assert duration_text("delay", value) == text


@pytest.mark.parametrize("value", [-1, "10 seconds", "", "5x", "-5s", True, float("nan"), "1h-"])
def test_duration_text_refuses_what_the_server_would_refuse(value):
    with pytest.raises(ValueError, match="delay"):
        duration_text("delay", value)


def test_whole_seconds_refuses_fractions():
    assert whole_seconds("period", timedelta(minutes=1)) == 60
    with pytest.raises(ValueError, match="whole seconds"):
        whole_seconds("period", timedelta(milliseconds=1500))


def test_instants_take_aware_datetimes_or_numbers():
    at = datetime(2030, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))

    assert unix_seconds("not_before", at) == "1893456000"
    assert unix_millis("from_date", at) == "1893456000000"
    assert unix_seconds("not_before", 5) == "5"
    with pytest.raises(ValueError, match="timezone-aware"):
        unix_seconds("not_before", datetime(2030, 1, 1))  # noqa: DTZ001


def test_publish_headers_forward_own_headers_and_keep_upstash_ones():
    headers, _ = publish_headers(
        {"headers": {"X-A": "1", "content-type": "text/plain", "Upstash-Retries": "2"}}
    )

    assert headers["Upstash-Forward-X-A"] == "1"
    assert headers["content-type"] == "text/plain"
    assert headers["Upstash-Retries"] == "2"


def test_publish_headers_write_flow_control_and_labels():
    headers, _ = publish_headers(
        {"flow_control": FlowControl("k", rate=5, period=timedelta(minutes=1)), "label": ["a", "b"]}
    )

    assert headers["Upstash-Flow-Control-Key"] == "k"
    assert headers["Upstash-Flow-Control-Value"] == "rate=5, period=60s"
    assert headers["Upstash-Label"] == "a,b"
    with pytest.raises(ValueError, match="parallelism and/or rate"):
        publish_headers({"flow_control": FlowControl("k")})


def test_publish_headers_draw_a_new_deduplication_id_per_call():
    first, first_safe = publish_headers({})
    second, _ = publish_headers({})

    assert first_safe
    assert first["Upstash-Deduplication-Id"].startswith("wp-")
    assert first["Upstash-Deduplication-Id"] != second["Upstash-Deduplication-Id"]


@pytest.mark.parametrize(
    ("options", "expected_id", "safe"),
    [
        ({"deduplication_id": "mine"}, "mine", True),
        ({"headers": {"upstash-deduplication-id": "hdr"}}, "hdr", True),
        ({"content_based_deduplication": True}, None, True),
        ({"idempotent": False}, None, False),
    ],
)
def test_publish_headers_deduplication_choices(options, expected_id, safe):
    headers, replayable = publish_headers(options)

    assert headers.get("Upstash-Deduplication-Id") == expected_id
    assert replayable is safe


def test_schedule_headers_never_carry_a_deduplication_id():
    headers = schedule_headers("* * * * *", {"schedule_id": "s", "queue": "q", "delay": 5})

    assert headers == {
        "Upstash-Delay": "5s",
        "Upstash-Cron": "* * * * *",
        "Upstash-Schedule-Id": "s",
        "Upstash-Queue-Name": "q",
    }


def test_publish_puts_the_destination_into_the_path_as_written():
    call = publish("https://example.com/hook?x=1", "b")

    assert (call.method, call.path, call.content) == (
        "POST",
        "/v2/publish/https://example.com/hook?x=1",
        b"b",
    )


def test_publish_json_keeps_a_given_content_type():
    call = publish_json("https://e/x", [1], headers={"Content-Type": "application/vnd+json"})

    assert call.content == b"[1]"
    assert call.headers["Content-Type"] == "application/vnd+json"


def test_batch_is_replayable_only_when_every_item_is_deduplicated():
    assert batch([{"destination": "https://e/a"}, {"destination": "g"}]).replayable
    assert not batch(
        [{"destination": "https://e/a"}, {"destination": "g", "idempotent": False}]
    ).replayable


def test_ids_are_escaped_as_one_path_segment():
    assert cancel_message("a/b c").path == "/v2/messages/a%2Fb%20c"


def test_filters_repeat_list_values_and_map_names():
    params = filter_params({"url_group": ["a", "b"], "from_date": datetime(2030, 1, 1, tzinfo=UTC)})

    assert params == [("topicName", "a"), ("topicName", "b"), ("fromDate", "1893456000000")]
    assert page_params("5", 10, "earliest") == [
        ("cursor", "5"),
        ("count", "10"),
        ("order", "earliestFirst"),
    ]
    with pytest.raises(ValueError, match="non-empty list"):
        filter_params({"label": []})


def test_call_read_maps_error_answers():
    call = Call("GET", "/v2/x", ignore)

    with pytest.raises(WirepostError) as caught:
        call.read(429, b'{"error": "slow down"}')

    assert (caught.value.status, caught.value.message) == (429, "slow down")
    assert error_message(b"") == "(empty answer)"
    assert error_message(b"x" * 600).endswith("…")


def test_published_reads_an_object_or_an_array():
    one = Published.from_json({"messageId": "m1", "url": "u"})
    many = Published.from_json([{"messageId": "m1"}, {"messageId": "m2", "deduplicated": True}])

    assert (one.message_id, one.url_group, one.deduplicated) == ("m1", False, False)
    assert (many.url_group, many.deduplicated) == (True, False)


def test_page_after_stops_when_the_cursor_ends_or_stands_still():
    assert Page((1,), "7").after("3") == "7"
    assert Page((1,), "7").after("7") is None
    assert Page((), None).after(None) is None


def test_retry_policy_backs_off_exponentially_up_to_the_cap():
    policy = RetryPolicy(retries=6, initial_delay=0.1, max_delay=1.0)

    assert [policy.delay(n) for n in range(1, 7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    with pytest.raises(ValueError, match="multiplier"):
        RetryPolicy(multiplier=0.5)
