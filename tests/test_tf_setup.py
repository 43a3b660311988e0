"""tf_setup imports TensorFlow without pulling in scikit-learn, and leaves scikit-learn importable."""
import subprocess
import sys
import textwrap


def test_tensorflow_import_skips_sklearn_and_leaves_it_importable():
    code = textwrap.dedent("""
        import sys
        from dexterity import tf_setup
        tf = tf_setup.tensorflow(cpu=True)
        assert "sklearn" not in sys.modules, "Keras imported scikit-learn"
        import keras
        layer = keras.layers.Dense(2, kernel_initializer="ones")
        assert float(tf.reduce_sum(layer(tf.ones((1, 3))))) == 6.0
        import sklearn
        from sklearn.linear_model import LinearRegression
        fit = LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])
        assert abs(fit.coef_[0] - 2.0) < 1e-9
        try:  # the price, documented in tf_setup: Keras's own scikit-learn wrappers stay off
            keras.wrappers.SKLearnRegressor(model=lambda: None)
        except ImportError:
            pass
        else:
            raise AssertionError("Keras's scikit-learn wrappers unexpectedly available")
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")
