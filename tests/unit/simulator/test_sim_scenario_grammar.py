"""The ``metadata.longhaul_sim`` grammar."""

from __future__ import annotations

import pytest

from longhaul.simulator.scenarios import Scenario, ScenarioError, parse_scenario


def test_empty_is_default() -> None:
    assert parse_scenario(None) == Scenario()
    assert parse_scenario("") == Scenario()


def test_full_grammar() -> None:
    s = parse_scenario(
        " fail , slow:2.5, queued:1,poll500:2,files:3,filesize:1073741824,expired,"
        "create429:2,createdup:1"
    )
    assert s.terminal == "failed"
    assert (s.run_seconds, s.queued_seconds) == (2.5, 1.0)
    assert (s.poll500, s.files, s.filesize, s.expired) == (2, 3, 1073741824, True)
    assert s.create_faults == (("create429", 2), ("createdup", 1))


@pytest.mark.parametrize(
    ("value", "terminal"),
    [("incomplete", "incomplete"), ("cancelled", "cancelled"), ("fail", "failed")],
)
def test_terminals(value: str, terminal: str) -> None:
    assert parse_scenario(value).terminal == terminal


def test_flags() -> None:
    s = parse_scenario("stuck,quota,bad_request")
    assert s.stuck and s.quota and s.bad_request


def test_create_faults_consumed_in_order() -> None:
    s = parse_scenario("create429:2,create500:1,createdrop:1")
    assert [s.create_fault_for(n) for n in range(1, 7)] == [
        "create429",
        "create429",
        "create500",
        "createdrop",
        None,
        None,
    ]


@pytest.mark.parametrize(
    "value", ["explode", "slow", "slow:abc", "files:-1", "fail:1", "create429:1.5", 7]
)
def test_invalid(value: object) -> None:
    with pytest.raises(ScenarioError):
        parse_scenario(value)
