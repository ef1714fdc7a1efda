"""Thumbs up/down on an answer: one JSON line per rating, in the conversation question format `qa eval` reads.

A line is a conv_dev question (``qid``, ``doc_id``, ``question``, ``answers``, ``history``,
``turn``, ``yesno``, ``dataset`` …) plus the rating: ``rating`` "up"|"down"|"withdrawn", ``answer`` (the
rated text with its ``[n]``), ``citations`` (``n``, ``passage_id``, ``source``, ``paragraph``,
``quote``), ``standalone_question`` and ``timestamp``. ``answers`` are the sentences the
answer quoted and ``doc_id`` its first cited source, so the thumbs-up lines are a question set
whose gold answers are what a user approved; a thumbs-up on a refusal is an unanswerable
question (``answers: []``, ``is_impossible: true``). The ``qid`` is a hash of the rated
exchange: when a user changes their mind, the last line of a qid wins.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ui.format import answer_text
from ui.history import history_turns, message_citations, role_and_text, searched_for

log = logging.getLogger(__name__)

FILE_NAME = "feedback.jsonl"
DATASET = "feedback"


class FeedbackError(ValueError):
    """A rating that cannot be recorded: the message rated is not an answer of this chat."""


def rating_of(liked: Any) -> str:
    """Return "up", "down" or "withdrawn" for Gradio's like value (True/False/None, or the option label)."""
    if liked is True or liked == "Like":
        return "up"
    if liked is False or liked == "Dislike":
        return "down"
    if liked is None or liked == "":  # a second click on the chosen thumb takes the rating back (Gradio sends "")
        return "withdrawn"
    raise FeedbackError(f"unknown rating {liked!r}: expected like or dislike")


def _message_index(index: Any) -> int:
    # Gradio gives the message position; a [row, column] pair comes from the old tuples format.
    if isinstance(index, int) and not isinstance(index, bool):
        return index
    if isinstance(index, (list, tuple)) and index and isinstance(index[0], int):
        return int(index[0])
    raise FeedbackError(f"rated message index {index!r} is not a message position")


def feedback_record(messages: Sequence[Any], index: Any, liked: Any, *, timestamp: datetime, max_turns: int) -> dict[str, Any]:
    """Return the feedback line for the rating of message ``index`` of the chat; FeedbackError if it is not an answer."""
    i = _message_index(index)
    if not 0 <= i < len(messages):
        raise FeedbackError(f"rated message {i} is not in the conversation of {len(messages)} messages")
    role, content = role_and_text(messages[i])
    text = answer_text(content) if role == "assistant" else None
    if text is None:
        raise FeedbackError(f"rated message {i} is not an answer")
    asked = next((j for j in range(i - 1, -1, -1) if role_and_text(messages[j])[0] == "user"), None)
    if asked is None:
        raise FeedbackError(f"rated answer {i} follows no question")
    question = role_and_text(messages[asked])[1]
    earlier = messages[:asked]
    history = history_turns(earlier, max_turns)
    citations = message_citations(content)
    refused = not citations and "qa-refused" in content
    qid = hashlib.sha256(json.dumps([history, question, text], ensure_ascii=False).encode()).hexdigest()[:16]
    return {
        "qid": f"feedback-{qid}",
        "doc_id": citations[0].source if citations else "",
        "question": question,
        "answers": list(dict.fromkeys(c.quote for c in citations)),
        "history": history,
        "rewrite": None,
        "turn": 1 + sum(1 for m in earlier if role_and_text(m)[0] == "user"),
        "is_impossible": refused,
        "gold_paragraph_ids": list(dict.fromkeys(c.passage_id for c in citations)),
        "answer_verbatim": True,
        "yesno": None,
        "answer_freeform": text,
        "dataset": DATASET,
        "rating": rating_of(liked),
        "answer": text,
        "citations": [c.to_dict() for c in citations],
        "standalone_question": searched_for(content),
        "timestamp": timestamp.isoformat(timespec="seconds"),
    }


class FeedbackLog:
    """Appends feedback lines to one JSONL file, whole lines only, safe across threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        """Append one record as a line; raise OSError when the file cannot be written."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("ab+") as f:
            # The thread lock covers this process; flock covers other processes writing the same file.
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                f.seek(0, os.SEEK_END)
                if f.tell() > 0:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":  # a line torn by a crash stays its own (bad) line, never glued to ours
                        line = b"\n" + line
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


def make_rate(log_to: FeedbackLog, max_turns: int, clock: Callable[[], datetime]) -> Callable[[list[Any], Any, Any], str]:
    """Return the rating handler: record the rated answer with its question, history and citations."""

    def rate(messages: list[Any], index: Any, liked: Any) -> str:
        record = feedback_record(messages, index, liked, timestamp=clock(), max_turns=max_turns)
        log_to.append(record)
        log.info("feedback %s on %s written to %s", record["rating"], record["qid"], log_to.path)
        return str(record["qid"])

    return rate
