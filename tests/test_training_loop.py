"""The loop's interfaces: every model and guide derives from the declared bases (so each optional
hook has its default), and ``Trainer.run`` hands each epoch's record to its callbacks in order,
the evaluation's scores already in it on a scored epoch."""
import pytest

from pyro_can import registry
from pyro_can.callbacks import Callback, as_callbacks
from pyro_can.config import Config
from pyro_can.feature_loaders import load_digits
from pyro_can.guides.empty import EmptyGuide
from pyro_can.noisy_label_model import GuideBase, ModelBase
from pyro_can.train import Trainer


@pytest.mark.parametrize("name", sorted(registry.METHODS))
def test_every_model_derives_from_the_model_base(name):
    assert issubclass(registry.METHODS[name].model, ModelBase)


@pytest.mark.parametrize("guide", [*registry.GUIDES.values(), EmptyGuide])
def test_every_guide_derives_from_the_guide_base(guide):
    assert issubclass(guide, GuideBase)


def test_a_hand_over_and_a_warm_up_are_declared_by_the_methods_that_have_them():
    can, plain = registry.METHODS["can"].model, registry.METHODS["plain"].model
    assert can.handover is not None and can.warmup_model is not None
    assert plain.handover is None and plain.warmup_model is None and plain.answer_matrix is None


def test_callbacks_run_in_order_after_the_evaluation():
    seen = []

    class Remember(Callback):
        def on_epoch_end(self, trainer, record):
            seen.append(("callback", record["epoch"], "test_mAP" in record))

    def function(trainer, record):
        seen.append(("function", record["epoch"], "test_mAP" in record))

    tr = Trainer(Config(epochs=3, eval_every=2, hidden="8", seed=0),
                 load_digits(seed=0, noise_rate=0.4))
    result = tr.run([Remember(), None, function])
    # epoch 2 is the --eval-every epoch, 3 the last: both scored, 1 not
    assert seen == [("callback", 1, False), ("function", 1, False), ("callback", 2, True),
                    ("function", 2, True), ("callback", 3, True), ("function", 3, True)]
    assert [r["epoch"] for r in tr.history] == [1, 2, 3]
    assert result.metrics["test_mAP"] == tr.history[-1]["test_mAP"]


def test_as_callbacks_takes_none_a_function_or_a_list():
    assert as_callbacks(None) == []
    [wrapped] = as_callbacks(print)
    assert isinstance(wrapped, Callback)
    one = Callback()
    assert as_callbacks([one, None, (one,)]) == [one, one]
