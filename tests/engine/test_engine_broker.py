"""The embedded broker: a worker polling the queue folder never takes a message half written."""

from __future__ import annotations

import threading
from pathlib import Path
from queue import Empty

from kombu import Connection

from huiju.app.broker import TRANSPORT

MESSAGES = 400


def test_a_reader_polling_while_messages_are_written_reads_each_one_whole(tmp_path: Path) -> None:
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False}
    read: list[object] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as connection:
            channel = connection.default_channel
            while len(read) < MESSAGES:
                try:
                    read.append(channel._get("jobs"))  # what a worker's poll does: take, read, decode
                except Empty:
                    if done.is_set() and not list(folder.glob("*.msg")):
                        return
                except Exception as exc:  # noqa: BLE001 - a half-written message: the test shows it
                    errors.append(exc)
                    return

    thread = threading.Thread(target=reader)
    thread.start()
    with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as connection:
        channel = connection.default_channel
        for n in range(MESSAGES):
            channel._put("jobs", {"n": n, "body": "x" * 2000})
    done.set()
    thread.join(timeout=60)
    assert errors == []
    assert sorted(m["n"] for m in read) == list(range(MESSAGES))  # type: ignore[index]
    assert not list(folder.iterdir())  # no message left, no partial file
