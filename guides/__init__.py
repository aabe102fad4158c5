"""Pyro guides (variational posteriors), each a ``pyro.nn.PyroModule`` that owns its networks (the
shape of ``pyro.contrib.cevae``'s ``Guide``), built as
``Guide(method, schedule, num_classes, input_net, model)``: ``model`` is the method's model,
whose modules the guide may read (the classifier as the prior judgement) and whose
``num_workers`` sizes the guide's per-worker parameters. ``forward(batch, hp)`` is the Pyro program
and ``posterior(batch)`` q's parameters, which the objective computes once per step
(``Batch.posterior``): the guide samples from them and the regularizer reads them. A guide
samples y from its discrete distribution; the estimator's relaxation, enumeration or baselines
are applied from outside (``objective.estimator_programs``). Every guide derives from
``GuideBase`` (``pyro_can/noisy_label_model.py``: ``posterior``, ``handover(estimate)``,
``hold_noise_model()`` and their defaults). Register a new one in ``pyro_can/registry.py``."""
