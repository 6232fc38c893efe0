"""kombu's Redis transport, made to survive losing Redis while this worker holds unacknowledged messages.

When Redis drops the connection, Celery closes the consumer's channel, and closing restores the messages it
holds unacknowledged (acks_late: every running task's). By then kombu has torn the transport down
(`Transport.client` is None), so the restore fails with AttributeError ("'NoneType' object has no attribute
'hostname'", kombu.transport.redis `_connparams`), which Celery takes for an unrecoverable error: the worker
exits instead of reconnecting (seen in tests/faults/test_broker.py, kombu 5.7). A task that was running then
acknowledges its message on that dead channel when it ends, and fails the same way. There is nothing to restore
through a connection that is gone: if Redis kept its data, the messages wait in its unacked set and kombu's
visibility timeout brings them back; if it lost them, the portal's lost-work sweep sends their jobs again.
"""
import logging

from kombu.transport import redis, virtual

log = logging.getLogger(__name__)


class QoS(redis.QoS):
    """Nothing is restored, acknowledged or rejected through a channel whose connection kombu has torn down."""

    def _connection_gone(self) -> bool:
        transport = self.channel.connection
        return transport is None or transport.client is None

    def restore_unacked(self, client=None):
        if client is None and self._connection_gone():
            log.warning("The broker's connection is gone: %d unacknowledged message(s) left to the broker "
                        "(visibility timeout) and to the lost-work sweep", len(self._delivered))
            return None
        return super().restore_unacked(client)

    def ack(self, delivery_tag):
        # A task that ran across the reconnect acknowledges on the old channel: the message went with it.
        if self._connection_gone():
            log.warning("The broker's connection is gone: message %s not acknowledged", delivery_tag)
            return virtual.QoS.ack(self, delivery_tag)  # only this channel's own bookkeeping
        return super().ack(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        if self._connection_gone():
            log.warning("The broker's connection is gone: message %s not rejected", delivery_tag)
            return virtual.QoS.ack(self, delivery_tag)
        return super().reject(delivery_tag, requeue=requeue)


class Channel(redis.Channel):
    QoS = QoS


class Transport(redis.Transport):
    Channel = Channel
