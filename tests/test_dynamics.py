"""analysis dynamics: timescales, predictability and fixed points against closed forms, then on real agents."""
import json

import numpy as np
import pytest
from scipy.optimize import brentq

from analysis.fixed_points import find_fixed_points, jacobian_eigenvalues, speed, summarise
from analysis.predictability import predictability
from analysis.timescales import autocorrelation, fit_timescale, module_timescales


def ar1(coefficients, episodes=20, length=1000, seed=0):
    """Units x_t+1 = a x_t + N(0, 1), started from the stationary law; ([S, d], episode [S])."""
    a = np.asarray(coefficients, float)
    rng = np.random.default_rng(seed)
    x = np.empty((episodes, length, len(a)))
    x[:, 0] = rng.normal(size=(episodes, len(a))) / np.sqrt(1 - a ** 2)
    for t in range(1, length):
        x[:, t] = a * x[:, t - 1] + rng.normal(size=(episodes, len(a)))
    return x.reshape(-1, len(a)), np.repeat(np.arange(episodes), length)


def test_ar1_timescales_match_closed_form():
    a = np.array([0.3, 0.6, 0.8, 0.9, 0.95])
    x, episode = ar1(a)
    fit = module_timescales(x, episode, max_lag=60)
    expected = -1.0 / np.log(a)  # 0.83, 1.96, 4.48, 9.49, 19.5 steps
    taus = np.array([u["tau"] for u in fit["units"]])
    assert all(u["ok"] for u in fit["units"])
    np.testing.assert_allclose(taus, expected, rtol=0.10)
    assert expected.min() < fit["module"]["tau"] < expected.max()


def test_autocorrelation_never_pairs_steps_of_different_episodes():
    # each episode is constant at +1 or -1: within episodes rho = 1 at every lag; pairs across
    # episode boundaries would pull it down
    x = np.repeat([1.0, -1.0, 1.0, -1.0], 10)[:, None]
    rho, pairs = autocorrelation(x, np.repeat(np.arange(4), 10), max_lag=3)
    np.testing.assert_allclose(rho[:, 0], 1.0)
    assert list(pairs) == [40, 36, 32, 28]


def test_failed_fits_are_reported_with_a_reason():
    x, episode = ar1([-0.8], episodes=4, length=500)
    x = np.concatenate([x, np.full((len(x), 1), 3.0)], axis=1)   # an alternating unit and a constant one
    fit = module_timescales(x, episode, max_lag=20)
    assert [u["ok"] for u in fit["units"]] == [False, False] and fit["failed"] == 2
    assert fit["units"][0]["reason"] == "no positive autocorrelation at lag 1"
    assert fit["units"][1]["reason"] == "constant activity" and fit["units"][1]["tau"] is None
    assert fit_timescale(np.ones(10))["ok"] is False  # tau beyond the window: no decay seen


def test_predictability_of_ar1_is_a_squared():
    a = np.array([0.2, 0.7, 0.9])
    x, episode = ar1(a, episodes=10, length=400, seed=1)
    for j, coefficient in enumerate(a):
        result = predictability(x[:, j:j + 1], episode)
        assert result["from_state"] == pytest.approx(coefficient ** 2, abs=0.05)
    # the next input explains the noise: with x_t+1 itself as input everything is predictable
    assert predictability(x, episode, inputs=x)["from_state_and_input"] > 0.99


def linear_rnn(eigenvalues_block, fixed_point, seed=0):
    """F(h) = A h + b with A = R B R' (B block diagonal, R orthogonal) and A h* + b = h*."""
    b_matrix = eigenvalues_block
    n = len(b_matrix)
    rotation = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))[0]
    a = rotation @ b_matrix @ rotation.T
    b = fixed_point - a @ fixed_point

    def step(h):
        return h @ a.T + b, np.broadcast_to(a, (len(h), n, n)).copy()
    return step


def test_linear_rnn_fixed_point_and_eigenvalues():
    block = np.zeros((5, 5))
    block[0, 0], block[1, 1], block[4, 4] = 0.5, -0.3, 1.2           # real eigenvalues, one unstable
    block[2:4, 2:4] = [[0.9, -0.2], [0.2, 0.9]]                     # the pair 0.9 +- 0.2i
    h_star = np.array([0.3, -1.0, 2.0, 0.5, -0.7])
    step = linear_rnn(block, h_star)
    starts = np.random.default_rng(1).normal(scale=3.0, size=(8, 5))
    result = find_fixed_points(step, starts)
    np.testing.assert_allclose(result["points"], np.tile(h_star, (8, 1)), atol=1e-4)
    assert result["speed"].max() < 1e-12
    values = jacobian_eigenvalues(step(result["points"])[1])[0]
    expected = np.array([1.2, 0.9 + 0.2j, 0.9 - 0.2j, 0.5, -0.3])
    np.testing.assert_allclose(np.sort_complex(values), np.sort_complex(expected), atol=1e-4)
    summary = summarise(result, jacobian_eigenvalues(step(result["points"])[1]))
    assert summary["fixed"] == 8 and summary["distinct_fixed"] == 1 and summary["points"][0]["unstable"] == 1


def test_tanh_rnn_fixed_points_match_the_scalar_equation():
    # h -> tanh(w h) on every unit independently: fixed points 0 and +-h*, h* = tanh(w h*)
    w = 2.0

    def step(h):
        f = np.tanh(w * h)
        return f, np.stack([np.diag(w * (1 - row ** 2)) for row in f])
    starts = np.array([[0.5, -0.9], [2.0, 0.1], [-3.0, -0.02]])
    result = find_fixed_points(step, starts)
    root = brentq(lambda h: np.tanh(w * h) - h, 0.1, 2.0)
    # which fixed point a start ends at depends on the minimiser's basins; every coordinate must
    # be one of the three roots, and these starts are well inside the basins below
    candidates = np.array([-root, 0.0, root])
    assert np.abs(result["points"][..., None] - candidates).min(axis=-1).max() < 1e-6
    np.testing.assert_allclose(result["points"][1:], [[root, 0.0], [-root, 0.0]], atol=1e-6)
    eig = np.sort(jacobian_eigenvalues(step(result["points"])[1]).real, axis=1)
    np.testing.assert_allclose(eig[0], [w * (1 - root ** 2)] * 2, atol=1e-6)   # stable: below 1
    np.testing.assert_allclose(eig[1], sorted([w * (1 - root ** 2), w]), atol=1e-6)  # the origin: unstable
    assert speed(step(result["points"])[0], result["points"]).max() < 1e-12


def test_cell_map_of_a_keras_rnn_cell_has_the_closed_form_jacobian():
    from dexterity import tf_setup
    tf_setup.tensorflow(cpu=True)
    import keras
    from analysis.cells import cell_map, recorded_states, state_sizes
    cell = keras.layers.SimpleRNNCell(3, name="core")
    cell.build((None, 2))
    rng = np.random.default_rng(0)
    kernel, recurrent, bias = rng.normal(size=(2, 3)), rng.normal(size=(3, 3)), rng.normal(size=3)
    cell.set_weights([kernel, recurrent, bias])
    x, h = np.array([0.2, -0.5]), rng.normal(size=(4, 3))
    f, jac = cell_map(cell, x)(h)
    expected = np.tanh(x @ kernel + h @ recurrent + bias)
    np.testing.assert_allclose(f, expected, atol=1e-5)
    np.testing.assert_allclose(jac, [(recurrent * (1 - e ** 2)).T for e in expected], atol=1e-5)
    lstm = keras.layers.LSTMCell(3, name="l")
    acts = {"l": np.ones((5, 3)), "l/state1": np.zeros((5, 3))}  # output h; cell state c differs
    assert state_sizes(lstm) == [3, 3]
    np.testing.assert_array_equal(recorded_states(acts, lstm), np.hstack([np.ones((5, 3)), np.zeros((5, 3))]))


# ---- on real agents ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gru_agent(tmp_path_factory):
    """(storage root, id) of a CartPole GRU agent trained 2 cycles."""
    from test_analysis import _agent
    root = tmp_path_factory.mktemp("dynamics") / "storage"
    mp = pytest.MonkeyPatch()
    mp.setenv("DEXTERITY_STORAGE", str(root))
    agent_id = _agent(model="gru", cycles=2, seed=5)
    yield root, agent_id
    mp.undo()


def test_fixed_points_of_a_trained_gru_agent(gru_agent):
    from analysis.dynamics import activity_dynamics, core_fixed_points
    from analysis.investigator import Investigator
    investigator = Investigator(gru_agent[1])
    rec = investigator.record(episodes=4, seed=0, deterministic=False, envs=2)
    assert rec.cell_inputs["policy_gru"].shape == (rec.steps, 64)  # the input of the GRU: policy_dense0
    np.testing.assert_allclose(rec.cell_inputs["policy_gru"], rec.activations["policy_dense0"], atol=1e-6)
    result = core_fixed_points(investigator.model, rec, points=16)
    assert set(result) == {"policy_gru", "value_gru"}
    for cell in result.values():
        assert cell["count"] == 16 and len(cell["points"]) == 16 and cell["state_size"] == 64
        speeds = [p["speed"] for p in cell["points"]]
        assert all(np.isfinite(speeds)) and all(len(p["eigenvalues"]) == 64 for p in cell["points"])
        assert cell["fixed"] + cell["slow"] == 16
        assert max(speeds) < 1e-4  # the minimiser moved every start to a (near) fixed point
    activity = activity_dynamics(rec, max_lag=20)
    assert "policy_gru" in activity["timescales"] and "input" in activity["timescales"]
    assert activity["predictability"]["policy_gru"]["from_state"] is not None


def test_cli_dynamics_writes_figure_and_json(gru_agent):
    from test_analysis import run_analysis
    root, agent_id = gru_agent
    proc = run_analysis("dynamics", "--id", agent_id, "-n", "3", "--points", "8", "--max-lag", "15", "--cpu",
                        "--storage", str(root))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = root / "experiments" / agent_id / "analysis"
    assert (out / "dynamics.png").stat().st_size > 0
    doc = json.loads((out / "dynamics.json").read_text())
    assert set(doc) >= {"timescales", "predictability", "fixed_points", "max_lag"}
    assert len(doc["fixed_points"]["policy_gru"]["points"]) == 8
    assert "fixed points policy_gru:" in proc.stdout and "speeds" in proc.stdout
    bad = run_analysis("dynamics", "--id", agent_id, "--points", "0", "--storage", str(root))
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --points must be at least 1, got 0"
