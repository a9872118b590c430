"""The CLI's and examples' persistent compilation cache: on by default, opt-out."""

import jax
import pytest

from autotrain_jax import compile_cache


@pytest.fixture
def no_configured_cache():
    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)
    yield
    jax.config.update("jax_compilation_cache_dir", before)


def test_on_by_default_in_the_users_cache_folder(
    no_configured_cache, monkeypatch, tmp_path
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(compile_cache.OPT_OUT, raising=False)
    folder = compile_cache.enable()
    assert folder == tmp_path / "autotrain_jax" / "jax" and folder.is_dir()
    assert jax.config.jax_compilation_cache_dir == str(folder)


def test_the_flag_and_the_variable_turn_it_off(no_configured_cache, monkeypatch):
    monkeypatch.delenv(compile_cache.OPT_OUT, raising=False)
    assert compile_cache.enable(disabled=True) is None
    monkeypatch.setenv(compile_cache.OPT_OUT, "1")
    assert compile_cache.enable() is None
    assert jax.config.jax_compilation_cache_dir is None


def test_a_configured_folder_is_used_as_it_is(no_configured_cache, tmp_path):
    jax.config.update("jax_compilation_cache_dir", str(tmp_path))
    assert compile_cache.enable() == tmp_path
