"""Generalisation score (Thresholdout) and the reward functions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp

if TYPE_CHECKING:
    from autotrain_jax.params import EnvParams


def thresholdout_score(
    key: jax.Array,
    train_accuracy: jax.Array,
    holdout_accuracy: jax.Array,
    threshold: jax.Array,
    threshold_noise: jax.Array,
    answer_noise: jax.Array,
) -> jax.Array:
    """Thresholdout (Dwork et al. 2015) answer for the accuracy query.

    Answers the training accuracy while it agrees with the holdout accuracy to
    within a noisy threshold; otherwise a noisy holdout accuracy. Gaussian noise,
    as the AutoTrain prototype (defaults: tolerance 0.01/4, threshold 4 tol,
    threshold noise std 8 tol, answer noise std 2 tol).
    """
    # both noises from one draw: one PRNG op to compile, not two plus a split
    threshold_draw, answer_draw = jax.random.normal(key, (2,))
    noisy_threshold = threshold + threshold_noise * threshold_draw
    overfit = jnp.abs(train_accuracy - holdout_accuracy) > noisy_threshold
    noisy_holdout = holdout_accuracy + answer_noise * answer_draw
    return jnp.where(overfit, noisy_holdout, train_accuracy)


def shaping_reward(
    kind: str, score, prev_score, params: EnvParams, inner_steps
) -> jax.Array:
    """The per-step reward before the end-of-episode bonus.

    - `prototype`: +-inter_reward by the sign of the score change.
    - `step_cost`: sign of the score change - step_cost x inner steps this step
      (counted in batches of the configured batch size).
    - `delta`: the score change.
    """
    change = score - prev_score
    if kind == "prototype":
        return params.inter_reward * jnp.sign(change)
    if kind == "step_cost":
        return jnp.sign(change) - params.step_cost * inner_steps
    return change


def finite_losses(losses: jax.Array, max_loss) -> jax.Array:
    """Losses as observations, logs and rewards see them: NaN/inf as `max_loss`."""
    return jnp.clip(jnp.nan_to_num(losses, nan=max_loss), 0, max_loss)


def relative_reward(losses, reference, params: EnvParams, trained) -> jax.Array:
    """The `relative` reward's per-step term: the controlled run against the
    constant-LR reference run, which trained on the same minibatches.

    clip(relative_scale x ln(reference loss / loss), +-relative_clip), the
    losses being the means of this step's K losses; 0 on a step that did not
    train. A log ratio, so that the term means the same on tasks whose losses
    differ in scale; the clip keeps one lucky step from dominating the return.
    """
    loss = jnp.maximum(finite_losses(losses, params.max_loss), 1e-8)
    reference_loss = jnp.maximum(reference.losses, 1e-8)
    ratio = jnp.log(reference_loss.mean()) - jnp.log(loss.mean())
    term = jnp.clip(
        params.relative_scale * ratio, -params.relative_clip, params.relative_clip
    )
    return jnp.where(trained, term, 0.0)
