"""scikit-learn objects to and from bytes with skops, loading only allow-listed types."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from mlengine.errors import ArtifactError, listing

# Every type (module.name) that a skops dump Descent writes may hold: the fitted
# preprocessing and estimators of the classical kinds, with every option the engine offers.
# Anything else in a dump is refused, even a type skops would trust by default (a
# FunctionTransformer runs any function it names). tests/engine/test_safeio.py trains
# every classical kind and preprocessing option and fails on a type missing here. Besides
# what it found, the builtin and numpy scalar types a fitted attribute may take from other
# data (int32, float32, bool_ and str_ values) are listed.
TRUSTED_TYPES = frozenset(
    {
        "builtins.NoneType",
        "builtins.bool",
        "builtins.dict",
        "builtins.float",
        "builtins.int",
        "builtins.list",
        "builtins.slice",
        "builtins.str",
        "builtins.tuple",
        "numpy.bool_",
        "numpy.dtype",
        "numpy.float32",
        "numpy.float64",
        "numpy.int32",
        "numpy.int64",
        "numpy.ndarray",
        "numpy.random._generator.Generator",
        "numpy.str_",
        "numpy.uint64",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss._loss.CyHalfMultinomialLoss",
        "sklearn._loss._loss.CyHalfSquaredError",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn.cluster._kmeans.KMeans",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.decomposition._pca.PCA",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.RandomForestRegressor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.ensemble._weight_boosting.AdaBoostClassifier",
        "sklearn.ensemble._weight_boosting.AdaBoostRegressor",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.linear_model._base.LinearRegression",
        "sklearn.linear_model._coordinate_descent.ElasticNet",
        "sklearn.linear_model._coordinate_descent.Lasso",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._ridge.Ridge",
        "sklearn.linear_model._stochastic_gradient.SGDRegressor",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.multiclass.OneVsRestClassifier",
        "sklearn.naive_bayes.BernoulliNB",
        "sklearn.naive_bayes.CategoricalNB",
        "sklearn.naive_bayes.GaussianNB",
        "sklearn.naive_bayes.MultinomialNB",
        "sklearn.neighbors._classification.KNeighborsClassifier",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._nearest_centroid.NearestCentroid",
        "sklearn.neighbors._regression.KNeighborsRegressor",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.MinMaxScaler",
        "sklearn.preprocessing._data.RobustScaler",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._discretization.KBinsDiscretizer",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.preprocessing._encoders.OrdinalEncoder",
        "sklearn.preprocessing._label.LabelBinarizer",
        "sklearn.preprocessing._label.LabelEncoder",
        "sklearn.svm._classes.SVC",
        "sklearn.svm._classes.SVR",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._classes.DecisionTreeRegressor",
        "sklearn.tree._tree.Tree",
    }
)


def dumped_types(data: bytes) -> set[str]:
    """Every type named in a skops dump's schema (objects, functions, containers)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        schema = json.loads(zf.read("schema.json"))
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            cls, module = node.get("__class__"), node.get("__module__")
            if isinstance(cls, str) and isinstance(module, str):
                found.add(f"{module}.{cls}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def skops_dumps(obj: Any) -> bytes:
    import skops.io as sio

    data: bytes = sio.dumps(obj, compression=zipfile.ZIP_DEFLATED)
    return data


def skops_loads(data: bytes) -> Any:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(data=data)
        types = dumped_types(data) | set(untrusted)
    except Exception as exc:  # a corrupt dump
        raise ArtifactError(f"cannot read a scikit-learn object: {exc}") from exc
    refused = sorted(types - TRUSTED_TYPES)
    if refused:
        raise ArtifactError(
            f"refusing to load untrusted types: {listing(refused, 'types')}; this is not "
            "an artifact Descent wrote"
        )
    return sio.loads(data, trusted=untrusted)
