"""Pyro models, one per method, each a ``pyro.nn.PyroModule`` that owns its networks (the shape of
``pyro.contrib.cevae``'s ``Model``). Every model is built as
``Model(method, schedule, num_classes, input_net, num_workers=0)`` from the method's section
(``sections.MethodSection``), the schedule section (``sections.ScheduleSection``; a model states
its distributions whatever the estimator: ``pyro_can/objective.py`` applies ``--elbo``'s
relaxation or enumeration from outside) and ``input_net(out_dim)``, a maker of networks on the
items' inputs (``registry.model_and_guide``); its ``forward(batch, hp)`` is the Pyro program. It
reads the classifier's logits through ``batch.classifier_output(self.classifier)``, which the
objective computes once for a step whose programs share them. Every model derives from
``ModelBase`` (``pyro_can/noisy_label_model.py``), which declares what the training loop may
call besides, with its default: ``warmup_model(batch, hp)`` (Eq. 7's warm-up likelihood),
``handover(scores, data)``, ``answer_matrix()``, ``start_epoch(epoch, train_set)`` (per-epoch
state: the Trainer calls it before every epoch) and ``hold_noise_model()``. Register a new one
in ``pyro_can/registry.py``."""
