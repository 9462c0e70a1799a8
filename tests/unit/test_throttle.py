"""Failed logins slow down per user and per address; nobody is refused; memory is bounded."""

from __future__ import annotations

from pypicloud.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def throttle(clock: Clock, **options) -> LoginThrottle:
    return LoginThrottle(clock=clock, sleep=clock.sleep, **options)


def test_delays_start_after_the_free_failures_and_double_up_to_the_cap():
    clock = Clock()
    gate = throttle(clock, free=3, base_delay=0.1, max_delay=1.0)
    delays = [gate.failed("bob", "10.0.0.1") for _ in range(9)]
    assert delays == [0, 0, 0, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert clock.slept == [d for d in delays if d]


def test_a_user_is_slowed_across_addresses_and_an_address_across_users():
    clock = Clock()
    gate = throttle(clock, free=2)
    for n in range(3):
        gate.failed("bob", f"10.0.0.{n}")
    assert gate.failed("bob", "10.0.0.9") > 0  # many addresses, one user
    gate = throttle(clock, free=2)
    for n in range(3):
        gate.failed(f"user{n}", "10.0.0.1")
    assert gate.failed("someone-else", "10.0.0.1") > 0  # one address, many users


def test_failures_age_out_of_the_window():
    clock = Clock()
    gate = throttle(clock, free=1, window=60)
    gate.failed("bob", None)
    assert gate.failed("bob", None) > 0
    clock.now += 61
    assert gate.failed("bob", None) == 0


def test_memory_is_bounded():
    clock = Clock()
    gate = throttle(clock, max_keys=100)
    for n in range(1000):
        gate.failed(f"made-up-{n}", f"10.{n // 256}.{n % 256}.1")
    assert gate.tracked() == 100
