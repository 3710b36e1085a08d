"""toyflow.checkpoint: safetensors round trip, atomic save, and one clear error for every bad file."""

from __future__ import annotations

import json
import os

import pytest
import torch
from conftest import TINY, make_flow
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from toyflow.checkpoint import FORMAT, CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from toyflow.model import CloudFlow, FlowConfig
from toyflow.reference import ReferenceConfig, ReferenceFlow

META = {"steps": 5, "mixture": {"s_fraction": 0.2}, "evaluation": {"s_fraction": 0.19, "valid": 0.93}}


@pytest.fixture
def saved(tmp_path, tiny_model):
    """A real checkpoint of a randomised tiny CloudFlow."""
    return save_checkpoint(tiny_model, tmp_path / "model.safetensors", **META)


def rewrite(src, dst, edit_meta=None, edit_tensors=None):
    """Copy a checkpoint with its toyflow metadata and/or tensors edited."""
    tensors = load_file(str(src))
    with safe_open(str(src), framework="pt") as f:
        metadata = dict(f.metadata())
    if edit_meta is not None:
        meta = json.loads(metadata["toyflow"])
        edit_meta(meta)
        metadata["toyflow"] = json.dumps(meta)
    if edit_tensors is not None:
        edit_tensors(tensors)
    save_file(tensors, str(dst), metadata=metadata)
    return dst


def assert_bad(path, *words):
    """Loading ``path`` fails with one CheckpointError that names the file (and the given words)."""
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, device="cpu")
    message = str(info.value)
    assert str(path) in message
    assert info.value.path == str(path)
    for word in words:
        assert word in message
    assert isinstance(info.value, ValueError)
    return message


def test_round_trip(saved, tiny_model):
    model, meta = load_checkpoint(saved, device="cpu")
    assert isinstance(model, CloudFlow) and model.config == tiny_model.config
    assert not model.training
    x = torch.randn(2, 50, 2)
    with torch.no_grad():
        assert torch.equal(model(x, 0.4), tiny_model(x, 0.4))
    for key, value in META.items():
        assert meta[key] == value
    assert meta["format"] == FORMAT and meta["config"] == TINY.to_dict()
    assert read_metadata(saved) == meta


def test_round_trip_of_the_reference_network(tmp_path):
    torch.manual_seed(0)
    ref = ReferenceFlow(ReferenceConfig(hidden=16, layers=2, num_points=20)).eval()
    path = save_checkpoint(ref, tmp_path / "ref.safetensors", steps=1)
    model, meta = load_checkpoint(path, device="cpu")
    assert isinstance(model, ReferenceFlow) and model.config == ref.config
    x = torch.randn(1, 20, 2)
    with torch.no_grad():
        assert torch.equal(model(x, 0.5), ref(x, 0.5))


def test_load_on_cpu(saved):
    model, _ = load_checkpoint(saved, device="cpu")
    assert all(p.device.type == "cpu" for p in model.parameters())
    model, _ = load_checkpoint(saved, device=torch.device("cpu"))
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_no_pickle_in_the_file(saved):
    head = saved.read_bytes()[:8]
    header_len = int.from_bytes(head, "little")
    header = json.loads(saved.read_bytes()[8 : 8 + header_len])
    assert "__metadata__" in header and "toyflow" in header["__metadata__"]


def test_save_is_atomic(tmp_path, tiny_model):
    path = tmp_path / "sub" / "model.safetensors"
    save_checkpoint(tiny_model, path, steps=1)
    save_checkpoint(make_flow(TINY, seed=9), path, steps=2)  # overwrite in place
    assert sorted(os.listdir(path.parent)) == ["model.safetensors"]
    assert read_metadata(path)["steps"] == 2
    # a save that fails half-way leaves the old file intact and no temporary file behind
    with pytest.raises(TypeError):
        save_checkpoint(tiny_model, path, steps=object())
    assert sorted(os.listdir(path.parent)) == ["model.safetensors"]
    assert read_metadata(path)["steps"] == 2


def test_truncated_file(saved, tmp_path):
    data = saved.read_bytes()
    half = tmp_path / "half.safetensors"
    half.write_bytes(data[: len(data) // 2])
    assert_bad(half, "not a readable safetensors file")
    nearly = tmp_path / "nearly.safetensors"
    nearly.write_bytes(data[:-4])
    assert_bad(nearly, "not a readable safetensors file")
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    assert_bad(empty, "not a readable safetensors file")


def test_weights_of_another_width(saved, tmp_path):
    def wider(meta):
        meta["config"]["width"] = 32

    path = rewrite(saved, tmp_path / "wider.safetensors", edit_meta=wider)
    assert_bad(path, "tensor 'embed.weight' has shape (16, 34), expected (32, 34)")


def test_checkpoint_from_before_the_class_heads(tmp_path):
    # files written before FlowConfig.class_heads existed hold a one-head network and no such key
    old = make_flow(FlowConfig(width=16, depth=1, time_freqs=8, class_heads=False))
    path = save_checkpoint(old, tmp_path / "old.safetensors")

    def drop_key(meta):
        del meta["config"]["class_heads"]

    legacy = rewrite(path, tmp_path / "legacy.safetensors", edit_meta=drop_key)
    model, _ = load_checkpoint(legacy, device="cpu")
    assert not model.config.class_heads
    x = torch.randn(2, 10, 2)
    torch.testing.assert_close(model(x, 0.5), old(x, 0.5))


def test_class_heads_flag_must_match_the_weights(saved, tmp_path):
    def no_heads(meta):
        meta["config"]["class_heads"] = False

    assert_bad(
        rewrite(saved, tmp_path / "flag.safetensors", edit_meta=no_heads), "missing [], unexpected ['gate.0.bias'"
    )


def test_weights_of_another_depth(saved, tmp_path):
    def deeper(meta):
        meta["config"]["depth"] = 2

    path = rewrite(saved, tmp_path / "deeper.safetensors", edit_meta=deeper)
    assert_bad(path, "missing ['blocks.1.mlp.0.bias'", "unexpected [])")


def test_checkpoint_of_another_architecture(tmp_path):
    ref = ReferenceFlow(ReferenceConfig(hidden=16, layers=1, num_points=20))
    src = save_checkpoint(ref, tmp_path / "ref.safetensors")

    def claim_cloudflow(meta):
        meta["config"]["arch"] = "cloudflow"

    assert_bad(
        rewrite(src, tmp_path / "a.safetensors", edit_meta=claim_cloudflow), "metadata 'config.width' is missing"
    )

    def claim_cloudflow_config(meta):
        meta["config"] = FlowConfig(width=16, depth=1).to_dict()

    assert_bad(
        rewrite(src, tmp_path / "b.safetensors", edit_meta=claim_cloudflow_config),
        "weights do not match its configuration (missing ['blocks.0.mlp.0.bias'",
        "unexpected ['linears.0.weight'",
    )

    def unknown(meta):
        meta["config"]["arch"] = "transformer"

    assert_bad(
        rewrite(src, tmp_path / "c.safetensors", edit_meta=unknown),
        "metadata 'config.arch' must be one of 'cloudflow', 'reference', got 'transformer'",
    )


def test_not_a_safetensors_file(tmp_path):
    noise = tmp_path / "random.safetensors"
    noise.write_bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0)).byte().numpy())
    assert_bad(noise, "not a readable safetensors file")
    text = tmp_path / "notes.safetensors"
    text.write_text("these are not the weights you are looking for\n")
    assert_bad(text, "not a readable safetensors file")
    pickled = tmp_path / "model.pt"
    torch.save(CloudFlow(TINY).state_dict(), pickled)
    assert_bad(pickled, "not a readable safetensors file")


def test_safetensors_without_toyflow_metadata(tmp_path):
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(3)}, str(plain))
    says = "a safetensors file, but not a toyflow checkpoint (no 'toyflow' metadata)"
    assert_bad(plain, says)
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, str(other), metadata={"format": "pt"})
    assert_bad(other, says)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("{not json", "its metadata is not valid JSON"),
        (
            json.dumps({"format": "toyflow/999", "config": TINY.to_dict()}),
            f"metadata 'format' is 'toyflow/999', a format this toyflow does not read (it reads '{FORMAT}')",
        ),
        (json.dumps({"format": FORMAT}), "metadata 'config' is missing"),
        (
            json.dumps({"format": FORMAT, "config": "cloudflow"}),
            "metadata 'config' must be a JSON object, got 'cloudflow'",
        ),
        (  # a network of billions of weights is refused in words before it is built
            json.dumps({"format": FORMAT, "config": {**TINY.to_dict(), "width": 100000}}),
            "metadata 'config.width' must be at most 512, got 100000",
        ),
        (
            json.dumps({"format": FORMAT, "config": {**TINY.to_dict(), "depth": 1000}}),
            "metadata 'config.depth' must be at most 16, got 1000",
        ),
        (
            json.dumps({"format": FORMAT, "config": {**ReferenceConfig().to_dict(), "num_points": 10**6}}),
            "metadata 'config.num_points' must be at most 2048, got 1000000",
        ),
        (
            json.dumps({"format": FORMAT, "config": {"arch": "cloudflow", "width": -4}}),
            "metadata 'config.width' must be at least 1, got -4",
        ),
        (json.dumps([1, 2, 3]), "metadata must be a JSON object, got [1, 2, 3]"),
        ("null", "metadata must be a JSON object, got None"),
    ],
)
def test_bad_toyflow_metadata(saved, tmp_path, raw, words):
    path = tmp_path / "bad_meta.safetensors"
    save_file(load_file(str(saved)), str(path), metadata={"toyflow": raw})
    assert_bad(path, words)


def test_missing_file(tmp_path):
    assert_bad(tmp_path / "nowhere.safetensors", "no such file")
    with pytest.raises(CheckpointError, match="nowhere"):
        read_metadata(tmp_path / "nowhere.safetensors")


@pytest.mark.parametrize("path", ["folder", "/dev/null"])
def test_a_folder_or_a_device_is_not_a_checkpoint(tmp_path, path):
    if path == "folder":
        path = tmp_path / "a.safetensors"
        path.mkdir()
    assert_bad(path, "not a regular file (a folder, a pipe or a device)")


@pytest.mark.parametrize(
    ("key", "named"),
    [
        ("colour", "'config.colour'"),
        ("a\nb", "config['a\\nb']"),
        ("x" * 300, "config['xxxxxxxx"),
        ("two words", "config['two words']"),
    ],
)
def test_an_unknown_field_is_named_on_one_line(saved, tmp_path, key, named):
    """A field toyflow does not know is named in the message as it is, or by its cut repr where it is no plain word
    (a newline in a key once broke the message over two lines)."""
    path = tmp_path / "odd_key.safetensors"
    meta = {"format": FORMAT, "config": {**TINY.to_dict(), key: 1}}
    save_file(load_file(str(saved)), str(path), metadata={"toyflow": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="is not a field toyflow knows") as e:
        load_checkpoint(path)
    message = str(e.value)
    assert named in message and "\n" not in message and len(message) < len(str(path)) + 200


def test_non_finite_weights_are_neither_saved_nor_loaded(saved, tmp_path):
    tensors = load_file(str(saved))
    tensors["blocks.0.mlp.0.weight"][0, 0] = float("nan")
    path = tmp_path / "nan.safetensors"
    save_file(tensors, str(path), metadata={"toyflow": json.dumps(read_metadata(saved))})
    assert_bad(path, "tensor 'blocks.0.mlp.0.weight' has non-finite values (NaN or infinity)")
    model, _ = load_checkpoint(saved, device="cpu")
    with torch.no_grad():
        model.out.bias[1] = float("inf")
    with pytest.raises(ValueError, match="^the checkpoint would not load: tensor 'out.bias' has non-finite values$"):
        save_checkpoint(model, tmp_path / "inf.safetensors")
    assert not (tmp_path / "inf.safetensors").exists()


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"seed": -1}, "'seed' must be an integer from 0 to 2\\*\\*63 - 1, got -1"),
        ({"steps": "many"}, "'steps' must be an integer"),
        ({"sampler": {"method": "rk4", "steps": 4}}, "'sampler.method' must be one of"),
    ],
)
def test_metadata_the_loader_would_refuse_is_not_saved(tiny_model, tmp_path, metadata, message):
    with pytest.raises(ValueError, match=f"^the checkpoint would not load: metadata {message}"):
        save_checkpoint(tiny_model, tmp_path / "a.safetensors", **metadata)
    assert list(tmp_path.iterdir()) == []
