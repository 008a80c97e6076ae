"""What a calculator explains: the saliency target (the variable the
gradient is taken with respect to) and the explained value per item."""
import chainer
import chainer.functions as F

from saliency_ext.hooks import VariableMonitorLinkHook, link_path
from saliency_ext.validation import is_int

TARGET_CHOICES = ('top', 'label')
#: How to explain one value per item instead of a scalar such as a mean loss.
PER_ITEM_HINT = (
    "Explain one value per item: return per-item values from eval_fun (for "
    "a loss, F.softmax_cross_entropy(y, t, reduce='no')), or leave eval_fun "
    "out and pick each item's class score with target='top' or "
    "target='label' (with label_index).")


def check_target_options(target_extractor, output_extractor, target,
                         label_index):
    """Validates the target options of a calculator's constructor."""
    if not (target_extractor is None or is_int(target_extractor) or
            isinstance(target_extractor, VariableMonitorLinkHook)):
        raise TypeError(
            'target_extractor must be None, an input index or a '
            'VariableMonitorLinkHook, got {!r}'.format(target_extractor))
    if not (output_extractor is None or
            isinstance(output_extractor, VariableMonitorLinkHook)):
        raise TypeError('output_extractor must be None or a '
                        'VariableMonitorLinkHook, got {!r}'.format(
                            output_extractor))
    if not (target is None or target in TARGET_CHOICES or
            (is_int(target) and target >= 0)):
        raise ValueError("target must be None, 'top', 'label' or a class "
                         "index >= 0, got {!r}".format(target))
    if not (label_index is None or is_int(label_index)):
        raise TypeError('label_index must be an int, got {!r}'.format(
            label_index))
    if target == 'label' and label_index is None:
        raise ValueError("target='label' needs label_index, the position "
                         "of the label among the converted arrays (-1 "
                         "for the last)")


def describe_target(model, extractor):
    """The saliency target in words, for messages and settings."""
    if isinstance(extractor, VariableMonitorLinkHook):
        return '{} of link {!r}'.format(
            'output' if extractor.timing == 'post' else 'input',
            link_path(model, extractor.target_link))
    return 'model input {}'.format(extractor or 0)


def check_single_call(model, hook):
    """Raises unless the hooked link ran exactly once in the pass."""
    if hook.n_calls != 1:
        raise ValueError(
            'VariableMonitorLinkHook on link {!r} ran {} times in one '
            'forward pass; it must watch a link that runs exactly once '
            '(check that the link belongs to the model and is used by '
            'eval_fun)'.format(link_path(model, hook.target_link),
                               hook.n_calls))


def check_scores(target, out, size):
    """Raises unless ``out`` holds one row of class scores per item."""
    if out.ndim != 2 or out.shape[0] != size:
        raise ValueError(
            'target={!r} picks one class score per item, so the model '
            'output must be shaped (batch, n_classes); got shape {}'
            .format(target, out.shape))


def explained_values(out, n_rows, target, classes):
    """The explained value of each of the ``n_rows`` rows of ``out``: the
    class score chosen by ``classes`` (one class per row) with a
    ``target``, else ``out`` itself (one value per row, or a scalar)."""
    if not isinstance(out, chainer.Variable):
        out = chainer.Variable(out)
    if target is not None:
        check_scores(target, out, n_rows)
        return F.select_item(out, classes)
    if out.ndim == 0:
        return out
    if out.shape in ((n_rows,), (n_rows, 1)):
        return F.reshape(out, (n_rows,))
    raise ValueError(
        'eval_fun must return a scalar or one value per item, shape '
        '({},); got shape {}. Reduce it, or pick a class with '
        "target='top', 'label' or a class index".format(n_rows, out.shape))
