"""A clock state: what the API reads (``now``) and what rate-limit windows follow (``limiter_time``)."""

from __future__ import annotations

from zendesk_export.clock import Clock, ClockState

WALL = 1_700_000_000.0


def test_a_frozen_clock_stands_still_and_advances_on_demand() -> None:
    state = ClockState().freeze(1_600_000_000, WALL)
    assert state.now(WALL + 30) == 1_600_000_000
    assert state.advance(90).now(WALL + 30) == 1_600_000_090
    assert state.unfreeze(WALL + 30).now(WALL + 40) == 1_600_000_010


def test_the_limiter_stands_still_with_a_frozen_clock_until_a_refused_client_has_waited() -> None:
    held = ClockState().freeze(1_600_000_093, WALL).hold(WALL, 7)
    assert held.limiter_time(WALL + 6.9) == 1_600_000_093
    assert held.limiter_time(WALL + 7) == 1_600_000_100
    assert held.now(WALL + 7) == 1_600_000_093


def test_a_second_refusal_while_held_keeps_the_first_wait_and_a_later_one_adds_to_it() -> None:
    held = ClockState().freeze(1_600_000_093, WALL).hold(WALL, 7)
    assert held.hold(WALL + 3, 7) == held
    again = held.hold(WALL + 8, 60)
    assert again.limiter_time(WALL + 8) == 1_600_000_100
    assert again.limiter_time(WALL + 68) == 1_600_000_160


def test_any_change_of_the_clock_forgets_the_limiters_waits() -> None:
    held = ClockState().freeze(1_600_000_093, WALL).hold(WALL, 7)
    assert held.advance(3).limiter_time(WALL + 100) == 1_600_000_096


def test_a_running_clock_is_the_same_for_the_api_and_the_limiter() -> None:
    state = ClockState().advance(60)
    assert state.hold(WALL, 7) == state
    assert state.now(WALL) == state.limiter_time(WALL) == WALL + 60


def test_a_clock_kept_elsewhere_is_read_and_changed_through_its_callables() -> None:
    kept = [ClockState()]

    def change(step: object) -> ClockState:
        kept[0] = step(kept[0])  # type: ignore[operator]
        return kept[0]

    clock = Clock(lambda: WALL, load=lambda: kept[0], change=change)
    clock.freeze(1_600_000_000)
    clock.advance(5)
    assert kept[0].now(WALL) == 1_600_000_005 and clock.state() == {"now": 1_600_000_005, "frozen": True}
    clock.reset()
    assert clock.now() == WALL and not clock.frozen
