from longhaul.core.jobs.policy import PollPolicy, RetryPolicy


def test_poll_interval_grows_then_caps() -> None:
    p = PollPolicy(initial=1.0, factor=2.0, cap=30.0)
    delays = [p.next_delay(n) for n in range(8)]
    assert delays[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert delays[5:] == [30.0, 30.0, 30.0]


def test_poll_after_header_wins_but_is_clamped() -> None:
    p = PollPolicy(initial=1.0, factor=2.0, cap=30.0, floor=0.2)
    assert p.next_delay(5, "1500") == 1.5
    assert p.next_delay(0, "10") == 0.2
    assert p.next_delay(0, "600000") == 30.0
    assert p.next_delay(2, "garbage") == 4.0


def test_retry_backoff_honours_retry_after_and_jitters_within_bounds() -> None:
    r = RetryPolicy(base=2.0, cap=60.0)
    assert r.delay(3, retry_after=7.0) == 7.0
    assert r.delay(1, retry_after=1000.0) == 60.0
    for attempt, raw in [(1, 2.0), (2, 4.0), (3, 8.0), (10, 60.0)]:
        d = r.delay(attempt)
        assert 0.75 * raw <= d <= raw


def test_webhook_safety_net_polls_early_once_then_slowly() -> None:
    from longhaul.core.config import Settings
    from longhaul.core.jobs.common import poll_policy

    s = Settings(_env_file=None, openai_webhook_secret="whsec_x", poll_webhook_seconds=300)  # type: ignore[call-arg]
    p = poll_policy(s)
    assert [p.next_delay(n) for n in range(4)] == [s.poll_initial_seconds, 300, 300, 300]
    plain = poll_policy(Settings(_env_file=None))  # type: ignore[call-arg]
    assert plain.next_delay(1) == s.poll_initial_seconds * s.poll_backoff_factor
