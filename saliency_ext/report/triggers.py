"""A trigger that fires when an explanation shifts: a report's scalar
crosses a threshold."""
import math

import numpy
from chainer.training import trigger as trigger_module

DIRECTIONS = ('above', 'below')


class ExplanationShiftTrigger(object):
    """Fires at the first report where a reported scalar crosses a threshold.

    For example, save the model the moment a shortcut takes over::

        key = 'saliency/grad/mass/watermark'
        trainer.extend(extensions.snapshot(filename='shortcut'),
                       trigger=ExplanationShiftTrigger(key, 0.3))

    or stop training then: ``Trainer(updater, stop_trigger=
    ExplanationShiftTrigger(key, 0.3, max_trigger=(100, 'epoch')))``.

    It reads the value from the trainer's observation of the current
    iteration, so it sees a report's scalars when it is the trigger of an
    extension that runs after the ``SaliencyReport`` in that iteration (one
    of lower priority, such as ``snapshot``, or of the same priority added
    later) or the stop trigger. The report made before training starts
    (epoch 0) reaches no observation: only reports during training count.
    It fires once; a snapshot keeps whether it has fired.

    Args:
        key (str): The observed key, such as
            ``'saliency/<entry>/mass/<group>'``.
        threshold (float): The value to cross.
        direction (str): ``'above'`` fires when the value exceeds the
            threshold, ``'below'`` when it falls under it.
        max_trigger: For a stop trigger: also fire when this trigger
            does, such as ``(100, 'epoch')``, so that training ends even
            if the value never crosses.

    Attributes:
        fired_at (tuple): ``(epoch, iteration)`` where it fired, or None.
    """

    def __init__(self, key, threshold, direction='above', *,
                 max_trigger=None):
        if not isinstance(key, str) or not key:
            raise TypeError('key must be the name of a reported value, got '
                            '{!r}'.format(key))
        if isinstance(threshold, bool) or not isinstance(
                threshold, (int, float)) or not math.isfinite(threshold):
            raise TypeError('threshold must be a finite number, got {!r}'
                            .format(threshold))
        if direction not in DIRECTIONS:
            raise ValueError("direction must be 'above' or 'below', got {!r}"
                             .format(direction))
        self.key = key
        self.threshold = float(threshold)
        self.direction = direction
        self.max_trigger = None if max_trigger is None else \
            trigger_module.get_trigger(max_trigger)
        self.fired_at = None

    def __call__(self, trainer):
        crossed = self._crossed(trainer)
        if crossed:
            updater = trainer.updater
            self.fired_at = (updater.epoch, updater.iteration)
        ended = self.max_trigger is not None and self.max_trigger(trainer)
        return crossed or ended

    def _crossed(self, trainer):
        value = trainer.observation.get(self.key)
        if self.fired_at is not None or value is None:
            return False
        if self.direction == 'above':
            return float(value) > self.threshold
        return float(value) < self.threshold

    def get_training_length(self):
        """The ``max_trigger``'s length (for progress bars), or None."""
        length = getattr(self.max_trigger, 'get_training_length', None)
        return length() if length else None

    def serialize(self, serializer):
        fired = serializer('fired_at', numpy.array(self.fired_at or (-1, -1),
                                                   numpy.int64))
        self.fired_at = None if fired is None or fired[0] < 0 else \
            (int(fired[0]), int(fired[1]))
        if hasattr(self.max_trigger, 'serialize'):
            self.max_trigger.serialize(serializer['max_trigger'])
