"""The embedded broker: kombu's filesystem transport, each message written whole before it is seen.

kombu's transport creates a message's file in the queue folder and then writes into it. A worker
polling the folder may take the file in between — it moves it away and reads it — and finds it
empty: the JSON decoding fails, and the worker's consumer stops for good (``Unrecoverable error:
JSONDecodeError``). The window is a few microseconds, milliseconds on a loaded machine. Here a
message is written to a file whose name the workers do not read (``.part``) and renamed into place
once complete; a rename within one file system is atomic (POSIX ``rename(2)``), so a worker sees
either no file or the whole message. The worker side is kombu's, unchanged.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

#: The transport for ``broker_transport`` (Celery) with ``filesystem://`` broker URLs.
TRANSPORT = "huiju.app.broker:Transport"


class Channel(filesystem.Channel):  # type: ignore[misc]
    # kombu's own classes name the message "payload" here and "message" in the virtual base.
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Put a message on ``queue``: written under a name the readers skip, then renamed."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.part"  # readers take only names ending in ".<queue>.msg"
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):  # type: ignore[misc]
    Channel = Channel
