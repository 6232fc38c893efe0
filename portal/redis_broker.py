"""kombu's Redis transport, made to survive losing Redis while this worker holds unacknowledged messages.

When Redis drops the connection, Celery closes the consumer's channel, and closing restores the messages it
holds unacknowledged (acks_late: every running task's). By then kombu has torn the transport down
(`Transport.client` is None), so the restore fails with AttributeError ("'NoneType' object has no attribute
'hostname'", kombu.transport.redis `_connparams`), which Celery takes for an unrecoverable error: the worker
exits instead of reconnecting (seen in tests/faults/test_broker.py, kombu 5.7). There is nothing to restore
through a connection that is gone: if Redis kept its data, the messages wait in its unacked set and kombu's
visibility timeout brings them back; if it lost them, the portal's lost-work sweep sends their jobs again.
"""
import logging

from kombu.transport import redis

log = logging.getLogger(__name__)


class QoS(redis.QoS):
    def restore_unacked(self, client=None):
        if client is None and self.channel.connection.client is None:
            log.warning("The broker's connection is gone: %d unacknowledged message(s) left to the broker "
                        "(visibility timeout) and to the lost-work sweep", len(self._delivered))
            return None
        return super().restore_unacked(client)


class Channel(redis.Channel):
    QoS = QoS


class Transport(redis.Transport):
    Channel = Channel
