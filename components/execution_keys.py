"""Custom properties the components set on their outputs, which the run summary reads.

Plain names, no TFX: `pipeline.reporting.summary` imports them without loading TFX or the
components that set them.
"""

# On the PushedModel artifact when nothing was pushed because the newest version already
# holds this model: that version's directory (components/atomic_pusher.py).
ALREADY_PUSHED_KEY = "already_pushed_as"
# On the blessing when the model being served was the candidate itself (components/evaluator.py).
SELF_BASELINE_KEY = "baseline_was_candidate"
