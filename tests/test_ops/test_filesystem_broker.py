"""The embedded broker never shows a worker a message it is still writing (kombu's own does, and the worker dies)."""
import threading

import pytest
from kombu import Connection
from kombu.transport import filesystem

from portal import filesystem_broker
from portal.celery import app


def test_filesystem_urls_use_the_whole_message_transport(tmp_path):
    """Whatever broker this run uses, a `filesystem://` URL given to the portal's Celery app gets ours."""
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    with app.connection_for_write("filesystem://", transport_options=options) as connection:
        assert type(connection.transport) is filesystem_broker.Transport


@pytest.mark.parametrize("transport, torn", [(filesystem_broker.Transport, False), (filesystem.Transport, True)])
def test_a_message_being_written_is_invisible_until_whole(tmp_path, monkeypatch, transport, torn):
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "store_processed": False}
    writing, finish = threading.Event(), threading.Event()
    real_dumps = filesystem.dumps

    def slow_dumps(payload):  # the producer is busy between creating and finishing its message
        writing.set()
        finish.wait(10)
        return real_dumps(payload)

    monkeypatch.setattr(filesystem, "dumps", slow_dumps)
    monkeypatch.setattr(filesystem_broker, "dumps", slow_dumps)
    with Connection("filesystem://", transport=transport, transport_options=options) as producer_side, \
            Connection("filesystem://", transport=transport, transport_options=options) as consumer_side:
        producer, consumer = producer_side.default_channel, consumer_side.default_channel
        sender = threading.Thread(target=producer._put, args=("portal", {"body": "hello"}))
        sender.start()
        assert writing.wait(10)
        if torn:  # kombu's own: the empty file is taken and cannot be read (what killed the worker)
            with pytest.raises(ValueError):
                consumer._get("portal")
        else:
            with pytest.raises(filesystem.Empty):
                consumer._get("portal")
        finish.set()
        sender.join(10)
        if not torn:
            assert consumer._get("portal") == {"body": "hello"}
