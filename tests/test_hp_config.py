"""hp configs: defaults, derive, presets, validation."""
import pytest

from dexterity.configs.hp_config import (PARAMETERS, PRESETS, defaults, derive_config, get_preset, list_presets,
                                         make_config, register_preset)
from dexterity.errors import ConfigError


def test_make_config_fills_every_parameter():
    config = make_config(workers=4, horizon=32, batch_size=32)
    assert set(config) == set(PARAMETERS)
    assert config["workers"] == 4 and config["lr_pi"] == PARAMETERS["lr_pi"].default


def test_derive_config_copies_and_changes():
    base = make_config()
    derived = derive_config(base, {"epochs": 3, "lr_pi": 1})
    assert derived["epochs"] == 3 and base["epochs"] == PARAMETERS["epochs"].default
    assert isinstance(derived["lr_pi"], float)


@pytest.mark.parametrize("name", ["default", "discrete", "continuous", "mujoco", "pendulum", "hand", "manipulate"])
def test_required_presets_are_valid(name):
    assert name in list_presets()
    config = get_preset(name)
    assert set(config) == set(PARAMETERS)


def test_mujoco_preset_matches_the_benchmark_setting():
    c = get_preset("mujoco")
    assert c["workers"] * c["horizon"] == 2048 and c["epochs"] == 10
    assert c["workers"] * c["horizon"] // c["batch_size"] == 32


@pytest.mark.parametrize("changes, message", [
    ({"nope": 1}, "unknown parameter"),
    ({"workers": 0}, "workers"),
    ({"discount": 1.5}, "discount"),
    ({"model": "transformer"}, "model"),
    ({"lr_schedule": "cosine"}, "lr_schedule"),
    ({"epochs": "ten"}, "epochs"),
    ({"shared": 1}, "shared"),
    ({"batch_size": 10_000}, "larger than the data"),
    ({"batch_size": 48}, "must divide"),
])
def test_invalid_configs_raise_clear_errors(changes, message):
    with pytest.raises(ConfigError, match=message):
        make_config(**changes)


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ConfigError, match="known presets: .*default"):
        get_preset("nope")


def test_register_preset_validates_and_becomes_selectable():
    register_preset("tiny-test", {"workers": 2, "horizon": 16, "batch_size": 16})
    try:
        assert get_preset("tiny-test")["workers"] == 2
        with pytest.raises(ConfigError):
            register_preset("broken-test", {"workers": -1})
        assert "broken-test" not in PRESETS
    finally:
        PRESETS.pop("tiny-test", None)


def test_defaults_are_valid():
    assert make_config() == derive_config(defaults(), {})
