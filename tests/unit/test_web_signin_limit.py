"""Failed sign-ins per address (web/signin_limit.py): a small number in a window, then a
lockout, measured on a clock the test passes in."""

from __future__ import annotations

import pytest

from web.signin_limit import FailureLog, Failures, SigninPolicy, failed, wait_s

POLICY = SigninPolicy(max_failures=3, window_s=60.0, lockout_s=300.0)


def test_failures_beyond_the_limit_lock_the_address_out() -> None:
    log = FailureLog(POLICY)
    assert [log.fail("10.0.0.1", t) for t in (0.0, 1.0, 2.0)] == [False, False, False]
    assert log.wait_s("10.0.0.1", 2.5) == 0.0
    assert log.fail("10.0.0.1", 3.0)  # the fourth within 60 s
    assert log.wait_s("10.0.0.1", 3.0) == 300.0
    assert log.wait_s("10.0.0.1", 250.0) == 53.0
    assert log.wait_s("10.0.0.2", 3.0) == 0.0  # other addresses are not affected
    assert log.wait_s("10.0.0.1", 303.0) == 0.0  # over: it starts again with a clean slate
    assert [log.fail("10.0.0.1", t) for t in (304.0, 305.0, 306.0)] == [False, False, False]


def test_failures_spread_wider_than_the_window_never_lock() -> None:
    log = FailureLog(POLICY)
    assert not any(log.fail("a", t) for t in range(0, 10_000, 21))  # 3 per 63 s at most
    assert log.wait_s("a", 10_000.0) == 0.0


def test_the_window_slides() -> None:
    state = Failures()
    for t in (0.0, 30.0, 59.0):
        state = failed(state, POLICY, t)
    assert wait_s(failed(state, POLICY, 59.5), 59.5) == 300.0  # four within 60 s
    assert wait_s(failed(state, POLICY, 60.0), 60.0) == 0.0  # the one at 0 s has left


def test_memory_is_bounded() -> None:
    log = FailureLog(POLICY, max_keys=2)
    for key in ("a", "b", "c"):
        log.fail(key, 0.0)
    assert len(log) == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"max_failures": 0},
        {"window_s": 0.0},
        {"lockout_s": -1.0},
        {"window_s": float("inf")},
    ],
)
def test_policy_is_checked(bad: dict[str, float]) -> None:
    values: dict[str, float] = {"max_failures": 3, "window_s": 60.0, "lockout_s": 300.0}
    with pytest.raises(ValueError, match="must be"):
        SigninPolicy(**(values | bad))  # type: ignore[arg-type]
