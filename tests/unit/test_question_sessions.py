"""The ONNX embedder's choice per question between its plain and its spinning session (no model: fake sessions and clock)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from qa.embed.onnx import _QuestionSessions


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _asker(sessions: _QuestionSessions, clock: Clock, cost_ms: dict[str, float]) -> Any:
    """Return ask(): one question through the sessions; the fake session named by the pick advances the clock."""

    def ask() -> str:
        used: list[str] = []

        def work(session: str) -> np.ndarray:
            used.append(session)
            clock.now += cost_ms[session] / 1000
            return np.zeros((1, 3), dtype=np.float32)

        sessions.run(work)
        clock.now += 0.005  # the rest of the request, between questions
        return used[0]

    return ask


def test_without_a_spinning_session_every_question_goes_to_the_plain_one() -> None:
    clock = Clock()
    ask = _asker(_QuestionSessions("plain", None, clock), clock, {"plain": 4.0})
    assert {ask() for _ in range(40)} == {"plain"}


def test_questions_go_to_the_faster_session_and_now_and_then_to_the_other() -> None:
    clock = Clock()
    sessions = _QuestionSessions("plain", "spinning", clock)
    ask = _asker(sessions, clock, {"plain": 4.0, "spinning": 2.7})
    picks = [ask() for _ in range(64)]
    assert picks[:2] == ["spinning", "plain"]  # each measured once first
    assert picks[2:].count("spinning") >= 56 and 2 <= picks[2:].count("plain") <= 6
    assert sessions.medians_ms() == pytest.approx({"plain": 4.0, "spinning": 2.7})


def test_when_spinning_turns_slow_under_load_questions_move_to_the_plain_session_and_back() -> None:
    clock = Clock()
    cost = {"plain": 4.0, "spinning": 2.7}
    ask = _asker(_QuestionSessions("plain", "spinning", clock), clock, cost)
    for _ in range(20):
        ask()
    cost["spinning"] = 7.0  # another process now busy on the other core
    later = [ask() for _ in range(48)]
    assert later[-32:].count("plain") >= 29
    cost["spinning"] = 2.7  # the other process is done
    after = [ask() for _ in range(32)]
    assert after[-16:].count("spinning") >= 14


def test_overlapping_questions_use_the_plain_session_and_keep_to_it_for_a_calm_period() -> None:
    clock = Clock()
    sessions = _QuestionSessions("plain", "spinning", clock)
    cost = {"plain": 4.0, "spinning": 2.7}
    ask = _asker(sessions, clock, cost)
    for _ in range(10):
        ask()
    inside, release = threading.Event(), threading.Event()
    seen: list[str] = []

    def slow(session: str) -> np.ndarray:
        seen.append(session)
        inside.set()
        release.wait(5)
        return np.zeros((1, 3), dtype=np.float32)

    first = threading.Thread(target=sessions.run, args=(slow,))
    first.start()
    assert inside.wait(5)
    second = ask()  # starts while the first is still running
    release.set()
    first.join(5)
    assert seen == ["spinning"] and second == "plain"
    assert ask() == "plain"  # within CALM_S of the overlap
    clock.now += _QuestionSessions.CALM_S
    assert [ask() for _ in range(8)].count("spinning") >= 7
    # The overlapped questions' times were not counted.
    assert sessions.medians_ms() == pytest.approx({"plain": 4.0, "spinning": 2.7})


def test_questions_beside_a_batch_use_the_plain_session() -> None:
    clock = Clock()
    sessions = _QuestionSessions("plain", "spinning", clock)
    ask = _asker(sessions, clock, {"plain": 4.0, "spinning": 2.7})
    for _ in range(10):
        ask()
    with sessions.beside():
        assert [ask() for _ in range(5)] == ["plain"] * 5
    assert ask() == "plain"  # within CALM_S of the batch's end
    clock.now += _QuestionSessions.CALM_S
    assert [ask() for _ in range(8)].count("spinning") >= 7
    assert sessions.medians_ms() == pytest.approx({"plain": 4.0, "spinning": 2.7})
