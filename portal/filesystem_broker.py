"""kombu's filesystem broker, writing each message whole: under a new name that no consumer takes, then renamed.

kombu creates the message file under its final name and writes into it afterwards; a worker polling the folder
can move and read it in between, finds it empty, and dies with "Unrecoverable error: JSONDecodeError". Polling
every 0.1 s and a burst of sends made that happen (bench push-stages). A rename is atomic on one file system: a
consumer sees no message or all of it. portal/celery.py makes `filesystem://` mean this transport.
"""
import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")  # starts with a dot: matches no queue
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
