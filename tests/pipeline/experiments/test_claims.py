"""The claims' rules on made-up curves: each verdict needs its preconditions and tolerance."""


from pipeline.experiments import claims as rules, results as results_md
from pipeline.experiments.grid import make_grid

LONG, SHORT = 20000, 2000


def _curve(steps, values):
  """Evenly spaced (step, value) points ending at `steps`."""
  return [(steps * (i + 1) // len(values), v) for i, v in enumerate(values)]


def _result(dataset, model, accuracy, steps=LONG, seed=None, loss=0.3, validation_loss=None,
            train_loss=None, validation_accuracy=None):
  settings = f"{steps}steps-lr0.001-constant"
  hparams = {"dataset": dataset, "model": model, "train_steps": steps, "learning_rate": 0.001,
             "lr_schedule": "constant", "batch_size": 100}
  if seed is not None:
    hparams["seed"] = seed
  name = f"{dataset}-{model}-{settings}" + ("" if seed is None else f"-seed{seed}")
  curves = {"train_loss": _curve(steps, train_loss or [0.5] * 20),
            "validation_loss": _curve(steps, validation_loss or [0.4, 0.35, 0.3, 0.3]),
            "validation_accuracy": _curve(steps, validation_accuracy or [0.9, 0.91, 0.91, 0.91])}
  return name, {"cell": name, "settings": settings, "hparams": hparams, "train_seconds": 1.0,
                "test": {"accuracy": accuracy, "loss": loss}, "curves": curves}


# cnn overfits: validation loss 0.22 at its minimum, 0.30 at the end; train loss falls by half.
OVERFITTING = dict(validation_loss=[0.3, 0.22, 0.25, 0.30], train_loss=[0.4] * 10 + [0.2] * 10)
VGG = dict(validation_loss=[0.4, 0.3, 0.27, 0.26])  # Its lowest loss is above cnn's 0.22.


def _claims(*results, steps=LONG):
  return {c.number: c for c in rules.check_claims(dict(results), f"{steps}steps-lr0.001-constant")}


def test_claim3_with_one_seed_per_model_is_inconclusive_however_large_the_gap():
  claim = _claims(_result("fashion_mnist", "cnn", 0.90, **OVERFITTING),
                  _result("fashion_mnist", "vgg_like", 0.95, **VGG))[3]
  assert claim.verdict == "inconclusive at this budget"
  assert claim.reason.startswith("one seed per model (1 cnn, 1 vgg_like)")


def _two_seeds(cnn_accuracies, vgg_accuracies, cnn_curves=OVERFITTING, steps=LONG):
  return ([_result("fashion_mnist", "cnn", a, steps=steps, seed=s, **cnn_curves)
           for s, a in enumerate(cnn_accuracies)] +
          [_result("fashion_mnist", "vgg_like", a, steps=steps, seed=s, **VGG)
           for s, a in enumerate(vgg_accuracies)])


def test_claim3_confirmed_only_beyond_the_spread_between_seeds():
  claim = _claims(*_two_seeds([0.920, 0.924], [0.936, 0.940]))[3]
  assert (claim.verdict, claim.headline, claim.caveats) == ("confirmed", "confirmed", [])
  assert any(e.startswith("fashion_mnist-cnn-20000steps-lr0.001-constant-seed0: validation "
                          "loss 0.2200 at step 10000 (its minimum), 0.3000 at step 20000 (+36.4%")
             for e in claim.evidence)
  within = _claims(*_two_seeds([0.920, 0.935], [0.930, 0.936]))[3]
  assert within.verdict == "inconclusive at this budget"
  assert within.reason == "the difference +0.0055 is within the seed spread 0.0150"
  worse = _claims(*_two_seeds([0.940, 0.942], [0.920, 0.921]))[3]
  assert worse.verdict == "refuted" and "cnn beats vgg_like on test" in worse.reason


def test_claim3_needs_the_cnn_to_overfit_by_its_own_rule():
  still_falling = dict(validation_loss=[0.4, 0.3, 0.25, 0.22], train_loss=[0.3] * 20)
  claim = _claims(*_two_seeds([0.920, 0.924], [0.936, 0.940], still_falling))[3]
  assert claim.verdict == "inconclusive at this budget"
  assert "has not started to overfit" in claim.reason
  flat_train = dict(validation_loss=[0.3, 0.22, 0.25, 0.30], train_loss=[0.3] * 20)
  claim = _claims(*_two_seeds([0.920, 0.924], [0.936, 0.940], flat_train))[3]
  assert claim.verdict == "refuted" and claim.reason == "cnn does not overfit by the rule above"


def test_a_short_grid_never_confirms_without_a_caveat():
  claims = _claims(_result("mnist", "cnn", 0.991, steps=SHORT, loss=0.03),
                   _result("mnist", "cnn_tf_layers", 0.989, steps=SHORT, loss=0.03),
                   _result("fashion_mnist", "cnn", 0.91, steps=SHORT, loss=0.25), steps=SHORT)
  for number in (1, 2):
    assert claims[number].verdict == "confirmed"
    assert claims[number].headline == "confirmed (with caveats)"
    assert claims[number].caveats[0].startswith("short run: 2000 steps, below the 20000")
    assert claims[number].caveats[1].startswith("one seed per model")
  assert claims[1].evidence[-1].startswith("test accuracy gap 0.0020 (similar: at most 0.005")
  assert claims[3].verdict == "not run" and claims[3].runs == []


def test_claim1_tolerance_and_seed_spread():
  def verdict(a, b):
    return _claims(*[_result("mnist", "cnn", x, seed=i) for i, x in enumerate(a)],
                   *[_result("mnist", "cnn_tf_layers", x, seed=i) for i, x in enumerate(b)])[1]
  assert verdict([0.990, 0.991], [0.987, 0.988]).verdict == "confirmed"
  assert verdict([0.990, 0.991], [0.970, 0.971]).verdict == "refuted"
  unclear = verdict([0.990, 0.970], [0.975, 0.970])  # Gap 0.0075; spread 0.02.
  assert unclear.verdict == "inconclusive at this budget" and "seed spread" in unclear.reason


def test_an_unconverged_run_is_a_caveat():
  rising = dict(validation_accuracy=[0.80, 0.85, 0.88, 0.90])
  claim = _claims(_result("mnist", "cnn", 0.991, **rising),
                  _result("mnist", "cnn_tf_layers", 0.989))[1]
  assert any("validation accuracy still rose 0.0200 over the last quarter" in c
             for c in claim.caveats)


def test_markdown_links_only_plots_that_were_written_and_states_each_rule():
  results = dict([_result("mnist", "cnn", 0.99), _result("mnist", "cnn_tf_layers", 0.99)])
  claims = rules.check_claims(results, "20000steps-lr0.001-constant")
  text = results_md.claims_markdown(claims, "S", {1: "claim1-S.png"})
  assert "1. **confirmed (with caveats)**: cnn (Keras layers)" in text
  assert "Plot: [claim1-S.png](claim1-S.png)" in text
  assert "claim2" not in text and "claim3" not in text
  assert text.count("   - rule: ") == 3 and "3. **not run**" in text


def test_a_seed_names_a_replicate_but_not_its_settings():
  settings = {"train_steps": [100], "learning_rate": [1e-3], "lr_schedule": ["constant"]}
  [plain] = make_grid(["mnist"], ["cnn"], settings)
  assert plain.name == "mnist-cnn-100steps-lr0.001-constant" and plain.seed is None
  assert "seed" not in plain.hparams_dict()
  replicates = make_grid(["mnist"], ["cnn"], {**settings, "seed": [1, 2]})
  assert [c.settings for c in replicates] == [plain.settings] * 2
  assert [c.hparams_dict()["seed"] for c in replicates] == [1, 2]
  assert [c.name for c in replicates] == ["mnist-cnn-100steps-lr0.001-constant-seed1",
                                          "mnist-cnn-100steps-lr0.001-constant-seed2"]


def test_one_seed_or_an_unconverged_run_never_refutes():
  one_seed = _claims(_result("mnist", "cnn", 0.990), _result("mnist", "cnn_tf_layers", 0.970))[1]
  assert one_seed.verdict == "inconclusive at this budget"
  assert one_seed.reason.startswith("against the claim so far (the accuracies differ by 0.0200)")
  assert "1 seed(s), fewer than 2" in one_seed.reason
  rising = dict(validation_accuracy=[0.80, 0.85, 0.88, 0.90])
  unconverged = _claims(*[_result("mnist", "cnn", x, seed=i, **rising)
                          for i, x in enumerate([0.990, 0.991])],
                        *[_result("mnist", "cnn_tf_layers", x, seed=i)
                          for i, x in enumerate([0.970, 0.971])])[1]
  assert unconverged.verdict == "inconclusive at this budget"
  assert "not converged" in unconverged.reason
