"""The examples' training recipes: one home for each, as `train.main` defaults."""

from __future__ import annotations

# The shipped `meta-tiny-*` controllers' recipe (`examples/meta_train.py`):
# every episode draws its own task on the `tiny` preset. The initial LR is
# log-uniform in [1e-4, 1], the budget 10-30 env steps (T=10 inner SGD steps
# each), 256-4096 MNIST training images, an MLP hidden layer of 16-64 units,
# and label noise (0-80% of the labels replaced by random classes).
META_TINY = {
    "num_envs": 128,
    "num_steps": 32,
    "num_updates": 250,  # 128 x 32 x 250 = 1,024,000 env steps
    "action_set": "reduced",
    "reward": "delta",
    "checkpoint_every": 10,
    "env": {
        "initial_lr": (1e-4, 1.0),
        "max_steps_in_episode": (10, 30),
        "train_size": (256, 4096),
        "hidden": ((16, 64),),
        "observation": "scale_free",
        "label_noise": (0.0, 0.8),
    },
}

# The main example (`examples/ppo_mnist.py`): the same task distribution,
# a tenth of the experience (64 x 32 x 50 = 102,400 env steps).
MAIN = META_TINY | {"num_envs": 64, "num_updates": 50, "checkpoint_every": 0}

# `meta-mix-v2-nostop`'s recipe (PPO seed 0; the default until suite v9): meta_tiny's
# with the inner optimizer drawn per episode from four, budgets of 10-150 env
# steps, and each block's relative weight change in the observation.
META_MIX = META_TINY | {
    "env": META_TINY["env"]
    | {
        "max_steps_in_episode": (10, 150),
        "optimizer": ("sgd", "momentum", "adam", "rmsprop"),
        "observe_update": True,
    }
}

# meta_mix's distribution, faster (benchmarks/recipe-speed-mix.md): the batch
# steps each inner optimizer's envs with that optimizer's program alone
# (`autotrain_jax.vector`), so the four are spread evenly over the 128 envs
# (32 each) instead of drawn per episode; every other setting is still drawn
# per episode.
META_MIX_GROUPED = META_MIX | {"ppo": {"group_envs": True}}

# The default's recipe (`meta-mix-v4-nostop` pools its PPO seeds 0, 1 and 2;
# `meta-mix-v3-nostop` is seed 1, the default from suite v6 to suite v8):
# meta_mix_grouped's, with LR moves that reach x10 and x0.1 a
# block (the `reduced` set's LR factors below, instead of
# `EnvParams.reduced_lr_factors`' defaults): one move crosses a decade of
# LR, as a bad initial LR is often a decade or more off.
META_MIX_WIDE = META_MIX_GROUPED | {
    "env": META_MIX_GROUPED["env"] | {"reduced_lr_factors": (1.0, 0.7, 0.1, 1.4, 10.0)}
}

# meta_mix_grouped's, the controller's LR applied through a cosine over each
# episode's budget (`EnvConfig.lr_schedule`): the controller sets the level,
# the schedule anneals it, as the tuned cosine does.
META_MIX_COSINE = META_MIX_GROUPED | {
    "env": META_MIX_GROUPED["env"] | {"lr_schedule": "cosine"}
}

# meta_mix's distribution with one LR-free inner optimizer, schedule_free_adamw,
# whose step the controller's LR multiplies (`optimizers.base_learning_rate`:
# LR 1 is optax's default). An episode starts at a multiple of the default
# drawn log-uniform in [0.3, 3], the multiplier bounded to [0.01, 10]: the
# controller steers an optimizer that needs no tuning, from its defaults. The
# evaluation after training starts from multiples of the default too.
META_MIX_SCHEDULE_FREE = META_MIX | {
    "eval_lrs": (0.3, 1.0, 3.0),
    "eval_grid": (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
    "env": META_MIX["env"]
    | {
        "optimizer": "schedule_free_adamw",
        "initial_lr": (0.3, 3.0),
        "lr_min": 0.01,
        "lr_max": 10.0,
    },
}
RECIPES = {
    "meta-tiny": META_TINY,
    "meta-mix": META_MIX,
    "meta-mix-grouped": META_MIX_GROUPED,
    "meta-mix-wide": META_MIX_WIDE,
    "meta-mix-cosine": META_MIX_COSINE,
    "meta-mix-schedule-free": META_MIX_SCHEDULE_FREE,
}


def recipe_of(controller) -> str | None:
    """The name of the recipe a controller (`controllers.Controller`) was
    trained with: the one whose flags, env settings and PPO settings (those
    any recipe sets; PPOConfig's defaults where it does not) are its own.
    None if it matches none (e.g. `meta-tiny-v0`, before label noise)."""
    from autotrain_jax.agents.ppo import PPOConfig

    set_by_any = {k for recipe in RECIPES.values() for k in recipe.get("ppo", {})}
    ppo = {k: getattr(controller.ppo_config, k) for k in set_by_any}
    for name, recipe in RECIPES.items():
        flags = {k: recipe[k] for k in ("action_set", "reward")}
        own = {k: getattr(PPOConfig(), k) for k in set_by_any} | recipe.get("ppo", {})
        if dict(controller.settings) == flags | recipe["env"] and ppo == own:
            return name
    return None
