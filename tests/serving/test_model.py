"""The served model ranks exactly as the evaluation code, for every kind of candidate."""

import tarfile

import numpy as np
import pandas as pd
import pytest

tf = pytest.importorskip("tensorflow")

from music_recsys.core.catalog import Query  # noqa: E402
from music_recsys.core.evaluation import rank_targets  # noqa: E402
from music_recsys.core.protocol import EvaluationParams  # noqa: E402
from music_recsys.datasets import SageMakerModelArchiveDataset  # noqa: E402
from music_recsys.serving import handler_source  # noqa: E402
from music_recsys.serving.model import INPUT_SIGNATURE, build_serving_model  # noqa: E402
from music_recsys.serving.package import ModelPackage  # noqa: E402
from tests.shared import VARIANTS as KINDS  # noqa: E402
from tests.shared import random_queries, write_package  # noqa: E402


@pytest.fixture(scope="module")
def models(fitted_models):
    return fitted_models


def queries() -> pd.DataFrame:
    return random_queries()


def served(model, seeds: list[list[str]]) -> dict:
    width = max(len(s) for s in seeds)
    return model(tf.constant([s + [""] * (width - len(s)) for s in seeds]))


@pytest.mark.parametrize("kind", KINDS)
def test_served_top_k_equals_the_evaluated_top_k(models, kind):
    recommender = models[kind]  # each variant weighs its queries by its own recency
    evaluation = EvaluationParams(k=(10,))
    frame = queries()
    top = rank_targets(recommender, frame, evaluation).top
    expected = [recommender.index.track_ids[row[row >= 0]].tolist() for row in top]
    outputs = served(build_serving_model(recommender, 10), [list(q) for q in frame["query"]])
    got = [[t.decode() for t in row if t] for row in outputs["track_ids"].numpy()]
    assert got == expected
    seeds = [set(q) for q in frame["query"]]
    assert all(
        not (set(row) & s) for row, s in zip(got, seeds, strict=True)
    )  # seeds never come back


def test_scores_match_and_k_beyond_the_catalog_pads_with_empty_ids(models):
    recommender = models["cooccurrence"]
    model = build_serving_model(recommender, k=1000)
    assert model.k == len(recommender.index)  # K is capped at the catalog size
    outputs = served(model, [["A0|||t0"]])
    ids, values = outputs["track_ids"].numpy()[0], outputs["scores"].numpy()[0]
    assert ids[-1] == b"" and values[-1] == 0.0  # the seed's own slot: nothing left to show
    expected, _ = recommender.scores([Query.of(recommender.index.lookup(["A0|||t0"]))])
    position = {t: i for i, t in enumerate(recommender.index.track_ids)}
    shown = [position[t.decode()] for t in ids[:-1]]
    np.testing.assert_allclose(values[:-1], expected[0, shown], rtol=1e-6)


def test_package_layout_signature_and_the_handler_it_ships(models, tmp_path):
    model = build_serving_model(models["in_out"], k=5)
    dataset = SageMakerModelArchiveDataset(str(tmp_path / "model.tar.gz"))
    dataset.save(
        ModelPackage(
            model=model,
            input_signature=INPUT_SIGNATURE,
            metadata={"candidate": "in_out", "k": 5},
            code={"inference.py": handler_source()},
        )
    )
    with tarfile.open(tmp_path / "model.tar.gz") as archive:
        names = archive.getnames()
        shipped = archive.extractfile("code/inference.py").read().decode("utf-8")
    assert names[0] == "metadata.json"  # first: read without decompressing the model
    assert {"1/saved_model.pb", "1/variables/variables.index", "code/inference.py"} <= set(names)
    # The handler the container runs is, byte for byte, the module the tests test.
    assert shipped == handler_source()
    extracted = dataset.load()
    assert extracted.metadata == {"candidate": "in_out", "k": 5}

    signature = tf.saved_model.load(str(extracted.saved_model)).signatures["serving_default"]
    assert list(signature.structured_input_signature[1]) == ["seed_track_ids"]
    assert signature.structured_input_signature[1]["seed_track_ids"].dtype == tf.string
    assert signature.structured_input_signature[1]["seed_track_ids"].shape.as_list() == [
        None,
        None,
    ]
    assert set(signature.structured_outputs) == {"track_ids", "scores"}


def test_the_exporting_tensorflow_is_the_serving_image_version():
    """SageMaker's newest TF Serving image is 2.20: what we export must be loadable there."""
    import yaml  # noqa: PLC0415

    from tests.conftest import PROJECT_ROOT  # noqa: PLC0415

    parameters = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_deployment.yml").read_text())
    image_version = parameters["deployment"]["sagemaker"]["framework_version"]
    assert tf.__version__.startswith(image_version + "."), (tf.__version__, image_version)


def test_recommend_command_answers_from_the_package_with_did_you_mean(
    models, tmp_path, capsys, monkeypatch
):
    from music_recsys.serving.recommend import main, parse_seeds  # noqa: PLC0415

    monkeypatch.setenv("MUSIC_RECSYS_CACHE", str(tmp_path / "cache"))
    model = build_serving_model(models["cooccurrence"], k=5)
    package = tmp_path / "model.tar.gz"
    write_package(models["cooccurrence"], package)
    assert parse_seeds(["A1", "t1", "A2|||t2"]) == ["A1|||t1", "A2|||t2"]
    with pytest.raises(ValueError, match="no track title"):
        parse_seeds(["A1"])

    assert main(["A1", "t1", "-k", "3", "--model", str(package)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["#", "artist", "track", "score"] and len(table) == 2 + 3
    expected = served(model, [["A1|||t1"]])["track_ids"].numpy()[0][:3]
    assert [line.split()[1] + "|||" + line.split()[2] for line in table[2:]] == [
        t.decode() for t in expected
    ]

    assert main(["a1", "T1x", "--model", str(package)]) == 0
    assert "Did you mean: 'A1|||t1'" in capsys.readouterr().err
    assert main(["A1", "t1", "--model", str(tmp_path / "missing.tar.gz")]) == 2


@pytest.mark.parametrize(
    "kind",
    [
        "most_popular",
        "cooccurrence",
        "transitions",
        "in_out",
        "knn_jaccard_sampled",
        "knn_idf",
        "ials",
        "blend",
    ],
)
def test_recommend_answers_from_the_cached_arrays_as_the_served_model(
    models, kind, tmp_path, capsys, monkeypatch
):
    """After the first call the package's arrays answer, without TensorFlow, and equal the
    SavedModel's answer; the cache is keyed by the archive's checksum."""
    from music_recsys.serving import package_cache  # noqa: PLC0415
    from music_recsys.serving.recommend import main  # noqa: PLC0415

    cache = tmp_path / "cache"
    monkeypatch.setenv("MUSIC_RECSYS_CACHE", str(cache))
    recommender = models[kind]
    package = tmp_path / "model.tar.gz"
    metadata = write_package(recommender, package).metadata
    requests = [["A1|||t1", "A2|||t2"], ["A3|||t3", "nobody|||nothing"], ["nobody|||nothing"]]
    answers = []
    for seeds in requests * 2:  # the first round fills the cache, the second reads it
        assert main([*seeds, "--model", str(package)]) == 0
        answers.append(capsys.readouterr().out)
    folder = package_cache.extracted(package)
    assert package_cache.has_arrays(folder)
    assert package_cache.rebuilds_from_arrays(metadata)
    rebuilt = package_cache.recommender(folder)
    assert type(rebuilt) is type(recommender)
    assert answers[:3] == answers[3:]
    for seeds, answer in zip(requests, answers[3:], strict=True):
        assert main([*seeds, "--model", str(package), "--serving-model"]) == 0
        assert capsys.readouterr().out == answer
    assert [p.name for p in cache.iterdir() if p.is_dir()] == [folder.name]
    package.write_bytes(package.read_bytes())  # a new modification time: checked again
    assert package_cache.extracted(package) == folder  # same bytes, same checksum


@pytest.mark.parametrize("kind", KINDS)
def test_the_model_answers_every_valid_tensor(models, kind):
    """[n, 0] (empty playlists) and all-padding rows are valid tensors: the most popular
    tracks, for every kind; an empty batch is an empty answer; seeds never come back."""
    recommender = models[kind]
    model = build_serving_model(recommender, k=5)
    popular = [t.encode() for t in recommender.index.track_ids[:5]]
    for tensor in (
        tf.zeros([2, 0], tf.string),
        tf.constant([["", ""], ["", ""]]),
        tf.constant([["nobody|||nothing", ""]]),
    ):
        ids = model(tensor)["track_ids"].numpy()
        assert ids.shape == (tensor.shape[0], 5)
        assert all(list(row) == popular for row in ids)
    assert model(tf.zeros([0, 2], tf.string))["track_ids"].shape == (0, 5)
    everything = recommender.index.track_ids.tolist()
    assert list(served(model, [everything * 3])["track_ids"].numpy()[0]) == [b""] * 5
    most = served(model, [everything[1:]])["track_ids"].numpy()[0]
    assert list(most) == [everything[0].encode(), b"", b"", b"", b""]


def test_parity_allows_only_swaps_of_equal_scores():
    from music_recsys.serving.parity import compare_rankings  # noqa: PLC0415

    want = [["a", "b", "c", "d"]] * 5
    scores = [np.array([3.0, 2.0, 2.0, 1.0])] * 5
    got = [
        ["a", "b", "c", "d"],  # identical
        ["a", "c", "b", "d"],  # b and c score the same: a swap
        ["a", "b", "c", "e"],  # d's last place goes to e with the same score: a swap
        ["b", "a", "c", "d"],  # a and b do not score the same: a mismatch
        ["a", "b", "c", "d"],
    ]
    got_scores = [*scores[:4], np.array([3.0, 2.0, 2.0, 1.5])]  # a score that differs
    mismatches, swaps = compare_rankings(want, scores, got, got_scores)
    assert mismatches == [3, 4] and swaps == [1, 2]
    assert (
        compare_rankings(want[:1], scores[:1], [["a", "b", "c", "d"]], [scores[0] * (1 + 1e-6)])[0]
        == []
    )


def test_a_large_catalog_takes_the_thresholded_top_k_and_still_ranks_exactly():
    """Above a few hundred tracks the served top K ranks only the entries at or above a
    threshold from a strided sample; ties (here: many equal vectors) still go to the lower
    index, as in the evaluation."""
    from music_recsys.core.catalog import TrackIndex  # noqa: PLC0415
    from music_recsys.kinds.embedding import Embedding  # noqa: PLC0415

    rng = np.random.default_rng(0)
    n = 5000
    vectors = rng.integers(-2, 3, size=(n, 4)).astype(np.float32)  # coarse: many equal scores
    index = TrackIndex(np.array([f"A|||t{i}" for i in range(n)], dtype=object), np.arange(n, 0, -1))
    recommender = Embedding(
        index,
        query_vectors=vectors,
        item_vectors=vectors,
        has_vector=np.ones(n, dtype=bool),
        scoring="in_out",
    )
    frame = pd.DataFrame(
        {
            "playlist_id": range(40),
            "query": [list(index.track_ids[rng.choice(n, size=3)]) for _ in range(40)],
            "target": "x",
        }
    )
    top = rank_targets(recommender, frame, EvaluationParams(k=(10,))).top
    expected = [index.track_ids[row[row >= 0]].tolist() for row in top]
    outputs = served(build_serving_model(recommender, 10), [list(q) for q in frame["query"]])
    assert [[t.decode() for t in row if t] for row in outputs["track_ids"].numpy()] == expected
