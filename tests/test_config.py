"""Invalid settings raise ValueError naming the field, before anything compiles."""

import dataclasses

import jax
import pytest

import autotrain_jax as at

# Every lowering to XLA, whether or not the persistent compilation cache then
# spares the backend compile (conftest turns that cache on): a program that a
# cache hit would hide still counts.
_compilations = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **kw: (
        _compilations.append(event)
        if event == "/jax/core/compile/jaxpr_to_mlir_module_duration"
        else None
    )
)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"T": 50, "S": 7}, "inner_steps"),
        ({"H": 0}, "history"),
        ({"history": 2.5}, "history"),
        ({"model": "resnet"}, "model"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"optimizer": ()}, "optimizer"),
        ({"optimizer": ("adam", "lbfgs")}, "optimizer"),
        ({"optimizer": ("adam", "adam")}, "optimizer"),
        ({"action_set": "huge"}, "action_set"),
        ({"reward": "accuracy"}, "reward"),
        ({"observation": "pixels"}, "observation"),
        ({"rewind_past_oldest": "never"}, "rewind_past_oldest"),
        ({"hidden": ()}, "hidden"),
        ({"batch_size": 0}, "batch_size"),
        ({"dataset": "imagenet"}, "dataset"),
        ({"source": "web"}, "source"),
        ({"lr_min": 0.1, "lr_max": 0.01}, "lr bounds"),
        ({"lr_min": 0.0}, "lr bounds"),
        ({"initial_lr": 5.0}, "initial_lr"),
        ({"max_steps_in_episode": 0}, "max_steps_in_episode"),
        ({"full_lr_factors": (0.9, -1.0, 1.1)}, "full_lr_factors"),
        ({"answer_noise": -1.0}, "answer_noise"),
        ({"train_size": 1.5}, "train_size"),
        ({"holdout_size": 0}, "holdout_size"),
        ({"learning_rate": 0.1}, "learning_rate"),
    ],
)
def test_invalid_setting_names_the_field_before_reading_or_compiling(
    monkeypatch, overrides, field
):
    def no_data(*args, **kwargs):
        raise AssertionError("data was read before validation")

    monkeypatch.setattr(at.presets, "load_dataset", no_data)
    before = len(_compilations)
    with pytest.raises(ValueError, match=field):
        at.make_env("tiny", **overrides)
    assert len(_compilations) == before


def test_sizes_that_exceed_the_data_name_the_field_before_compiling():
    before = len(_compilations)  # the data's length is needed: read, not compiled
    with pytest.raises(ValueError, match="train_size"):
        at.make_env("tiny", train_size=7000, holdout_size=2000)
    assert len(_compilations) == before


def test_unknown_preset_lists_the_registry():
    with pytest.raises(ValueError, match="mnist-mlp"):
        at.make_env("imagenet-vit")
    assert {"mnist-mlp", "cifar10-cnn", "tiny"} <= set(at.registered_envs())


def test_overrides_reach_config_and_params():
    env, params = at.make_env("tiny", H=4, T=20, S=4, initial_lr=0.05)
    assert (env.config.history, env.config.inner_steps, env.config.num_losses) == (
        4,
        20,
        5,
    )
    assert params.initial_lr == 0.05
    assert env.num_actions == 3 * 4 + 2


def test_the_self_play_batch_range_follows_the_batch_size():
    config = at.EnvConfig(batch_size=32)
    assert config.batch_range == (32, 32)  # other sets keep the batch size
    self_play = dataclasses.replace(config, action_set="self_play", batch_size=8)
    assert self_play.batch_range == (2, 16)
    with pytest.raises(ValueError, match="batch_size_min <= batch_size"):
        at.EnvConfig(action_set="self_play", batch_size=8, batch_size_min=16)
