"""The sentence embedding model: loaded offline from its pinned package, checked, and faithful to upstream."""
import shutil
import zipfile

import numpy as np
import pytest

from kb.search import embedding

# sentence-transformers' own example for all-MiniLM-L6-v2 (its README): model.similarity of these three.
SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
REFERENCE = np.array([[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]])


@pytest.fixture(scope="module")
def archive():
    return embedding._archive_path(embedding.MINILM)


def similarities(model, texts):
    vectors = model.embed(texts)
    return vectors @ vectors.T


def test_the_graph_built_from_the_safetensors_reproduces_upstreams_similarities(tmp_path):
    fp32 = embedding.Embedder(embedding.MINILM, embedding.prepare(embedding.MINILM, tmp_path, quantize=False))
    assert np.abs(similarities(fp32, SENTENCES) - REFERENCE).max() < 5e-4


def test_the_int8_model_kb_serves_stays_close_to_upstream_and_keeps_its_order():
    model = embedding.load("all-MiniLM-L6-v2")  # the cache make setup built: no network, no rebuild
    sims = similarities(model, SENTENCES)
    assert np.abs(sims - REFERENCE).max() < 0.05
    assert sims[0, 1] > 0.5 > 0.2 > max(sims[0, 2], sims[1, 2])
    refund = model.embed(["my refund hasn't arrived", "How long do refunds take to reach my card?",
                          "Will my order arrive by Christmas?"])
    assert refund[0] @ refund[1] > refund[0] @ refund[2]  # the meaning, not the shared word "arrive"


def test_vectors_are_unit_length_and_independent_of_the_batch():
    model = embedding.load("all-MiniLM-L6-v2")
    texts = ["refund", "How long does shipping to Iceland take in December?" * 3, ""]
    together = model.embed(texts)
    alone = np.vstack([model.embed([t]) for t in texts])
    assert np.allclose(np.linalg.norm(together[:2], axis=1), 1.0, atol=1e-4)
    assert np.array_equal(together, alone)  # a text's vector never depends on what it is embedded with
    long = model.embed(["word " * 5000])  # truncated at the model's 256 tokens, not an error
    assert long.shape == (1, 384)


def test_a_file_that_does_not_match_upstream_is_refused_with_a_clear_reason(tmp_path, archive):
    doctored = tmp_path / "model.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(doctored, "w") as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "tokenizer.json":
                data = data.replace(b'"[UNK]"', b'"[UNK ]"', 1)
            out.writestr(item, data)
    with pytest.raises(embedding.ModelRefused, match=r"tokenizer.json of all-MiniLM-L6-v2 .* not upstream's"):
        embedding.prepare(embedding.MINILM, tmp_path / "cache", archive=doctored)
    assert not list((tmp_path / "cache").glob("*.onnx"))  # nothing built from it


def test_a_missing_file_or_package_or_unknown_model_is_refused(tmp_path, archive):
    partial = tmp_path / "partial.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(partial, "w") as out:
        for item in src.infolist():
            if item.filename != "config.json":
                out.writestr(item, src.read(item))
    with pytest.raises(embedding.ModelRefused, match="has no config.json"):
        embedding.read_files(embedding.MINILM, partial)
    missing = embedding.Spec(name="gone", package="kb_no_such_model_package", archive="model.zip", sha256={})
    with pytest.raises(embedding.ModelRefused, match="not installed"):
        embedding.read_files(missing)
    with pytest.raises(embedding.ModelRefused, match="unknown embedding model 'nope'"):
        embedding.load("nope")


def test_a_cached_tokenizer_that_was_altered_is_refused(tmp_path):
    graph = embedding.prepare(embedding.MINILM, tmp_path)
    tokenizer = next(tmp_path.glob("*.tokenizer.json"))
    shutil.copy(tokenizer, tmp_path / "saved")
    tokenizer.write_bytes(tokenizer.read_bytes().replace(b"[CLS]", b"[CLZ]", 1))
    with pytest.raises(embedding.ModelRefused, match="cached tokenizer"):
        embedding.Embedder(embedding.MINILM, graph)


def test_health_and_index_status_say_which_model_search_uses_or_why_it_is_lexical(app, client, runner, tmp_path):
    body = client.get("/api/v1/health").get_json()
    assert body["semantic"] == {"model": "all-MiniLM-L6-v2", "status": "ready", "reason": None}
    assert "model       all-MiniLM-L6-v2 (ready)" in runner.invoke(args=["index-status"]).output
    app.config["SEARCH_EMBEDDING_MODEL"] = "all-MiniLM-L12-v9"
    body = client.get("/api/v1/health").get_json()
    assert body["status"] == "degraded" and body["semantic"]["status"] == "refused"
    assert "unknown embedding model 'all-MiniLM-L12-v9'" in body["semantic"]["reason"]
    assert "search is lexical" in runner.invoke(args=["index-status"]).output
    app.config["SEARCH_EMBEDDING_MODEL"] = None
    body = client.get("/api/v1/health").get_json()
    assert body["status"] == "ok" and body["semantic"]["status"] == "off"
